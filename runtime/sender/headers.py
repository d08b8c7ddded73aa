"""RFC 2369 / RFC 8058 unsubscribe headers for every marketing send.

``List-Unsubscribe`` carries an HTTPS URL with a signed token (``runtime.tokens``; the unsubscribe endpoint
verifies it) and optionally a ``mailto:``; ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` tells mailbox
providers that a POST to that URL unsubscribes without further interaction (RFC 8058 section 3.1). The headers
must be covered by the DKIM signature, which SES's Easy DKIM does for every header it is given.

One token identifies one recipient, so a message sesame adds ``List-Unsubscribe`` to must have exactly one
recipient (To + Cc + Bcc): a message to several would give every one of them a link that unsubscribes the first.
Such a message is refused (:func:`several_recipients_problem`), never split: splitting would change what the
recipients see (who else it went to) and what the producer is billed. A producer that sets its own
``List-Unsubscribe`` keeps its message as it is.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

from runtime.tokens import Scope, TokenSigner

LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
ONE_CLICK = "List-Unsubscribe=One-Click"
MAX_HEADER_VALUE = 995


class HeaderError(ValueError):
    """The unsubscribe headers cannot be built (misconfiguration: the message names the setting)."""


# A plain slotted class, not a dataclass: built at import by every sender cold start, where a dataclass compiles its
# generated methods (~0.3-0.5 ms a class). Not compared or hashed.
class UnsubscribeHeaders:
    """Builds the two headers for one recipient."""

    __slots__ = ("base_url", "mailto", "signer")

    def __init__(self, signer: TokenSigner, base_url: str, mailto: str = "") -> None:
        if not (base_url.startswith("https://") or _is_loopback_http(base_url)):
            raise HeaderError("SESAME_UNSUBSCRIBE_BASE_URL must be an https:// URL (RFC 8058 one-click needs HTTPS)")
        self.signer = signer
        self.base_url = base_url
        self.mailto = mailto

    def url(self, recipient_hash: str, *, campaign_id: str | None, list_name: str | None) -> str:
        scope: Scope = "list" if list_name else "all"
        token = self.signer.issue(recipient_hash, scope, campaign_id=campaign_id, list_name=list_name)
        return f"{self.base_url.rstrip('/')}/unsubscribe?token={token}"

    def build(
        self,
        recipient_hash: str,
        *,
        campaign_id: str | None,
        list_name: str | None,
        recipients: Sequence[str] = (),
    ) -> list[dict[str, str]]:
        """``[{Name, Value}]`` in SES ``MessageHeader`` form; HeaderError when ``recipients`` (the message's To + Cc +
        Bcc, when given) are more than the one person the token names."""
        problem = several_recipients_problem(recipients)
        if problem:
            raise HeaderError(problem)
        targets = [f"<{self.url(recipient_hash, campaign_id=campaign_id, list_name=list_name)}>"]
        if self.mailto:
            address = self.mailto.removeprefix("mailto:")
            targets.append(f"<mailto:{address}?subject={quote('unsubscribe')}>")
        value = ", ".join(targets)
        if len(value) > MAX_HEADER_VALUE:
            raise HeaderError("List-Unsubscribe would exceed SES's 995-character header limit")
        return [{"Name": LIST_UNSUBSCRIBE, "Value": value}, {"Name": LIST_UNSUBSCRIBE_POST, "Value": ONE_CLICK}]


def _is_loopback_http(url: str) -> bool:
    """Plain http is accepted only for this machine (the local stack's ``chalice local``), never for real mail."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}


def has_header(headers: list[dict[str, str]] | None, name: str) -> bool:
    return any(h["Name"].lower() == name.lower() for h in headers or [])


def several_recipients_problem(recipients: Sequence[str]) -> str | None:
    """Why a message to these recipients cannot get sesame's List-Unsubscribe, or None (one person)."""
    people = {address.strip().lower() for address in recipients if address.strip()}
    if len(people) <= 1:
        return None
    return (
        f"BadRequest: {len(people)} recipients in one message; a one-click List-Unsubscribe link unsubscribes one "
        "person, so sesame sends one recipient per message (one SendBulkEmail entry or one line each), or set "
        "your own List-Unsubscribe header"
    )


def producer_list_unsubscribe(headers: list[dict[str, str]] | None, raw_b64: str | None = None) -> bool:
    """True when the producer set its own List-Unsubscribe (message headers, or the MIME of a Raw message)."""
    if has_header(headers, LIST_UNSUBSCRIBE):
        return True
    if raw_b64 is None:
        return False
    mime = base64.b64decode(raw_b64)
    head, sep, _ = mime.partition(b"\r\n\r\n")
    if not sep:
        head, _, _ = mime.partition(b"\n\n")
    present = {line.split(b":", 1)[0].strip().lower() for line in head.splitlines() if b":" in line}
    return LIST_UNSUBSCRIBE.lower().encode() in present


def merge_headers(existing: list[dict[str, str]] | None, extra: list[dict[str, str]]) -> list[dict[str, str]]:
    """The producer's headers plus ours; a producer's own List-Unsubscribe is kept (theirs wins)."""
    merged = list(existing or [])
    if has_header(merged, LIST_UNSUBSCRIBE):
        return merged
    merged.extend(h for h in extra if not has_header(merged, h["Name"]))
    return merged


def inject_raw_headers(raw_b64: str, extra: list[dict[str, str]]) -> str:
    """Prepend headers to a base64 MIME message (Raw content has no ``Headers`` member); returns base64."""
    if producer_list_unsubscribe(None, raw_b64):
        return raw_b64
    mime = base64.b64decode(raw_b64)
    head, sep, _ = mime.partition(b"\r\n\r\n")
    if not sep:
        head, _, _ = mime.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    prefix = b"".join(f"{h['Name']}: {h['Value']}".encode("ascii") + newline for h in extra)
    return base64.b64encode(prefix + mime).decode("ascii")
