"""Erasure where identity splits exist (issue 10, identity splits): two people joined through a
shared front-desk phone, then split apart when a third profile proved the phone shared. Stored
rows as the worker and the sink leave them (tests/split_scenarios.py): person B's events from
while they were joined are stored under person A's stitched client id, the split
(sinks/sql/ddl/013_identity_splits.sql) gives them back to B in every report.

Erasing either person (sinks/erasure.py, chDB) removes exactly their rows, as the reports
attribute them (events wherever stored, the rows derived from them, their profile, the merges and
splits naming their clients), and leaves every row of the other person and the other person's
client card and summary as they were. Both kinds of split: a claim (B's email claimed through the
phone) and an unmerge (B's client merged into A's through the phone, undone). Then the whole
`touchline erase` (Redis too) after the worker and the sink made the rows."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from cli.main import _privacy_sides
from pipeline.store import ClientStore
from sinks import clickhouse, erasure, rows
from tests.integration.test_split_pipeline import run as pipeline_run
from tests.report_data import BASE, event, line, split
from tests.report_data import merge as merge_
from tests.split_scenarios import journeys
from touchline import privacy
from touchline.services.stack import Endpoints
from touchline.settings import Settings

ACC = "acc"
T0 = 1_735_732_800_000  # 2025-01-01T12:00Z
H = 3_600_000
PHONE, E1, E2, E3 = "+49305550100", "one@x.de", "two@x.de", "three@x.de"
PAGE = {"family": "touchline.events.WebTouch", "event_type": "page_view", "is_touch": True}
KINDS: dict[str, dict[str, Any]] = {
    "profile": {"family": "touchline.events.ClientProfile", "event_type": "client_profile_synced"},
    "page": {**PAGE, "channel": "paid_search", "own_channel": "paid_search", "session_id": "s"},
    "booking": {
        "family": "touchline.events.BookingStep",
        "event_type": "appointment_booking_start",
        "lines": [line(store_id="st1", service_id="yoga")],
    },
    "order": {
        "family": "touchline.events.OrderPlaced",
        "event_type": "order_placed",
        "revenue_minor": 5000,
        "currency": "EUR",
        "lines": [line(service_id="yoga", amount_minor=5000)],
    },
    "call": {
        "family": "touchline.events.InboundContact",
        "event_type": "contact_call",
        "is_contact": True,
        "channel": "call",
        "own_channel": "call",
    },
}


def _id(acc: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"split-erasure-{acc}-{name}"))


def _ev(acc: str, name: str, stitched: str, hour: int, kind: str, **ids: Any) -> dict[str, Any]:
    attributes = {"first_name": name} if kind == "profile" else {}
    return event(
        event_id=_id(acc, name),
        account_id=acc,
        client_id=stitched,
        occurred_at=T0 + hour * H,
        attributes=attributes,
        **KINDS[kind],
        **ids,
    )


def _split(acc: str, kind: str, src: str, dst: str, hour: int) -> dict[str, Any]:
    ids, at, event_id = [f"email:{E2}"], T0 + hour * H, _id(acc, f"{kind}-split")
    return split(acc, kind, src, dst, ids, at, via=f"phone:{PHONE}", event_id=event_id)


def claim(acc: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A (client a) owns the phone; B claims their email through it, so B's events go to a until
    C's profile proves the phone shared: B's email is split off to client s."""
    events = [
        _ev(acc, "A-profile", "a", 0, "profile", email=E1, phone=PHONE),
        _ev(acc, "A-visit", "a", 1, "page", cid="1.1"),
        _ev(acc, "A-order", "a", 2, "order", email=E1),
        _ev(acc, "B-profile", "a", 3, "profile", email=E2, phone=PHONE),
        _ev(acc, "B-booking", "a", 4, "booking", email=E2, cid="2.2"),
        _ev(acc, "B-order", "a", 5, "order", email=E2),
        _ev(acc, "A-call", "a", 6, "call", phone=PHONE),
        _ev(acc, "C-profile", "c", 7, "profile", email=E3, phone=PHONE),
        _ev(acc, "B-visit", "s", 8, "page", email=E2, cid="2.2"),
        _ev(acc, "C-visit", "c", 9, "page", cid="3.3"),
    ]
    return events, [], [_split(acc, "claim", "a", "s", 7)]


