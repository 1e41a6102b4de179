"""The processor against real Redis: identity stitching, merges, exactly-once effects, the
shared-identifier guard, multichannel contacts and dead letters."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline import dedupe
from pipeline.card import Rules, touches_of
from pipeline.client_ids import new_client_id
from pipeline.keys import account_key
from pipeline.processor import Config, Output, Processor
from pipeline.store import ClientStore
from pipeline.touches import Touch
from touchline import clock
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, ENRICHED, MERGE, load
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

pytestmark = pytest.mark.integration
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
MIN = 60_000
T0 = 1_790_000_000_000


def event(
    family: str,
    event_type: str,
    at: int,
    ids: dict[str, Any],
    web: dict[str, Any] | None = None,
    source: str = "web",
    **fields: Any,
) -> bytes:
    raw = {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "occurred_at": at,
            "received_at": at,
            "source": source,
            "account_id": "acc",
            "ids": ids,
            "web": web,
        },
        **fields,
    }
    datum, errors = coerce(CONTRACTS.expanded[f"touchline.events.{family}"], raw)
    assert errors == [], errors
    return CODEC.encode(f"touchline.events.{family}", datum)


def visit(at: int, cid: str, source: str | None, medium: str | None) -> bytes:
    web = {"utm_source": source, "utm_medium": medium, "page_url": "https://s.example/"}
    return event("WebTouch", "page_view", at, {"cid": cid}, web)


def call(at: int, phone: str, email: str | None = None) -> bytes:
    return event(
        "InboundContact",
        "contact_call",
        at,
        {"phone": phone, "email": email},
        source="call_tracking",
        name="Anna",
        contact_id=f"call-{at}",
    )


def enriched(out: Output) -> dict[str, Any]:
    assert out.enriched is not None, out
    name, datum = CODEC.decode(out.enriched[1])
    assert name == ENRICHED
    return datum


LOOP = asyncio.new_event_loop()


@pytest.fixture
def processor(services: Endpoints) -> Iterator[Processor]:
    store = ClientStore(services.redis_url, f"t{uuid.uuid4().hex[:8]}", max_share=2)
    yield Processor(CODEC, store, Config(lookback_ms=90 * 86_400_000, min_channels=2))
    LOOP.run_until_complete(store.close())


def run(processor: Processor, *records: bytes) -> list[Output]:
    async def go() -> list[Output]:
        return [await processor.handle(r) for r in records]

    return LOOP.run_until_complete(go())


def run_batch(processor: Processor, *records: bytes) -> list[Output]:
    """All records in one batch, as a worker that is keeping up receives them."""
    batch = [(r, "raw", 0, i) for i, r in enumerate(records)]
    return LOOP.run_until_complete(processor.handle_batch(batch))


def card(processor: Processor, client_id: str) -> dict[str, Any]:
    return LOOP.run_until_complete(processor.store.card("acc", client_id))


def touches(processor: Processor, client_id: str) -> list[Touch]:
    """The live card's touches, derived in event time from its hits."""
    return touches_of(card(processor, client_id), Rules(30 * MIN, 90 * 86_400_000, 2))


def contacts(processor: Processor, client_id: str) -> list[Touch]:
    return [t for t in touches(processor, client_id) if t.is_contact]


