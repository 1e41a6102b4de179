"""The client card and its summary (sinks/sql/queries/client_card.sql, client_summary.sql):
one person's touches in event time, identifiers and revenue. Pure."""

from __future__ import annotations

from typing import Any

from reference.selection import Event
from reference.touches import event_time_touches


def _find_clients(events: list[Event], p: dict[str, Any]) -> set[str]:
    x = p["client"]
    return {
        e["client_id"]
        for e in events
        if (not p["account"] or e["account_id"] == p["account"])
        and x in (e["client_id"], e["stitched_client_id"], e["cid"], e["email"], e["phone"])
    }


def client_card(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(client_id, occurred_at ms, event_type, kind, channel, utm_campaign, multichannel,
    channels_before, since_previous_s), touches derived in event time."""
    ids = _find_clients(events, p)
    touches = event_time_touches(events, p)
    out = []
    for cid in sorted(ids):
        rows = sorted(
            (
                t
                for (account, client), ts in touches.items()
                if client == cid and (not p["account"] or account == p["account"])
                for t in ts
            ),
            key=lambda e: (e["occurred_at"], e["event_id"]),
        )
        prev: int | None = None
        for e in rows:
            since = None if prev is None else (e["occurred_at"] - prev) // 1000
            kind = "contact" if e["is_contact"] else "touch"
            out.append(
                (
                    cid,
                    e["occurred_at"],
                    e["event_type"],
                    kind,
                    e["channel"],
                    e["utm_campaign"],
                    e["multichannel"],
                    e["channels_before"],
                    since,
                )
            )
            prev = e["occurred_at"]
    return out


def client_summary(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    derived = event_time_touches(events, p)
    out = []
    for cid in sorted(_find_clients(events, p)):
        evs = [
            e
            for e in events
            if e["client_id"] == cid and (not p["account"] or e["account_id"] == p["account"])
        ]
        touches = sorted(
            (
                t
                for (account, client), ts in derived.items()
                if client == cid and (not p["account"] or account == p["account"])
                for t in ts
            ),
            key=lambda e: (e["occurred_at"], e["event_id"]),
        )
        first = touches[0] if touches else None
        out.append(
            (
                cid,
                sorted({e["stitched_client_id"] for e in evs}),
                sorted({e["cid"] for e in evs if e["cid"] is not None}),
                sorted({e["email"] for e in evs if e["email"] is not None}),
                sorted({e["phone"] for e in evs if e["phone"] is not None}),
                first["occurred_at"] if first else None,
                first["channel"] if first else "",
                (first["utm_campaign"] or "") if first else "",
                len(touches),
                sum(e["is_contact"] for e in evs),
                sum(t["multichannel"] for t in touches),
                sorted({e["channel"] for e in touches}),
                per_currency(evs),
                sorted({e["currency"] for e in evs if e["revenue_minor"] and e["currency"]}),
                sum(1 for e in evs if e["revenue_minor"]),
            )
        )
    return out


def per_currency(evs: list[Event]) -> dict[str, int]:
    """Revenue in minor units per currency code ('' when none), never added across currencies."""
    out: dict[str, int] = {}
    for e in evs:
        if e["revenue_minor"]:
            cur = e["currency"] or ""
            out[cur] = out.get(cur, 0) + e["revenue_minor"]
    return out
