"""Property: any interleaving, duplication and batching of one message's events gives the same summary, counters
and suppression state as applying each event once, in order — every timestamp and TTL attribute included:
summaries (``first_/last_<type>_at``, ``campaign_sk``, ``expires_at``), campaign counters (``first_event_at`` the
minimum, ``last_event_at`` and ``expires_at`` the maximum), suppressions (``created_at``, ``updated_at``,
``expires_at``) and the soft-bounce counter (``last_delivery_at``, ``expires_at``)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime.events.normalize import NormalizedEvent
from runtime.ingest import IngestEngine, InMemoryTrackingStore
from tests.support.ingest import ses_event

EXAMPLES = 300
TIMES = [f"2024-06-20T0{h}:00:00.000Z" for h in range(1, 6)]  # few distinct times: ties happen


@st.composite
def message_events(draw: st.DrawFn) -> list[NormalizedEvent]:
    """One message's events as SES can publish them: either delivered (then maybe opened, clicked, complained) or
    bounced (once, of any type), plus the send, delays, rejections, rendering failures, subscription changes and
    unknown types, with timestamps drawn from a few values so that ties happen."""
    campaign = draw(st.sampled_from([None, "spring"]))
    specs: list[tuple[str, dict[str, Any]]] = [("Send", {})] * draw(st.integers(0, 1))
    outcome = draw(st.sampled_from(["none", "delivered", "bounced"]))
    if outcome == "delivered":
        specs.append(("Delivery", {}))
        specs += [("Open", {"nonce": f"o{i}"}) for i in range(draw(st.integers(0, 3)))]
        specs += [("Click", {"nonce": f"c{i}"}) for i in range(draw(st.integers(0, 2)))]
        specs += [("Complaint", {})] * draw(st.integers(0, 1))
    elif outcome == "bounced":
        bounce_type = draw(st.sampled_from(["Permanent", "Transient", "Undetermined"]))
        specs.append(("Bounce", {"bounce_type": bounce_type}))
    for event_type in ("DeliveryDelay", "Reject", "Rendering Failure", "Subscription", "FutureThing"):
        specs += [(event_type, {})] * draw(st.integers(0, 1))
    links = ["https://x/1", "https://x/2"]
    return [
        ses_event(
            event_type,
            ts=draw(st.sampled_from(TIMES)),
            campaign=campaign,
            link=draw(st.sampled_from(links)),
            unsubscribe_all=draw(st.booleans()),
            **kwargs,
        )
        for event_type, kwargs in specs
    ]


def apply_all(batches: list[list[NormalizedEvent]]) -> InMemoryTrackingStore:
    store = InMemoryTrackingStore()
    engine = IngestEngine(store, soft_bounce_limit=1, sleep=lambda _: None)  # one soft bounce suppresses
    for batch in batches:
        result = engine.apply(batch)
        assert not result.failed
    return store


TIME_AND_TTL = ("first_event_at", "last_event_at", "expires_at")


def state(store: InMemoryTrackingStore) -> dict[str, Any]:
    summaries = {mid: {k: v for k, v in item.items() if k != "version"} for mid, item in store.messages.items()}
    counters = {
        key: {k: v for k, v in item.items() if isinstance(v, int) or k in TIME_AND_TTL}
        for key, item in store.campaigns.items()
        if key[1] != "META"
    }
    for item in counters.values():
        assert set(TIME_AND_TTL) <= set(item), "every counter item carries its first/last event time and TTL"
    suppressions = {key: item for key, item in store.suppressions.items() if key[1] != "SOFTBOUNCE"}
    softbounce = {
        key[0]: (
            item.get("count", 0),
            frozenset(item.get("bounces", ())),
            item.get("last_delivery_at"),
            item.get("expires_at"),
        )
        for key, item in store.suppressions.items()
        if key[1] == "SOFTBOUNCE" and item.get("count")
    }
    # each summary carries its history (entries in time order), so comparing summaries compares histories too
    return {
        "summaries": summaries,
        "counters": counters,
        "suppressions": suppressions,
        "softbounce": softbounce,
    }


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), events=message_events())
def test_any_interleaving_duplication_and_batching_gives_the_in_order_result(data, events):
    in_order = sorted(events, key=lambda e: (e.timestamp, e.event_id))
    expected = state(apply_all([[e] for e in in_order]))

    copies = [e for e in events for _ in range(data.draw(st.integers(1, 3)))]
    shuffled = data.draw(st.permutations(copies))
    batches: list[list[NormalizedEvent]] = []
    i = 0
    while i < len(shuffled):
        size = data.draw(st.integers(1, 6))
        batches.append(list(shuffled[i : i + size]))
        i += size
    assert state(apply_all(batches)) == expected