def test_identities_across_channels_merge_into_one_client(processor: Processor) -> None:
    web, phone_call, appointment, booking = run(
        processor,
        visit(T0, "111.222", "google", "cpc"),
        call(T0 + 60 * MIN, "+49 30 1234567"),
        event(
            "AppointmentEvent",
            "appointment_scheduled",
            T0 + 61 * MIN,
            {"phone": "030 1234567", "email": "Anna@Example.de", "external_ids": {"studio": "c-9"}},
            source="studio_system",
            appointment_id="ap-1",
            start_at=T0 + 3 * 86_400_000,
        ),
        event(
            "BookingStep",
            "appointment_booking_start",
            T0 + 2 * 86_400_000,
            {"cid": "GA1.2.111.222", "email": "anna@example.de"},
            {"utm_source": "newsletter", "utm_medium": "email"},
        ),
    )
    first, second, third, fourth = (enriched(o) for o in (web, phone_call, appointment, booking))
    assert first["client_id"] != second["client_id"]  # nothing linked them yet
    assert third["client_id"] == second["client_id"]  # the phone links the studio client
    assert third["phone"] == "+49301234567" and third["email"] == "anna@example.de"
    # The cid (web) and the email (studio) meet: the newer client merges into the older one.
    assert fourth["client_id"] == first["client_id"]
    assert len(booking.merges) == 1
    name, merge = CODEC.decode(booking.merges[0][1])
    assert name == MERGE
    assert (merge["from_client_id"], merge["to_client_id"]) == (
        second["client_id"],
        first["client_id"],
    )
    merged = card(processor, second["client_id"])
    assert merged["client_id"] == first["client_id"]
    assert merged["card"]["touch_count"] == "3"  # web visit, the call, the booking visit
    assert merged["card"]["contact_count"] == "1"
    assert merged["card"]["name"] == "Anna"
    channels = {t.channel for t in touches(processor, merged["client_id"])}
    assert channels == {"email", "paid_search", "phone_call"}


def test_redelivery_changes_nothing_and_reemits_the_same_bytes(processor: Processor) -> None:
    record = visit(T0, "5.6", "google", "cpc")
    once, again = run(processor, record, record)
    assert once.outcome == "enriched" and again.outcome == "duplicate"
    assert once.enriched == again.enriched
    assert card(processor, enriched(once)["client_id"])["card"]["touch_count"] == "1"


def test_shared_phone_stops_linking_people(processor: Processor) -> None:
    from prometheus_client import REGISTRY

    def shared() -> float:
        return REGISTRY.get_sample_value("touchline_worker_shared_identifiers_total") or 0.0

    before = shared()
    outs = run(processor, *(call(T0 + i * MIN, "+4930999000", f"p{i}@x.de") for i in range(5)))
    assert shared() - before == 3  # the phone was set aside for the third, fourth, fifth person
    clients = [enriched(o)["client_id"] for o in outs]
    # max_share=2: the front-desk phone links at most the first two emails, never the rest.
    assert len(set(clients[2:])) == 3
    assert clients[2] not in clients[:2]
    # A later call from that phone with nothing else (written another way) lands on no one's card.
    (alone,) = run(processor, call(T0 + 9 * MIN, "(030) 999-000"))
    assert enriched(alone)["client_id"] not in clients


def test_multichannel_counts_only_distinct_channels_before_the_contact(
    processor: Processor,
) -> None:
    email_visit = event(
        "WebTouch",
        "page_view",
        T0,
        {"cid": "7.7", "email": "m@x.de"},
        {"utm_source": "newsletter", "utm_medium": "email"},
    )
    outs = run(
        processor,
        email_visit,
        visit(T0 + 60 * MIN, "7.7", "google", "cpc"),
        call(T0 + 120 * MIN, "+4930555111", "m@x.de"),
        visit(T0 + 121 * MIN, "7.7", "facebook", "social"),
        call(T0 + 180 * MIN, "+4930555111"),
    )
    first_call = enriched(outs[2])
    first, second = contacts(processor, first_call["client_id"])
    assert first_call["is_contact"] and first.multichannel
    assert first.channels_before == ("email", "paid_search")
    assert second.channels_before == ("email", "paid_search", "phone_call", "organic_social")
    assert second.since_previous_contact_ms == 60 * MIN  # derived in event time
    assert first_call["attributes"]["location"] == "(undefined)"


def test_a_page_inside_a_visit_keeps_the_visits_channel(processor: Processor) -> None:
    landing, inner, later = run(
        processor,
        visit(T0, "8.8", "google", "cpc"),
        visit(T0 + 5 * MIN, "8.8", None, None),
        visit(T0 + 40 * MIN, "8.8", None, None),
    )
    a, b, c = enriched(landing), enriched(inner), enriched(later)
    assert (a["is_touch"], b["is_touch"], c["is_touch"]) == (True, False, True)
    assert a["session_id"] == b["session_id"] != c["session_id"]
    assert b["channel"] == "paid_search" and b["session_seq"] == 2
    assert c["channel"] == "direct"


