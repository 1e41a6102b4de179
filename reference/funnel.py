"""The booking funnel and booking outcomes (sinks/sql/queries/booking_funnel.sql,
booking_outcomes.sql), per client in event time. Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reference.selection import (
    BOOKING,
    STEPS_ALL,
    Event,
    in_range,
    location_ok,
    param,
    service_ok,
)
from reference.touches import event_time_sessions, own_channel


def _bd_value(e: Event, breakdown: str) -> str:
    def first(field: str) -> str:
        return next((x[field] for x in e["lines"] if x[field]), "")

    return {
        "store": lambda: first("store_id"),
        "service": lambda: first("service_id"),
        "resource": lambda: first("resource_id"),
        "device": lambda: e["device_type"],
        "": lambda: "all",
    }[breakdown]()


def _clients(
    events: list[Event], p: dict[str, Any], types: set[str] | None
) -> dict[str, list[Event]]:
    by: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e["family"] != BOOKING or (types is not None and e["event_type"] not in types):
            continue
        if p["account"] and e["account_id"] != p["account"]:
            continue
        if in_range(e, p["from"], p["to"]):
            by[e["client_id"]].append(e)
    out = {}
    for client, evs in by.items():
        if any(location_ok(e, p["location"]) for e in evs) and any(
            service_ok(e, p["service"]) for e in evs
        ):
            out[client] = sorted(evs, key=lambda e: (e["occurred_at"], e["event_id"]))
    return out


CHOSEN_IN_WIDGET = ("store", "service", "resource")


def _first_step(steps: list[str], breakdown: str) -> int:
    """0-based index of the funnel's first step: where the breakdown's value is chosen."""
    if breakdown == "resource":
        return steps.index("appointment_booking_step_resources")
    if breakdown in CHOSEN_IN_WIDGET:
        return steps.index("appointment_booking_step_stores_and_services")
    return 0


def _breakdown_of(evs: list[Event], breakdown: str, visits: dict[str, str]) -> str:
    if breakdown in VISIT_BREAKDOWNS:
        return visits.get(evs[0]["client_id"]) or "(none)"
    return next((v for e in evs if (v := _bd_value(e, breakdown))), "(none)")


VISIT_BREAKDOWNS = ("channel", "campaign")


def booking_visits(events: list[Event], p: dict[str, Any]) -> dict[str, str]:
    """Client -> the channel (or campaign) of their booking visit: the event-time session in
    progress at their first booking event in the range (latest session start at or before it, by
    time then event id); no entry when they have no web hit by then."""
    if p["breakdown"] not in VISIT_BREAKDOWNS:
        return {}
    first: dict[str, Event] = {}
    for e in events:
        if e["family"] != BOOKING or not in_range(e, p["from"], p["to"]):
            continue
        if p["account"] and e["account_id"] != p["account"]:
            continue
        f = first.get(e["client_id"])
        if f is None or (e["occurred_at"], e["event_id"]) < (f["occurred_at"], f["event_id"]):
            first[e["client_id"]] = e
    timeout = param(p, "session_timeout_minutes") * 60_000
    starts: dict[str, dict[str, Event]] = defaultdict(dict)
    for _, _, start in event_time_sessions(events, timeout).values():
        starts[start["client_id"]][start["event_id"]] = start
    out = {}
    for client, step in first.items():
        before = [
            s
            for s in starts.get(client, {}).values()
            if (s["occurred_at"], s["event_id"]) <= (step["occurred_at"], step["event_id"])
        ]
        if before:
            visit = max(before, key=lambda s: (s["occurred_at"], s["event_id"]))
            value = own_channel(visit) if p["breakdown"] == "channel" else visit["utm_campaign"]
            out[client] = value or ""
    return out


def funnel_level(stamps: list[tuple[int, int]], n: int, window_ms: int, strict: bool) -> int:
    """Highest k such that steps 1..k occur in order within window_ms of the step-1 event.
    Non-strict: any subsequence. Strict: scanning in time order, the funnel ends at the first
    step seen whose previous step has not been reached yet (since the latest start)."""
    best = 0
    if not strict:
        for i, (t0, s0) in enumerate(stamps):
            if s0 != 1:
                continue
            level, want = 1, 2
            for t, s in stamps[i + 1 :]:
                if t - t0 > window_ms:
                    break
                if s == want:
                    level, want = want, want + 1
            best = max(best, level)
        return min(best, n)
    reached: dict[int, int] = {}  # step -> start time of the chain that reached it
    started = False
    for t, s in stamps:
        if s == 1:
            reached[1] = t
            started = True
        elif started and (s - 1) not in reached:
            return next(k for k in range(1, n + 1) if k not in reached) - 1
        elif (s - 1) in reached and t <= reached[s - 1] + window_ms:
            reached[s] = reached[s - 1]
            if s == n:
                return n
    return max(reached, default=0)


def booking_funnel(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    steps = STEPS_ALL if p["profiles"] else [s for s in STEPS_ALL if not s.endswith("profiles")]
    n = len(steps)
    first = _first_step(steps, p["breakdown"])
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    visits = booking_visits(events, p)
    for evs in _clients(events, p, set(steps)).values():
        stamps = [(e["occurred_at"], steps.index(e["event_type"]) + 1) for e in evs]
        level = funnel_level(stamps, n, p["window_ms"], bool(p["strict"]))
        bd = _breakdown_of(evs, p["breakdown"], visits)
        if bd == "(none)" and p["breakdown"] in CHOSEN_IN_WIDGET:
            continue  # left before choosing a store / service / resource
        row = counts[bd]
        for k in range(level):
            row[k] += 1
    out = []
    for bd in sorted(counts):
        row = counts[bd]
        for k in range(first, n):
            prev = row[k - 1] if k > first else row[first]
            out.append(
                (
                    bd,
                    k + 1,
                    steps[k],
                    row[k],
                    round(row[k] / prev, 6) if prev else 0,
                    round(row[k] / row[first], 6) if row[first] else 0,
                    prev - row[k],
                )
            )
    return out


def nearest_rank(sorted_values: list[int], pct: int) -> int:
    return sorted_values[-(-pct * len(sorted_values) // 100) - 1]


def booking_outcomes(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    groups: dict[str, list[list[Event]]] = defaultdict(list)
    visits = booking_visits(events, p)
    for evs in _clients(events, p, None).values():
        bd = _breakdown_of(evs, p["breakdown"], visits)
        if bd != "(none)" or p["breakdown"] not in CHOSEN_IN_WIDGET:
            groups[bd].append(evs)
    out = []
    for bd in sorted(groups):
        started = succeeded = failed = 0
        ttc: list[int] = []
        for evs in groups[bd]:
            types = [e["event_type"] for e in evs]
            starts = [e["occurred_at"] for e in evs if e["event_type"] == STEPS_ALL[0]]
            started += bool(starts)
            succeeded += STEPS_ALL[-1] in types
            failed += "appointment_booking_step_failed" in types
            if starts:
                succ = [
                    e["occurred_at"]
                    for e in evs
                    if e["event_type"] == STEPS_ALL[-1] and e["occurred_at"] >= starts[0]
                ]
                if succ:
                    ttc.append((succ[0] - starts[0]) // 1000)
        ttc.sort()
        out.append(
            (
                bd,
                started,
                succeeded,
                failed,
                round(succeeded / started, 6) if started else 0,
                round(failed / started, 6) if started else 0,
                len(ttc),
                nearest_rank(ttc, 50) if ttc else None,
                nearest_rank(ttc, 90) if ttc else None,
            )
        )
    return out
