"""Physical names from docs/DESIGN.md's naming table: the Chalice app and the local stack rely on them."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.stores.tables import TABLES


@dataclass(frozen=True)
class Names:
    environment: str
    region: str

    @property
    def prefix(self) -> str:
        return f"sesame-{self.environment}"

    @property
    def stage(self) -> str:
        return f"{self.environment}-{self.region}"

    def table(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    def tables(self) -> dict[str, str]:
        return {spec.logical: spec.physical_name(self.environment) for spec in TABLES}

    def queue(self, logical: str) -> str:
        """``critical``, ``engagement``, ``send``, ``forward``; the DLQ is ``<name>-dlq``."""
        return f"{self.prefix}-{logical}"

    def dlq(self, logical: str) -> str:
        return f"{self.prefix}-{logical}-dlq"

    @property
    def event_topic(self) -> str:
        """The engagement event topic (Send, Delivery, Open, Click, DeliveryDelay): the name the single event topic
        had before the critical types got their own (an existing stack keeps it)."""
        return f"{self.prefix}-ses-events"

    @property
    def critical_event_topic(self) -> str:
        """The critical event topic (Bounce, Complaint, Reject, Rendering Failure, Subscription)."""
        return f"{self.prefix}-ses-critical-events"

    @property
    def alarm_topic(self) -> str:
        return f"{self.prefix}-alarms"

    def configuration_set(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    @property
    def secrets_parameter(self) -> str:
        return f"/sesame/{self.environment}/app-secrets"

    def campaign_bucket(self, account_id: str) -> str:
        return f"{self.prefix}-{self.region}-campaigns-{account_id}"

    def archive_bucket(self, account_id: str) -> str:
        # at most 7 + 16 + 1 + 14 + 9 + 12 = 59 characters (S3 allows 63)
        return f"{self.prefix}-{self.region}-archive-{account_id}"

    def function(self, logical: str) -> str:
        """The Lambda function of ``logical`` (``api``, ``sender``, ``critical_events``, ...): regional name."""
        return f"{self.prefix}-{logical.replace('_', '-')}"

    def function_role(self, logical: str) -> str:
        """IAM names are account-wide: the role carries the region too (<= 64 characters)."""
        return f"{self.prefix}-{self.region}-{logical.replace('_', '-')}"

    def log_group(self, logical: str) -> str:
        return f"/aws/lambda/{self.function(logical)}"

    @property
    def api(self) -> str:
        return self.prefix

    @property
    def campaign_schedule(self) -> str:
        return f"{self.prefix}-check-for-campaign"

    def ip_pool(self, logical: str) -> str:
        return f"{self.prefix}-{logical}"

    @property
    def dashboard(self) -> str:
        return f"{self.prefix}-{self.region}"

    @property
    def archive_stream(self) -> str:
        return f"{self.prefix}-events-archive"