def unmerge(acc: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """B's client b is merged into A's client a through the phone (B's profile carries it), then
    undone when C's profile proves the phone shared."""
    events = [
        _ev(acc, "A-profile", "a", 0, "profile", email=E1, phone=PHONE),
        _ev(acc, "A-visit", "a", 1, "page", cid="1.1"),
        _ev(acc, "B-visit", "b", 2, "page", email=E2, cid="2.2"),
        _ev(acc, "B-profile", "a", 3, "profile", email=E2, phone=PHONE),
        _ev(acc, "B-order", "a", 4, "order", email=E2),
        _ev(acc, "A-order", "a", 5, "order", email=E1),
        _ev(acc, "C-profile", "c", 7, "profile", email=E3, phone=PHONE),
        _ev(acc, "B-booking", "b", 8, "booking", email=E2, cid="2.2"),
        _ev(acc, "A-call", "a", 9, "call", phone=PHONE),
    ]
    merges = [merge_(acc, "b", "a", T0 + 3 * H)]
    return events, merges, [_split(acc, "unmerge", "a", "b", 7)]


SCENARIOS = {
    "claim": (claim, {"A": "a", "B": "s", "C": "c"}),
    "unmerge": (unmerge, {"A": "a", "B": "b", "C": "c"}),
}


@pytest.fixture(scope="module")
def loaded(chdb_dir: Path) -> tuple[Client, str]:
    """One database, both scenarios in an account per test (``<scenario>-<erased person>``)."""
    client, db = clickhouse.connect(f"chdb://{chdb_dir}"), f"splitera{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    for scenario in SCENARIOS:
        for erased in "AB":
            events, merges, splits = SCENARIOS[scenario][0](f"{scenario}-{erased}")
            clickhouse.insert_events(client, db, [rows.to_row(e) for e in events])
            if merges:
                clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in merges])
            clickhouse.insert_splits(client, db, [rows.split_to_row(x) for x in splits])
    return client, db


