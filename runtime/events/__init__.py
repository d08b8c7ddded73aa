"""SES event models (wire format) and the normalised event the ingest engine applies."""

from __future__ import annotations

from runtime.events.models import CRITICAL_TYPES, ENGAGEMENT_TYPES, EVENT_TYPES
from runtime.events.normalize import EventParseError, NormalizedEvent, event_from_message, normalize, parse_record

__all__ = [
    "CRITICAL_TYPES",
    "ENGAGEMENT_TYPES",
    "EVENT_TYPES",
    "EventParseError",
    "NormalizedEvent",
    "event_from_message",
    "normalize",
    "parse_record",
]