def test_garbage_becomes_a_dead_letter_with_the_original_bytes(processor: Processor) -> None:
    (out,) = run(processor, b"\xc3\x01garbage")
    assert out.outcome == "dead_letter" and out.dead_letter is not None
    name, letter = CODEC.decode(out.dead_letter)
    assert name == DEAD_LETTER
    assert letter["original"] == b"\xc3\x01garbage" and letter["stage"] == "decode"


def test_a_web_form_without_phone_or_name_gives_an_unknown_card(processor: Processor) -> None:
    form = event(
        "InboundContact",
        "contact_web_form",
        T0,
        {"email": "f@x.de"},
        {"utm_source": "google", "utm_medium": "organic"},
        contact_id="form-1",
    )
    (out,) = run(processor, form)
    datum = enriched(out)
    assert datum["is_contact"] and datum["channel"] == "organic_search"
    stored = card(processor, datum["client_id"])["card"]
    assert stored["name"] == "" and stored["phone"] == ""  # shown as "unknown" on the card


def test_the_live_card_answers_who_is_calling(processor: Processor) -> None:
    from pipeline.card import Rules, identifier_key, render

    run(
        processor,
        visit(T0, "9.9", "google", "cpc"),
        event(
            "BookingStep",
            "appointment_booking_start",
            T0 + MIN,
            {"cid": "9.9", "email": "caller@x.de"},
            {"utm_source": "google", "utm_medium": "cpc"},
        ),
        call(T0 + 86_400_000, "+49 30 7654321", "caller@x.de"),
    )
    key = identifier_key(phone="030 7654321")
    assert key == "phone:+49307654321"
    client = LOOP.run_until_complete(processor.store.lookup("acc", key))
    assert client is not None
    text = render(card(processor, client), Rules(30 * MIN, 90 * 86_400_000, 2))
    assert "name          Anna" in text
    assert "channels      paid_search, phone_call" in text
    assert "first touch   2026-09-21 14:13 UTC  paid_search" in text
    assert "touches       2   contacts 1" in text  # the visit (its booking step is part of it)
    assert "(+24.0 h)" in text  # the call came a day after the first touch


def test_a_visit_arriving_topic_by_topic_is_still_one_touch(processor: Processor) -> None:
    # Each family has its own topic, so a worker may see a visit's booking steps after the
    # client's later visits. The late steps must join their visit, not open sessions of their own.
    web = {"utm_source": "instagram", "utm_medium": "paid_social"}
    first_visit_pages = [visit(T0 + i * MIN, "4.4", "instagram", "paid_social") for i in range(3)]
    first_visit_steps = [
        event("BookingStep", step, T0 + (4 + i) * MIN, {"cid": "4.4"}, web)
        for i, step in enumerate(
            ["appointment_booking_start", "appointment_booking_step_stores_and_services"]
        )
    ]
    next_day = [visit(T0 + 86_400_000 + i * MIN, "4.4", None, None) for i in range(2)]
    # A worker that is behind reads topic by topic: here, one batch per topic.
    outs = [*run(processor, *first_visit_pages, *next_day), *run(processor, *first_visit_steps)]
    by_time = sorted((enriched(o) for o in outs), key=lambda d: d["occurred_at"])
    assert [d["is_touch"] for d in by_time] == [True, False, False, False, False, True, False]
    assert len({d["session_id"] for d in by_time[:5]}) == 1
    assert {d["channel"] for d in by_time[:5]} == {"paid_social"}
    assert card(processor, by_time[0]["client_id"])["card"]["touch_count"] == "2"


def test_a_batch_is_processed_in_event_time(processor: Processor) -> None:
    # The call (contact topic) and the visits before it (web topic) arrive in one batch, the call
    # first: processed in event time, the call still sees both earlier channels.
    outs = run_batch(
        processor,
        call(T0 + 120 * MIN, "+4930555222", "late@x.de"),
        event(
            "WebTouch",
            "page_view",
            T0,
            {"cid": "6.6", "email": "late@x.de"},
            {"utm_source": "newsletter", "utm_medium": "email"},
        ),
        visit(T0 + 60 * MIN, "6.6", "google", "cpc"),
    )
    (the_call,) = contacts(processor, enriched(outs[0])["client_id"])
    assert the_call.channels_before == ("email", "paid_search") and the_call.multichannel


