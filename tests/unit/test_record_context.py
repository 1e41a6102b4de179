"""The sessionise step and the record context, without Redis: where an event falls among its
client's visits, what the card gets from it, and the contract with ``record.lua`` (every
``ctx.<name>`` the script reads is an entry of :meth:`RecordContext.lua`). The Redis side stays
covered by tests/integration/test_processor.py and test_lua_scripts.py."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import orjson

from pipeline import touches
from pipeline.enrichment import Static
from pipeline.processor import Config, _rules
from pipeline.record_context import (
    NO_SESSION,
    SESSION_ROW,
    record_context,
    sessionise,
    stored_visits,
    visits_text,
)
from pipeline.store import lua
from pipeline.utm import Campaign
from touchline.identity import extract

RULES = _rules(Config(session_timeout_ms=30 * 60_000))
MINUTE = 60_000
T = 1_795_000_000_000
IDS = extract({"phone": "+4915100000001", "email": "ana@x.de", "external_ids": {"studio": "7"}})
PAID = Campaign(source="google", medium="cpc", campaign="brand", click_id_type="gclid")
PAGE = Static(
    campaign=PAID,
    channel="paid_search",
    referrer_host=None,
    device_type="desktop",
    has_web=True,
    is_contact=False,
    is_lead=False,
    lines=[],
    revenue_minor=0,
    currency=None,
    attributes={},
    payload_json="{}",
    name=None,
    location=None,
    landing_page="https://studio.example/?gclid=1",
)
# A later page of the same visit carries no campaign of its own.
NEXT_PAGE = replace(PAGE, campaign=Campaign(), channel="direct", landing_page=None)
CALL = replace(
    PAGE,
    campaign=Campaign(),
    channel="phone",
    has_web=False,
    is_contact=True,
    name="Ana",
    location="Berlin",
    landing_page=None,
)


def _visit(static: Static, stored: dict[str, Any] | None, event_id: str, at: int) -> Any:
    placed = sessionise(static, "c1", stored, event_id, at, RULES)
    return placed, record_context(RULES, static, placed, event_id, at, "fp", IDS)


def test_a_web_visit_opens_a_session_and_its_pages_keep_its_channel() -> None:
    first, ctx = _visit(PAGE, None, "e1", T)
    assert first.new_session and ctx.is_touch
    assert first.info["session_seq"] == 1 and first.info["time_on_site_ms"] == 0
    assert ctx.channel == "paid_search" and ctx.session is not None
    second, ctx2 = _visit(NEXT_PAGE, ctx.session, "e2", T + 5 * MINUTE)
    assert not second.new_session and not ctx2.is_touch
    assert second.info["session_id"] == first.info["session_id"]
    assert second.info["session_seq"] == 2 and second.info["time_on_site_ms"] == 5 * MINUTE
    assert ctx2.channel == "paid_search"  # the visit's channel, not the page's own "direct"
    assert ctx2.enrichment["channel"] == "paid_search"
    # the hit keeps the page's own channel: the card's hits are per event
    assert touches.Hit.from_member(ctx2.hit or "", T).channel == "direct"
    later, ctx3 = _visit(NEXT_PAGE, ctx2.session, "e3", T + 5 * MINUTE + 31 * MINUTE)
    assert later.new_session and ctx3.is_touch and ctx3.channel == "direct"
    assert later.info["session_id"] != first.info["session_id"]


def test_a_contact_is_a_touch_outside_sessions_and_keeps_its_phone() -> None:
    placed, ctx = _visit(CALL, None, "e9", T)
    assert placed.sessions is None and placed.info == NO_SESSION and not placed.new_session
    assert ctx.is_touch and ctx.is_contact and ctx.phone == "+4915100000001"
    assert touches.Hit.from_member(ctx.hit or "", T).flags == touches.CONTACT
    # the hit is tagged with the event's studio id, email and phone (the reports split events
    # by each: migration 020), so a split moves it with them
    tags = touches.Hit.from_member(ctx.hit or "", T).tags
    assert tags == "".join(touches.identifier_tag(k) for k in ctx.ids) and ctx.ids == (
        "ext.studio:7",
        "email:ana@x.de",
        "phone:+4915100000001",
    )
    lua = ctx.lua()
    assert "session" not in lua and "utm_source" not in lua  # None entries are left out (nil)
    assert lua["name"] == "Ana" and lua["location"] == "Berlin"
    assert lua["enrichment"] == {
        **NO_SESSION,
        "channel": "phone",
        "is_touch": True,
        "processed_at": lua["enrichment"]["processed_at"],
        "fingerprint": "fp",
    }
    # a web page's phone is not the card's: only contacts set it
    assert _visit(PAGE, None, "e10", T)[1].phone is None


def test_every_field_record_lua_reads_is_in_the_context() -> None:
    script = lua("record")  # with its includes (split.lua reads ctx.ids)
    read = set(re.findall(r"\bctx\.(\w+)", script))
    _, ctx = _visit(replace(CALL, has_web=True, campaign=PAID, currency="EUR"), None, "e", T)
    given = set(ctx.lua())
    assert read, "no ctx.<name> found in record.lua"
    assert read <= given, f"record.lua reads what the context lacks: {read - given}"
    # session and enrichment travel as JSON text beside the table, the hit as bytes in the
    # script's binary arguments (ClientStore.record_many)
    assert given - read == {"session", "enrichment", "hit"}


def test_visits_are_stored_as_rows_and_objects_stored_before_are_still_read() -> None:
    _, ctx = _visit(PAGE, None, "e1", T)
    assert ctx.session is not None
    (row,) = ctx.session["sessions"]
    assert isinstance(row, list) and len(row) == len(SESSION_ROW)
    as_object = {"sessions": [dict(zip(SESSION_ROW, row, strict=True))]}
    from_rows, _ = _visit(NEXT_PAGE, ctx.session, "e2", T + 5 * MINUTE)
    from_object, _ = _visit(NEXT_PAGE, as_object, "e2", T + 5 * MINUTE)
    assert from_rows.info == from_object.info and from_rows.channel == "paid_search"
    assert from_rows.sessions == from_object.sessions


def test_session_key_holds_the_list_of_visits_and_reads_the_object_before() -> None:
    visits = {"sessions": [["s1", 1, 2, 1, None, None, "direct"]]}
    text = visits_text(visits)
    assert orjson.loads(text) == visits["sessions"]
    assert stored_visits(orjson.loads(text)) == visits
    assert stored_visits({"sessions": [["s0", 0, 0, 1, None, None, "x"]]})["sessions"][0][0] == "s0"
