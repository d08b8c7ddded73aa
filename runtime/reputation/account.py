"""SES account state per region (SESv2 ``GetAccount``): production access, sending enabled, quotas — and the check
that refuses a campaign launch into a region where SES will not deliver it (sandbox, sending disabled)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class SendingBlockedError(RuntimeError):
    """SES in this region cannot send the campaign (sandbox or sending disabled): refused before anything is sent."""


class AccountUnavailableError(RuntimeError):
    """GetAccount failed: sesame does not know the account's limits (an error, never a silent default)."""


@dataclass(frozen=True, slots=True)
class AccountStatus:
    region: str
    production_access: bool
    sending_enabled: bool
    enforcement_status: str
    max_send_rate: float
    max_24h_send: float
    sent_last_24h: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "production_access": self.production_access,
            "sending_enabled": self.sending_enabled,
            "enforcement_status": self.enforcement_status,
            "max_send_rate": self.max_send_rate,
            "max_24h_send": self.max_24h_send,
            "sent_last_24h": self.sent_last_24h,
        }

    def blocked_reason(self) -> str:
        if not self.sending_enabled:
            return (
                f"SES sending is disabled for the account in {self.region} (enforcement status "
                f"{self.enforcement_status or 'unknown'}); nothing would be delivered"
            )
        if not self.production_access:
            return (
                f"the SES account in {self.region} is in the sandbox (no production access): it may only send to "
                "verified addresses; request production access before launching a campaign"
            )
        return ""


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", "")) or type(exc).__name__
    return type(exc).__name__


def read_account(client: Any, region: str) -> AccountStatus:
    """GetAccount, parsed; raises :class:`AccountUnavailableError` naming the region and the error code."""
    try:
        answer = client.get_account()
    except Exception as exc:
        raise AccountUnavailableError(f"SES GetAccount failed in {region} ({_code(exc)})") from exc
    quota = answer.get("SendQuota") or {}
    return AccountStatus(
        region=region,
        production_access=bool(answer.get("ProductionAccessEnabled", False)),
        sending_enabled=bool(answer.get("SendingEnabled", False)),
        enforcement_status=str(answer.get("EnforcementStatus", "") or ""),
        max_send_rate=float(quota.get("MaxSendRate", 0) or 0),
        max_24h_send=float(quota.get("Max24HourSend", 0) or 0),
        sent_last_24h=float(quota.get("SentLast24Hours", 0) or 0),
    )


def sending_gate(ses: Callable[[str], Any], region: str) -> Callable[[], None]:
    """The check a campaign launch runs first: raises :class:`SendingBlockedError` (sandbox, sending disabled) or
    :class:`AccountUnavailableError` (GetAccount failed) for the primary sending region."""

    def check() -> None:
        status = read_account(ses(region), region)
        reason = status.blocked_reason()
        if reason:
            raise SendingBlockedError(reason)

    return check