def test_a_script_error_fails_only_its_own_event(processor: Processor) -> None:
    """The batch scripts run each event in a pcall: one event whose Redis state is broken is a
    dead letter, and the events before and after it in the batch are enriched."""
    records = [visit(T0 + i * MIN, f"1.{i}", "google", "cpc") for i in range(3)]
    _, broken = CODEC.decode(records[1])
    client = new_client_id("acc", broken["envelope"]["event_id"])
    key = account_key(processor.store.prefix, "acc", f"card:{client}")
    LOOP.run_until_complete(processor.store.redis.set(key, "not a hash"))

    first, second, third = run_batch(processor, *records)

    assert first.outcome == third.outcome == "enriched"
    assert second.outcome == "dead_letter" and second.dead_letter is not None
    _, letter = CODEC.decode(second.dead_letter)
    assert letter["stage"] == "enrich" and "WRONGTYPE" in letter["reason"]
    assert letter["original"] == records[1]


def _resent(original: bytes, **envelope: Any) -> bytes:
    """The same event (same event_id) re-sent by a client with some envelope fields changed."""
    name, datum = CODEC.decode(original)
    return CODEC.encode(name, {**datum, "envelope": {**datum["envelope"], **envelope}})


def test_an_event_id_is_applied_once_whatever_the_copies_say(processor: Processor) -> None:
    """Dedup is by event_id alone: a retry with changed content (here occurred_at + 1 s, which is
    in ClickHouse's sorting key) is not re-emitted as a second row; the first copy wins and the
    conflicting one is a dead letter. A retry that says the same (received again later) is a
    plain duplicate of the first output."""
    first = visit(T0, "7.7", "google", "cpc")
    changed = _resent(first, occurred_at=T0 + 1000)
    same = _resent(first, received_at=T0 + 5000)
    out_first, out_changed, out_same = run(processor, first, changed, same)
    kept = enriched(out_first)
    assert out_changed.enriched is None and out_changed.outcome == "conflicting_retry"
    assert out_changed.dead_letter is not None
    name, letter = CODEC.decode(out_changed.dead_letter)
    assert name == DEAD_LETTER and letter["stage"] == "dedupe"
    assert "already applied with different content" in letter["reason"]
    assert letter["original"] == changed
    again = enriched(out_same)
    assert out_same.outcome == "duplicate"
    assert (again["occurred_at"], again["client_id"]) == (kept["occurred_at"], kept["client_id"])
    assert card(processor, kept["client_id"])["card"]["touch_count"] == "1"


def test_copies_of_one_event_id_in_one_batch_are_applied_once(processor: Processor) -> None:
    first = visit(T0, "8.8", "google", "cpc")
    changed = _resent(first, occurred_at=T0 - 1000)  # earlier: sorted before the first copy
    outs = run_batch(processor, first, changed)
    kinds = sorted(o.outcome for o in outs)
    assert kinds == ["conflicting_retry", "enriched"]
    emitted = [enriched(o) for o in outs if o.enriched is not None]
    assert len(emitted) == 1


def _merge_mid_visit() -> list[bytes]:
    """Issue 10's repro: a studio client (id, email, phone) on day 0; on day 1 a paid visit at
    09:00 (cid), a call at 09:02 carrying the phone and the cid (it merges the web client into the
    studio client), and a page of the same visit at 09:05."""
    day1 = T0 + 86_400_000
    paid = {"utm_source": "google", "utm_medium": "cpc", "page_url": "https://s.example/?gclid=x"}
    return [
        event(
            "AppointmentEvent",
            "appointment_scheduled",
            T0,
            {"phone": "030 5550177", "email": "mia@example.de", "external_ids": {"studio": "s-1"}},
            source="studio_system",
            appointment_id="ap-77",
            start_at=T0 + 3 * 86_400_000,
        ),
        event("WebTouch", "page_view", day1, {"cid": "77.1"}, paid),
        event(
            "InboundContact",
            "contact_call",
            day1 + 2 * MIN,
            {"phone": "+49 30 5550177", "cid": "77.1"},
            source="call_tracking",
            contact_id="call-77",
        ),
        event("WebTouch", "page_view", day1 + 5 * MIN, {"cid": "77.1"},
              {"page_url": "https://s.example/prices"}),
    ]  # fmt: skip


