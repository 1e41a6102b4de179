"""Web engagement per event-time session, experiments and feedback
(sinks/sql/queries/engagement.sql, experiments.sql, feedback.sql). Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reference.selection import (
    DAY_MS,
    STEPS_ALL,
    Event,
    envelope_location_ok,
    filtered,
    param,
    rate,
)
from reference.touches import event_time_sessions, own_channel


def engagement(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Per web session derived in event time (event_time_sessions) that has WebTouch events in
    the range: its breakdown value is that of the session's first hit (its own channel, device,
    campaign), its flags those of its WebTouch events in the range."""
    timeout = param(p, "session_timeout_minutes") * 60_000
    of = event_time_sessions(events, timeout)
    sessions: dict[tuple[tuple[str, str], int], list[Event]] = defaultdict(list)
    for e in filtered(events, p, "touchline.events.WebTouch"):
        if e["session_id"] is not None and envelope_location_ok(e, p["location"]):
            client, number, _first = of[e["event_id"]]
            sessions[(client, number)].append(e)
    firsts = {(c, n): f for c, n, f in of.values()}
    groups: dict[str, list[set[str]]] = defaultdict(list)
    for session, evs in sessions.items():
        first = firsts[session]
        bd = {
            "channel": own_channel(first),
            "device": first["device_type"],
            "campaign": first["utm_campaign"] or "",
            "": "all",
        }[p["breakdown"]]
        groups[bd or "(none)"].append({e["event_type"] for e in evs})
    out = []
    for bd in sorted(groups):
        ss = groups[bd]
        viewed = sum("page_view" in s for s in ss)
        clicked = sum("page_view" in s and "booking_cta_click" in s for s in ss)
        started = sum("form_start" in s for s in ss)
        submitted = sum("form_start" in s and "form_submit" in s for s in ss)
        out.append(
            (
                bd,
                viewed,
                clicked,
                rate(clicked, viewed),
                started,
                submitted,
                round(1 - submitted / started, 6) if started else 0,
                sum("booking_cancel" in s for s in ss),
            )
        )
    return out


def experiments(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    first: dict[tuple[str, str, str], Event] = {}
    for e in filtered(events, p):
        if e["event_type"] != "experiment_exposure" or not envelope_location_ok(e, p["location"]):
            continue
        key = (e["account_id"], e["client_id"], e["attributes"]["experiment_id"])
        if key not in first or (e["occurred_at"], e["event_id"]) < (
            first[key]["occurred_at"],
            first[key]["event_id"],
        ):
            first[key] = e
    conversions = [
        e
        for e in events
        if (e["revenue_minor"] > 0 or e["event_type"] == STEPS_ALL[-1])
        and (not p["account"] or e["account_id"] == p["account"])
    ]
    window = p["window_days"] * DAY_MS
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (account, client, experiment), e in first.items():
        t = tally[(experiment, e["attributes"]["variant"])]
        t[0] += 1
        t[1] += any(
            c["account_id"] == account
            and c["client_id"] == client
            and e["occurred_at"] <= c["occurred_at"] <= e["occurred_at"] + window
            for c in conversions
        )
    return [(x, v, n, k, round(k / n, 6)) for (x, v), (n, k) in sorted(tally.items())]


def feedback(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    groups: dict[str, list[Event]] = defaultdict(list)
    for e in filtered(events, p, "touchline.events.Feedback"):
        if not envelope_location_ok(e, p["location"]) or not e["attributes"].get("score"):
            continue
        key = (e["location_id"] or "(none)") if p["by"] == "location" else e["channel"]
        groups[key].append(e)
    out = []
    for key in sorted(groups):
        nps = [
            int(e["attributes"]["score"]) for e in groups[key] if e["event_type"] == "feedback_nps"
        ]
        csat = [
            (int(e["attributes"]["score"]), int(e["attributes"].get("scale") or 5))
            for e in groups[key]
            if e["event_type"] == "feedback_csat"
        ]
        prom = sum(s >= 9 for s in nps)
        det = sum(s <= 6 for s in nps)
        out.append(
            (
                key,
                len(nps),
                prom,
                det,
                round((prom - det) * 100 / len(nps), 6) if nps else None,
                len(csat),
                round(sum(s * 5 >= sc * 4 for s, sc in csat) / len(csat), 6) if csat else None,
                round(sum(s for s, _ in csat) / len(csat), 6) if csat else None,
            )
        )
    return out