def _by_person(client: Client, db: str, acc: str, table: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of a table keyed by whose event it is (the event names start with the person),
    rows without an event id (client_profiles) by their first name."""
    key, final = ("first_name", "FINAL") if table == "client_profiles" else ("event_id", "")
    sql = f"SELECT toString({key}), * FROM `{db}`.{table} {final} WHERE account_id = {{acc:String}}"
    ids = {
        _id(acc, f"{p}-{k}"): p
        for p in "ABC"
        for k in ("profile", "visit", "order", "booking", "call")
    }
    out: dict[str, list[tuple[Any, ...]]] = {}
    for r in client.query(sql, parameters={"acc": acc}).result_rows:
        who = str(r[0])[0] if table == "client_profiles" else ids[str(r[0])]
        out.setdefault(who, []).append(tuple(r[1:]))
    return out


TABLES = ("events", "touches", "order_lines", "booking_steps", "client_profiles")


def _snapshot(client: Client, db: str, acc: str) -> dict[str, Any]:
    return {t: _by_person(client, db, acc, t) for t in TABLES}


def _card(client: Client, db: str, who: str, acc: str = ACC) -> Any:
    params = {**BASE, "account": acc, "client": who}
    return (
        clickhouse.query(client, "client_card", db, params)[1],
        clickhouse.query(client, "client_summary", db, params)[1],
    )


def _identity(client: Client, db: str, acc: str, table: str) -> list[tuple[str, str]]:
    sql = (
        f"SELECT from_client_id, to_client_id FROM `{db}`.{table} WHERE account_id = {{acc:String}}"
    )
    return [(str(r[0]), str(r[1])) for r in client.query(sql, parameters={"acc": acc}).result_rows]


@pytest.mark.parametrize("erased", ["A", "B"])
@pytest.mark.parametrize("scenario", ["claim", "unmerge"])
def test_erasing_one_of_two_split_people_takes_exactly_their_rows(
    loaded: tuple[Client, str], scenario: str, erased: str
) -> None:
    (client, db), acc = loaded, f"{scenario}-{erased}"
    clients = SCENARIOS[scenario][1]
    kept = "B" if erased == "A" else "A"
    emails = {"A": E1, "B": E2, "C": E3}
    before = _snapshot(client, db, acc)
    assert all(before["events"][p] for p in "ABC")
    cards = {kept: _card(client, db, emails[kept], acc)}  # C's rows are compared below
    assert cards[kept][0] and [r[0] for r in cards[kept][1]] == [clients[kept]]

    cluster = erasure.find_cluster(client, db, acc, set(), {f"email:{emails[erased]}"})
    assert cluster.clients == {clients[erased]}
    # the shared phone is no one's: it neither widens the cluster in Redis nor gets suppressed
    cids = {"A": "1.1", "B": "2.2"}
    assert cluster.identifier_keys() == {f"email:{emails[erased]}", f"cid:{cids[erased]}"}
    found = erasure.erase(client, db, acc, cluster.clients)  # raises if a row of theirs is left

    after = _snapshot(client, db, acc)
    for table in TABLES[:-1]:
        assert erased not in after[table], table  # nothing of theirs, wherever it was stored
        for person in (kept, "C"):
            assert after[table].get(person) == before[table].get(person), (table, person)
    # client_profiles: one row per stitched client, made from the latest profile event stored
    # under it; what is left is what the profile events left make
    latest: dict[str, tuple[int, str]] = {}
    for e in SCENARIOS[scenario][0](acc)[0]:
        if e["family"].endswith("ClientProfile") and not e["attributes"]["first_name"].startswith(
            erased
        ):
            latest[e["client_id"]] = max(
                latest.get(e["client_id"], (0, "")),
                (e["occurred_at"], e["attributes"]["first_name"]),
            )
    profiles = sorted((r[1], r[5]) for rs in after["client_profiles"].values() for r in rs)
    assert profiles == sorted((c, name) for c, (_, name) in latest.items())
    assert found["clickhouse.events"] == len(before["events"][erased])
    assert _card(client, db, emails[kept], acc) == cards[kept]
    assert _card(client, db, emails[erased], acc) == ([], [])
    named = [
        pair
        for t in ("identity_merges", "identity_splits")
        for pair in _identity(client, db, acc, t)
        if clients[erased] in pair
    ]
    assert named == []
    again = erasure.find_cluster(client, db, acc, set(), {f"email:{emails[erased]}"})
    assert again.clients == set()  # nothing of theirs left to find


def _people(client: Client, db: str) -> tuple[list[list[str]], dict[str, Any]]:
    """The events (by name, tests/split_scenarios.journeys) of each canonical client, and the
    client card and summary of each email."""
    names = {str(uuid.uuid5(uuid.NAMESPACE_URL, f"split-{n}")): n for n, _ in journeys()}
    people: dict[str, list[str]] = {}
    sql = f"SELECT toString(event_id), client_id FROM `{db}`.events_canonical ORDER BY ALL"
    for event_id, client_id in client.query(sql).result_rows:
        people.setdefault(client_id, []).append(names[event_id])
    cards = {e: _card(client, db, e) for e in (E1, E2, E3)}
    return sorted(sorted(p) for p in people.values()), cards


@pytest.mark.parametrize("who", [E1])
def test_touchline_erase_takes_one_of_the_people_split_off_a_shared_phone(
    chdb_settings: Settings, services: Endpoints, who: str
) -> None:
    """The whole `touchline erase` (Redis and ClickHouse sides as the CLI composes them) after
    tests/split_scenarios.journeys went through the worker's processor and the sink in event
    time (person 2 merged into person 1 through the phone, moved to a client of their own when
    person 3 proves it shared): the person asked for goes, the others keep their events, cards
    and summaries."""
    s = chdb_settings.model_copy(
        update={
            "kafka_bootstrap": services.kafka_bootstrap,
            "redis_url": services.redis_url,
            "identity_max_share": 2,
        }
    )
    assert pipeline_run(s, services.redis_url, journeys())["splits"] == 2  # a claim, a release
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    people, cards = _people(client, s.clickhouse_database)
    person = {E1: ["p1-profile"], E2: ["p2-booking", "p2-order", "p2-profile", "p2-visit"]}
    assert person[who] in people
    live = _live_cards(s, [e for e in (E1, E2, E3) if e != who])
    privacy.compose(_privacy_sides)  # what the CLI does
    result = privacy.erase(s, privacy.Request(ACC, email=who))
    assert result.verified and result.counts["clickhouse.events"] == len(person[who])
    left, cards_left = _people(client, s.clickhouse_database)
    assert left == [p for p in people if p != person[who]]
    assert cards_left == {**cards, who: ([], [])}
    assert _live_cards(s, list(live)) == live  # the others' live cards in Redis too


def _live_cards(s: Settings, emails: list[str]) -> dict[str, Any]:
    async def cards() -> dict[str, Any]:
        store = ClientStore(s.redis_url or "", s.topic_prefix, max_share=2)
        try:
            out = {}
            for e in emails:
                found = await store.lookup(ACC, f"email:{e}")
                out[e] = await store.card(ACC, found) if found else None
            return out
        finally:
            await store.close()

    return asyncio.run(cards())
