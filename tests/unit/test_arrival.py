"""producers.arrival and the demo's events: delivered the way real sources deliver them."""

from __future__ import annotations

from typing import Any

from cli.demo import demo_events
from producers.arrival import HOUR, arrival_order, out_of_order


def ev(source: str, at: int) -> dict[str, Any]:
    return {"envelope": {"source": source, "occurred_at": at, "event_id": f"{source}-{at}"}}


def test_late_sources_arrive_after_what_happened_later() -> None:
    """A call (logged 1-30 min after it ended) and a CRM row (1-12 h late) arrive after web hits
    that happened later than they did."""
    minute = 60_000
    crm, call = ev("crm", 0), ev("call_tracking", 0)
    web_31m, web_13h = ev("web", 31 * minute), ev("web", 13 * HOUR)
    for seed in range(20):
        order = arrival_order([crm, web_13h, web_31m, call], seed)
        assert order == [call, web_31m, crm, web_13h]
        assert out_of_order(order) == 1  # the CRM row of time 0 after the web hit at 31 min
    assert arrival_order([crm, call, web_31m], 5) == arrival_order([crm, call, web_31m], 5)


def test_malformed_events_do_not_break_the_order() -> None:
    junk: list[Any] = [None, {"envelope": "x"}, {"envelope": {"occurred_at": "soon"}}]
    assert len(arrival_order([*junk, ev("web", 5)], seed=3)) == 4


def test_the_demo_timeline_ends_before_now_and_arrives_out_of_order() -> None:
    now = 1_900_000_000_000
    events = demo_events(20, 7, now_ms=now)
    times = [
        e["envelope"]["occurred_at"]
        for e in events
        if isinstance(e, dict)
        and isinstance(e.get("envelope"), dict)
        and isinstance(e["envelope"].get("occurred_at"), int)
    ]
    assert max(times) == now - HOUR
    assert out_of_order(events) > 0
