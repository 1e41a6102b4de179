"""The sessionise step and the record context: what the worker hands to ``record.lua`` for one
event, once the event's client is known. Pure (no Redis), so it is unit-tested on its own.

:func:`sessionise` places a web event in the client's recent sessions (a new visit or the next page
of one); :func:`record_context` adds whether the event is a touch, its hit on the card and the
event's own fields the card keeps. :meth:`RecordContext.lua` is the contract with
``pipeline/lua/record.lua`` (``ctx.<name>``); ``session`` and ``enrichment`` travel beside it as
JSON text (``pipeline.store.ClientStore.record_many``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from pipeline import touches
from pipeline.enrichment import Static
from pipeline.sessions import SessionState, assign, time_on_site
from touchline.clock import now_ms
from touchline.identity import Identifiers

# The session fields of an event outside any web session.
NO_SESSION: dict[str, Any] = {
    "session_id": None,
    "session_seq": 0,
    "session_started_at": None,
    "landing_page": None,
    "time_on_site_ms": 0,
}


# A stored visit (``session:<client>`` in Redis: the JSON list of the client's visits, ``[row,
# ...]``) is one row of these fields, in this order: a list, not an object, keeps the names out of
# every stored copy. The worker handles a client's visits as ``{"sessions": [row, ...]}``, the
# layout stored before (read too, as are visits stored as objects before rows).
SESSION_ROW = (*SessionState.__dataclass_fields__, "channel")
_ROW_LENGTH = len(SESSION_ROW)


def stored_visits(stored: Any) -> dict[str, Any]:
    """A client's visits as the worker handles them, from the JSON ``session:<client>`` held: a
    list of visits, or the object stored before."""
    return {"sessions": stored} if isinstance(stored, list) else dict(stored)


def visits_text(sessions: dict[str, Any]) -> str:
    """What ``session:<client>`` stores for ``sessions`` (``{"sessions": [...]}``): the list
    alone, 14 bytes less on every client than the object."""
    return orjson.dumps(sessions.get("sessions") or []).decode()


def session_id_of(stored: Any) -> str:
    """The session id of a stored visit (a row, or an object stored before rows)."""
    return str(stored["session_id"] if isinstance(stored, dict) else stored[0])


@dataclass(frozen=True)
class Rules:
    """The worker's rules the record step applies (from ``pipeline.processor.Config``)."""

    session_timeout_ms: int
    lookback_ms: int
    hit_cap: int
    session_keep_ms: int


@dataclass(slots=True)
class Sessionised:
    """Where an event falls among its client's visits."""

    sessions: dict[str, Any] | None  # the client's recent sessions after it (None: not web)
    info: dict[str, Any]  # its session fields (NO_SESSION outside web sessions)
    channel: str  # the channel of the visit it belongs to (a page keeps its visit's)
    new_session: bool


@dataclass(slots=True)
class RecordContext:
    """Everything ``record.lua`` needs for one event, and the enrichment it stores."""

    occurred_at: int
    rules: Rules
    hit: str | None  # the card's hit member; None when the event is not a web, contact or lead hit
    is_touch: bool
    is_contact: bool
    channel: str
    name: str | None
    phone: str | None
    location: str | None
    revenue_minor: int
    currency: str | None
    session: dict[str, Any] | None  # the client's recent sessions after this event
    enrichment: dict[str, Any]  # the state-dependent enrichment, stored as the event's result
    ids: tuple[str, ...] = ()  # its ext ids, email, phone, cid (``kind:value``), for split.lua
    part: str = ""  # their tags (hit_tags): the key of the card's counters it adds to (parts.lua)
    split_clock: int = 0  # the account's splitclock when it was resolved (split_since)

    def lua(self) -> dict[str, Any]:
        """The context as ``record.lua`` reads it: entries that are None are left out (nil)."""
        rules = self.rules
        ctx: dict[str, Any] = {
            "occurred_at": self.occurred_at,
            "lookback_ms": rules.lookback_ms,
            "hit_cap": rules.hit_cap,
        }
        if self.hit is not None:
            ctx["hit"] = self.hit
        ctx["is_touch"] = self.is_touch
        ctx["is_contact"] = self.is_contact
        if self.name is not None:
            ctx["name"] = self.name
        if self.phone is not None:
            ctx["phone"] = self.phone
        if self.location is not None:
            ctx["location"] = self.location
        ctx["revenue_minor"] = self.revenue_minor
        if self.currency is not None:
            ctx["currency"] = self.currency
        if self.session is not None:
            ctx["session"] = self.session
        ctx["enrichment"] = self.enrichment
        if self.ids:
            ctx["ids"] = list(self.ids)
            ctx["split_clock"] = self.split_clock
        if self.part and (self.is_contact or self.revenue_minor):
            ctx["part"] = self.part
        return ctx


