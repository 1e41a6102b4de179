"""Identity splits in ClickHouse (sinks/sql/ddl/013_identity_splits.sql): every report applies
them as the plain-Python reference does (reference.canonical): an event carrying a
split identifier goes to the split-off client, an undone merge no longer maps."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

import reference as ref
from sinks import clickhouse, rows
from tests.report_data import (
    BASE,
    DAY_MS,
    T0,
    Dataset,
    card_rows,
    generate,
    split,
    summary_rows,
)
from tests.report_data import merge as merge_
from touchline.settings import Settings


def plant(data: Dataset) -> list[dict[str, Any]]:
    """Splits over the generated clients: half of some clients' events carry an email (or phone)
    that a claim split moves to a client of its own, and some of those identifiers are released
    later (shared: no client), and some of those events carry a web client id or a source-system
    id split off too; some alias merges (and a link of a chain) are undone; one undone merge is
    made again later (the later merge wins)."""
    splits, released = [], []
    by_client: dict[str, list[dict[str, Any]]] = {}
    for e in sorted(data.events, key=lambda e: e["occurred_at"]):
        by_client.setdefault(e["client_id"], []).append(e)
    for i in range(0, 150, 9):
        client = f"c{i}"
        account = by_client[client][0]["account_id"]
        kind = "email" if i % 2 else "phone"
        value = f"split{i}@x.de" if kind == "email" else f"+4930{i:07d}"
        for e in by_client[client][1::2]:
            e[kind] = value
        ids = [f"{kind}:{value}"]
        splits.append(split(account, "claim", client, f"s{i}", ids, T0 + 45 * DAY_MS))
        if i % 27 == 0:  # the identifier proves shared later: released, its events stay put
            released.append(split(account, "release", f"s{i}", "", ids, T0 + 55 * DAY_MS))
        if i % 54 == 0:  # ... unless they carry another split identifier: a released phone is
            cid = f"7{i}.424242"  # passed over (migration 019), their web client id's split decides
            for e in by_client[client][1::2]:
                e["cid"] = cid
            splits.append(split(account, "claim", client, f"s{i}c", [f"cid:{cid}"], T0 + DAY_MS))
        elif i % 27 == 0:  # ... or a source-system id (020; strongest first, in sorted order:
            for e in by_client[client][1::2]:  # "crm:" before "zz:", which no split names)
                e["external_ids"] = [f"crm:{i}", f"zz:{i}"]
            ids = [f"ext.crm:{i}"]
            splits.append(split(account, "claim", client, f"s{i}x", ids, T0 + DAY_MS))
    for i in (12, 66, 120):  # forms with a desk phone and a desk tablet's web client id alone
        client, phone, cid = f"c{i}", f"+4931{i:07d}", f"9{i}.111"
        account = by_client[client][0]["account_id"]
        for e in by_client[client][::3]:
            e.update(email=None, external_ids=[], phone=phone, cid=cid)
        if i == 12:  # claimed before it proved shared too
            splits.append(split(account, "claim", client, f"s{i}t", [f"cid:{cid}"], T0 + DAY_MS))
        released.append(split(account, "release", client, "", [f"phone:{phone}"], T0 + 55 * DAY_MS))
        if i != 66:  # both shared: each form is a client of its own (022); the phone alone: put
            released.append(split(account, "release", client, "", [f"cid:{cid}"], T0 + 56 * DAY_MS))
    for m in data.merges:
        src, dst = m["from_client_id"], m["to_client_id"]
        if (src.endswith("-alias") and int(dst[1:]) % 2 == 0) or src.endswith("-a"):
            splits.append(split(m["account_id"], "unmerge", dst, src, [], T0 + 50 * DAY_MS))
    again = next(m for m in data.merges if m["from_client_id"] == "c44-a")
    data.merges.append(merge_(again["account_id"], "c44-a", "c44", T0 + 60 * DAY_MS))
    return splits + released


Loaded = tuple[Client, str, Dataset, list[dict[str, Any]]]


def _of_forms(x: dict[str, Any]) -> bool:
    """A split planted for the forms with a desk phone and a desk tablet's client id."""
    return any(k.endswith(".111") or k.startswith("phone:+4931") for k in x["identifiers"])


def _load(dsn: str, db: str) -> Loaded:
    client = clickhouse.connect(dsn)
    clickhouse.migrate(client, db)
    data = generate(seed=7, clients=150)
    splits = plant(data)
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in data.events])
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in data.merges])
    batch = [rows.split_to_row(x) for x in splits]
    clickhouse.insert_splits(client, db, batch)
    clickhouse.insert_splits(client, db, batch[::2])  # redelivered splits change nothing
    return client, db, data, splits


@pytest.fixture(scope="module")
def shared(chdb_dir: Path) -> Loaded:
    """One loaded database for the tests that only read it."""
    return _load(f"chdb://{chdb_dir}", f"splits{uuid.uuid4().hex[:8]}")


@pytest.fixture
def loaded(chdb_settings: Settings) -> Loaded:
    """A database of its own, for a test that changes it."""
    return _load(chdb_settings.effective_clickhouse_dsn, chdb_settings.clickhouse_database)


