"""Message tags as SES accepts them (seed 002's ``formatCampaignTag``).

SES tag names and values may contain only ASCII letters, digits, ``_`` and ``-`` and be at most 256 characters;
anything else makes the send fail. sesame replaces every other character with ``_`` and always attaches
``campaign_id`` and ``list_name`` so events can be attributed.
"""

from __future__ import annotations

from collections.abc import Iterable

from runtime.stores.schema import MAX_NAME_LENGTH, canonical_name

MAX_TAG_LENGTH = MAX_NAME_LENGTH
CAMPAIGN_TAG = "campaign_id"
LIST_TAG = "list_name"


def format_tag(value: str | None) -> str:
    """Sanitise one tag name or value: disallowed characters become ``_``, at most 256 characters. The same form is
    the canonical campaign id / list name everywhere (``runtime.stores.schema.canonical_name``)."""
    return canonical_name(value)


def sanitise_tags(
    tags: Iterable[tuple[str, str]], *, campaign_id: str | None, list_name: str | None
) -> list[dict[str, str]]:
    """SES ``MessageTag`` list: the producer's tags sanitised (last one wins per name) plus ``campaign_id`` and
    ``list_name`` (which override any producer tag of the same name)."""
    result: dict[str, str] = {}
    for name, value in tags:
        result[format_tag(name)] = format_tag(value)
    result[CAMPAIGN_TAG] = format_tag(campaign_id)
    result[LIST_TAG] = format_tag(list_name)
    return [{"Name": name, "Value": value} for name, value in result.items()]