def sessionise(
    static: Static,
    client_id: str,
    stored: dict[str, Any] | None,
    event_id: str,
    at: int,
    rules: Rules,
) -> Sessionised:
    """The event among the client's recent sessions ``stored`` (``{"sessions": [...]}``, each
    with the channel of the visit that opened it). Only web events have sessions."""
    if not static.has_web:
        return Sessionised(None, dict(NO_SESSION), static.channel, False)
    channels: dict[str, Any] = {}
    recent: list[SessionState] = []
    for d in (stored or {}).get("sessions", []):
        if isinstance(d, dict):  # a visit stored as an object (before rows)
            channels[d["session_id"]] = d.get("channel")
            recent.append(SessionState(**{k: v for k, v in d.items() if k != "channel"}))
        elif len(d) == _ROW_LENGTH:  # a row: SESSION_ROW order, the channel last
            channels[d[0]] = d[-1]
            recent.append(SessionState(*d[:-1]))
        else:
            raise ValueError(f"a stored visit of {len(d)} fields, not {_ROW_LENGTH}")
    after, state, new_session = assign(
        recent,
        occurred_at=at,
        event_id=event_id,
        campaign_key=static.campaign_key,
        landing_page=static.landing_page,
        timeout_ms=rules.session_timeout_ms,
        client_id=client_id,
        keep_ms=rules.session_keep_ms,
    )
    channel = static.channel
    if new_session:
        channels[state.session_id] = channel
    else:
        channel = channels.get(state.session_id) or channel  # pages keep the visit's
    sessions = {
        # vars(): flat dataclasses of scalars, in field order; asdict() deep-copies (a hot spot)
        "sessions": [[*vars(s).values(), channels.get(s.session_id)] for s in after]
    }
    info = {
        "session_id": state.session_id,
        "session_seq": state.seq,
        "session_started_at": state.started_at,
        "landing_page": state.landing_page,
        "time_on_site_ms": time_on_site(state, at),
    }
    return Sessionised(sessions, info, channel, new_session)


def record_context(
    rules: Rules,
    static: Static,
    placed: Sessionised,
    event_id: str,
    at: int,
    fingerprint: str,
    ids: Identifiers,
    split_clock: int = 0,
) -> RecordContext:
    """The record step's input for an event placed by :func:`sessionise`. The phone of ``ids``
    is kept on the card from contacts only; the hit carries the tags of its identifiers."""
    is_touch = (static.has_web and placed.new_session) or static.is_contact or static.is_lead
    flags = (
        (touches.WEB if static.has_web else 0)
        | (touches.CONTACT if static.is_contact else 0)
        | (touches.LEAD if static.is_lead else 0)
    )
    campaign = static.campaign
    tagged = touches.tagged(ids.keys())
    tags = touches.hit_tags(tagged)
    hit = touches.Hit(
        at, event_id, flags, static.channel, static.campaign_key, campaign.campaign, tags
    )
    enrichment = {
        **placed.info,
        "channel": placed.channel,
        "is_touch": is_touch,
        "processed_at": now_ms(),
        "fingerprint": fingerprint,
    }
    return RecordContext(
        occurred_at=at,
        rules=rules,
        hit=hit.member() if flags else None,
        is_touch=is_touch,
        is_contact=static.is_contact,
        channel=placed.channel,
        name=static.name,
        phone=ids.phone if static.is_contact and ids.phone else None,
        location=static.location,
        revenue_minor=static.revenue_minor,
        currency=static.currency,
        session=placed.sessions,
        enrichment=enrichment,
        ids=tuple(tagged),
        part=touches.part_key(tagged, event_id),
        split_clock=split_clock,
    )