def _run(ch: Client, db: str, name: str, **params: Any) -> list[tuple[Any, ...]]:
    return clickhouse.query(ch, name, db, params)[1]


def test_splits_give_each_person_their_own_events(shared: Loaded) -> None:
    client, db, data, splits = shared
    expected = sorted(
        (e["event_id"], e["client_id"]) for e in ref.canonical(data.events, data.merges, splits)
    )
    got = client.query(f"SELECT toString(event_id), client_id FROM `{db}`.events_canonical")
    assert sorted((str(r[0]), str(r[1])) for r in got.result_rows) == expected
    targets = {x["to_client_id"] for x in splits}
    moved = {c for _, c in expected if c in targets and c.startswith("s")}
    forms = {e["event_id"]: e["phone"] for e in data.events if str(e.get("cid")).endswith(".111")}
    kinds = [x["kind"] for x in splits if not _of_forms(x)]
    assert len(moved) == kinds.count("claim") - kinds.count("release") > 0
    # the forms whose phone and web client id both proved shared: each a client of its own
    own = {e for e, c in expected if c.startswith("s") and c not in targets}
    assert own == {e for e, phone in forms.items() if phone != "+49310000066"} != set()
    without = sorted(
        (e["event_id"], e["client_id"]) for e in ref.canonical(data.events, data.merges)
    )
    assert len(set(expected) - set(without)) > 100  # the splits changed who many events belong to


@pytest.mark.parametrize(
    "name,params",
    [
        (
            "booking_funnel",
            {"breakdown": "channel", "profiles": 1, "strict": 0, "window_ms": DAY_MS},
        ),
        ("booking_outcomes", {"breakdown": ""}),
        ("attribution", {"model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0}),
        ("appointments", {}),
        ("classes", {}),
        ("engagement", {"breakdown": "channel"}),
    ],
)
def test_every_report_applies_the_splits_as_the_reference_does(
    shared: Loaded, name: str, params: dict[str, Any]
) -> None:
    client, db, data, splits = shared
    merged = {**BASE, **params}
    expected = getattr(ref, name)(ref.canonical(data.events, data.merges, splits), merged)
    assert _run(client, db, name, **merged) == expected


@pytest.mark.parametrize(
    "who",
    [
        "split9@x.de",
        "+49300000018",
        "s9",
        "c9",
        "c18",
        "c14-alias",
        "c14",
        "c44-b",
        "c22-a",
        "c22",
        "s27x",  # the released email passed over: the CRM id's split decides (020)
        "c27",
    ],
)
def test_the_client_card_applies_the_splits_as_the_reference_does(shared: Loaded, who: str) -> None:
    client, db, data, splits = shared
    params = {**BASE, "client": who}
    events = ref.canonical(data.events, data.merges, splits)
    expected = ref.client_card(events, params)
    assert expected
    cols, got = clickhouse.query(client, "client_card", db, params)
    assert card_rows(cols, got) == expected
    summary = _run(client, db, "client_summary", **params)
    assert summary_rows(summary) == ref.client_summary(events, params)


def test_erasing_a_split_off_person_deletes_their_splits(loaded: Loaded) -> None:
    from sinks import erasure

    client, db, _data, splits = loaded
    account = next(x["account_id"] for x in splits if x["to_client_id"] == "s9")
    # one split names s9; stored twice when it is among the redelivered half (not merged yet)
    stored = client.command(
        f"SELECT count() FROM `{db}`.identity_splits WHERE 's9' IN (from_client_id, to_client_id)"
    )
    assert stored in (1, 2)
    found = erasure.erase(client, db, account, {"s9"})  # raises if a row of theirs is left
    assert found["clickhouse.identity_splits"] == stored
    left = erasure.count(client, db, account, erasure.select(client, db, account, {"s9"}))
    assert left["clickhouse.identity_splits"] == 0


def test_two_identifiers_one_event_proved_shared_are_both_released(chdb_dir: Path) -> None:
    """One event proves a family's landline and their tablet's client id shared at once: two
    `release` splits to no client, named by that event. Both stay after ClickHouse merged the
    table's parts (023; before, the table's key kept one), and a redelivered one still collapses."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"release{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    event = str(uuid.uuid4())
    both = [
        split("acc", "release", "c1", "", [k], T0 + n, via=k.split(":")[0], event_id=event)
        for n, k in enumerate(("phone:+49305550005", "cid:7.1"))
    ]
    batch = [rows.split_to_row(x) for x in both]
    clickhouse.insert_splits(client, db, batch)
    clickhouse.insert_splits(client, db, batch[:1])  # redelivered
    client.command(f"OPTIMIZE TABLE `{db}`.identity_splits FINAL")
    assert client.command(f"SELECT count() FROM `{db}`.identity_splits") == 2
    released = client.query(f"SELECT identifier, to_client_id FROM `{db}`.split_identifiers")
    assert sorted(released.result_rows) == [("cid:7.1", ""), ("phone:+49305550005", "")]
