"""Sessions and touches in event time, from the raw columns only: what the reports' shared
fragment (sinks/sql/fragments/event_time_touches.sql) derives. Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pipeline.sessions import campaign_key
from pipeline.utm import Campaign
from reference.selection import DAY_MS, Event, param


def own_channel(e: Event) -> str:
    """The event's own channel; a row stored without one has its stored channel (the column's
    DEFAULT)."""
    return str(e.get("own_channel") or e["channel"])


def _key(e: Event) -> str | None:
    return campaign_key(
        Campaign(
            source=e["utm_source"],
            medium=e["utm_medium"],
            campaign=e["utm_campaign"],
            term=e["utm_term"],
            content=e["utm_content"],
            click_id_type=e["click_id_type"],
        )
    )


def event_time_sessions(
    events: list[Event], timeout: int
) -> dict[str, tuple[tuple[str, str], int, Event]]:
    """Every web hit's session in event time: event id -> ((account, canonical client), session
    number, the session's first hit). Per client, hits (session_id set) in (occurred_at, event_id)
    order; a hit starts a session when it is the client's first, comes at least ``timeout`` ms
    after the previous hit, or has a campaign key different from its session's (the key of the
    session's first hit)."""
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        if e["session_id"] is not None:
            by[(e["account_id"], e["client_id"])].append(e)
    out: dict[str, tuple[tuple[str, str], int, Event]] = {}
    for client, hits in by.items():
        hits.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        last: int | None = None
        number, key_now, first = 0, None, hits[0]
        for e in hits:
            key = _key(e)
            if (
                last is None
                or e["occurred_at"] - last >= timeout
                or (key is not None and key != key_now)
            ):
                number, key_now, first = number + 1, key, e
            last = e["occurred_at"]
            out.setdefault(e["event_id"], (client, number, first))
    return out


def event_time_touches(
    events: list[Event], p: dict[str, Any]
) -> dict[tuple[str, str], list[Event]]:
    """Each (account, canonical client)'s touches, derived in event time from the raw columns only
    (session_id presence, own channel, UTM columns, click id type, is_contact, event_type,
    occurred_at, event_id), never from the stored is_touch / multichannel / channels_before or the
    channel given to web events. A web hit (session_id set) starts a session when it is the
    client's first hit, comes at least the session timeout after the previous hit, or has a
    campaign key different from its session's (the key of the session's first hit); touches are
    session starts, inbound contacts and CRM leads, oldest first, each once, with ``channel`` its
    own channel, ``multichannel`` (contacts with at least ``min_channels`` distinct channels among
    the touches in [contact - lookback, contact)) and ``channels_before`` (those channels in
    first-touch order)."""
    timeout = param(p, "session_timeout_minutes") * 60_000
    lookback = param(p, "lookback_days") * DAY_MS
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        if e["session_id"] is not None or e["is_contact"] or e["event_type"] == "crm_lead":
            by[(e["account_id"], e["client_id"])].append(e)
    out: dict[tuple[str, str], list[Event]] = {}
    sessions = event_time_sessions(events, timeout)
    for client, evs in by.items():
        evs.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        touches: list[Event] = []
        for e in evs:
            session = sessions.get(e["event_id"])
            starts = session is not None and session[2]["event_id"] == e["event_id"]
            if starts or e["is_contact"] or e["event_type"] == "crm_lead":
                before: dict[str, None] = {}
                for t in touches:
                    if e["occurred_at"] - lookback <= t["occurred_at"] < e["occurred_at"]:
                        before.setdefault(t["channel"], None)
                touches.append(
                    {
                        **e,
                        "channel": own_channel(e),
                        "channels_before": list(before),
                        "multichannel": bool(e["is_contact"])
                        and len(before) >= param(p, "min_channels"),
                    }
                )
        out[client] = touches
    return out