@pytest.mark.parametrize("batched", [False, True])
def test_a_merge_mid_visit_keeps_the_visit(processor: Processor, batched: bool) -> None:
    records = _merge_mid_visit()
    outs = run_batch(processor, *records) if batched else run(processor, *records)
    _, first_page, the_call, later_page = (enriched(o) for o in outs)
    assert the_call["client_id"] == later_page["client_id"]
    assert later_page["session_id"] == first_page["session_id"]  # the visit went on
    assert later_page["channel"] == "paid_search" and not later_page["is_touch"]
    derived = touches(processor, the_call["client_id"])
    assert len(derived) == 2, derived  # the paid visit and the call, nothing more


def forget(processor: Processor, *outs: Output) -> None:
    """What the worker does once Kafka has confirmed these outputs."""
    applied = [o.applied for o in outs if o.applied is not None]
    LOOP.run_until_complete(processor.store.forget(applied))


def test_a_copy_after_the_output_was_confirmed_is_dropped_not_reapplied(
    processor: Processor,
) -> None:
    """Once its outputs are confirmed, an applied event keeps only its compact entry
    (pipeline/dedupe.py): a later copy emits nothing (Kafka holds its output already) and a copy
    that says something else is still a conflicting retry."""
    first = visit(T0, "9.9", "google", "cpc")
    (once,) = run(processor, first)
    assert once.applied is not None
    forget(processor, once)
    again, changed = run(processor, first, _resent(first, occurred_at=T0 + 1000))
    assert again.outcome == "duplicate" and again.enriched is None and again.merges == []
    assert changed.outcome == "conflicting_retry" and changed.dead_letter is not None
    assert card(processor, enriched(once)["client_id"])["card"]["touch_count"] == "1"
    account, event_id = once.applied
    assert LOOP.run_until_complete(processor.store.applied(account, event_id))


def test_an_entry_of_the_layout_before_is_still_recognised(processor: Processor) -> None:
    """An upgrade forgets no applied event: an entry kept as base64 text (field and fingerprint)
    by a worker of the layout before still makes a copy a duplicate, or a conflicting retry."""
    first = visit(T0, "9.8", "google", "cpc")
    (once,) = run(processor, first)
    assert once.applied is not None
    forget(processor, once)
    account, event_id = once.applied
    store = processor.store
    assert isinstance(store, ClientStore)
    base = account_key(store.prefix, account, "")
    now = clock.now_ms()  # this generation's entry, in the layout now and before
    (key, field), (_, before) = dedupe.entries(base, event_id, now, store.window_s, store.shards)[
        :2
    ]
    kept = LOOP.run_until_complete(store.redis.hget(key, field))
    assert kept is not None and len(field) == 12 and len(kept) == 6  # raw bytes now
    LOOP.run_until_complete(store.redis.hdel(key, field))
    LOOP.run_until_complete(store.redis.hset(key, before, base64.b64encode(kept)))
    again, changed = run(processor, first, _resent(first, occurred_at=T0 + 1000))
    assert again.outcome == "duplicate" and changed.outcome == "conflicting_retry"
    assert LOOP.run_until_complete(store.applied(account, event_id))


def test_an_applied_event_is_recognised_for_one_window_at_least_and_two_at_most(
    processor: Processor, monkeypatch: pytest.MonkeyPatch
) -> None:
    window_ms = processor.store.window_s * 1000
    now = [window_ms * 1000 + window_ms - 1]  # the last millisecond of a generation
    monkeypatch.setattr("touchline.clock.now_ms", lambda: now[0])
    first = visit(T0, "10.10", "google", "cpc")
    (once,) = run(processor, first)
    forget(processor, once)
    now[0] += window_ms  # one window later: the previous generation is still read
    assert run(processor, first)[0].outcome == "duplicate"
    now[0] += window_ms  # two windows later: forgotten, applied again
    assert run(processor, first)[0].outcome == "enriched"
