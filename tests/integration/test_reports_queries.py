"""Each report query against an independent plain-Python computation over generated rows."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

import reference as ref
from sinks import clickhouse, rows
from sinks.parameters import DEFAULTS
from tests.report_data import (
    BASE,
    DAY_MS,
    T0,
    Dataset,
    card_rows,
    event,
    generate,
    summary_rows,
)
from tests.report_data import merge as merge_
from touchline.settings import Settings


def _load(chdb_dir: Path, extra: list[dict[str, Any]]) -> tuple[Client, str, Dataset]:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"rq{uuid.uuid4().hex[:12]}"
    clickhouse.migrate(client, db)
    data = generate(seed=7, clients=150)
    batch = [rows.to_row(e) for e in data.events + extra]
    clickhouse.insert_events(client, db, batch)
    clickhouse.insert_events(client, db, batch[::3])  # redelivered rows of every kind: no change
    merges = [rows.merge_to_row(m) for m in data.merges]
    clickhouse.insert_merges(client, db, merges)
    clickhouse.insert_merges(client, db, merges[::2])
    return client, db, data


@pytest.fixture(scope="module")
def loaded(chdb_dir: Path) -> tuple[Client, str, Dataset]:
    """The generated data in a database of its own, loaded once: the tests only query it."""
    return _load(chdb_dir, [])


@pytest.fixture(scope="module")
def carded(chdb_dir: Path) -> tuple[Client, str, Dataset]:
    """The same data and the cards' extra calls (:func:`_card_extra`), loaded once."""
    return _load(chdb_dir, _card_extra())


def _card_extra() -> list[dict[str, Any]]:
    return [
        event(
            event_type="inbound_call",
            family="touchline.events.InboundContact",
            occurred_at=T0 + day * DAY_MS + 7_777,
            account_id=acc,
            client_id=cid,
            email=email,
            phone=phone,
            channel="phone_call",
            is_touch=True,
            is_contact=True,
        )
        for acc, cid, email, phone, day in CARD_EXTRA
    ]


def _run(ch: Client, db: str, name: str, **params: Any) -> list[tuple[Any, ...]]:
    return clickhouse.query(ch, name, db, params)[1]


FUNNEL_CASES = [
    {"breakdown": "", "profiles": 1, "strict": 0, "window_ms": 86_400_000},
    {
        "breakdown": "",
        "profiles": 0,
        "strict": 0,
        "window_ms": 86_400_000,
        "from": DEFAULTS["from"],
        "to": DEFAULTS["to"],
    },
    {"breakdown": "", "profiles": 0, "strict": 0, "window_ms": 86_400_000},
    {"breakdown": "channel", "profiles": 1, "strict": 1, "window_ms": 86_400_000},
    {"breakdown": "store", "profiles": 0, "strict": 1, "window_ms": 3_600_000},
    {"breakdown": "service", "profiles": 1, "strict": 0, "window_ms": 7 * 86_400_000},
    {"breakdown": "resource", "profiles": 1, "strict": 0, "window_ms": 86_400_000},
    {"breakdown": "campaign", "profiles": 1, "strict": 0, "window_ms": 86_400_000},
    {
        "breakdown": "device",
        "profiles": 1,
        "strict": 0,
        "window_ms": 86_400_000,
        "account": "acc1",
    },
    {"breakdown": "", "profiles": 1, "strict": 0, "window_ms": 86_400_000, "location": "s2"},
    {
        "breakdown": "",
        "profiles": 1,
        "strict": 0,
        "window_ms": 86_400_000,
        "service": "cut",
        "from": date(2025, 1, 10),
        "to": date(2025, 2, 10),
    },
]


@pytest.mark.parametrize("case", FUNNEL_CASES)
def test_booking_funnel_matches_reference(
    loaded: tuple[Client, str, Dataset], case: dict[str, Any]
) -> None:
    client, db, data = loaded
    params = {**BASE, **case}
    expected = ref.booking_funnel(ref.canonical(data.events, data.merges), params)
    assert expected and any(r[3] for r in expected)
    assert _run(client, db, "booking_funnel", **params) == expected


@pytest.mark.parametrize("breakdown", ["", "channel", "store", "device"])
def test_booking_outcomes_matches_reference(
    loaded: tuple[Client, str, Dataset], breakdown: str
) -> None:
    client, db, data = loaded
    params = {**BASE, "breakdown": breakdown}
    expected = ref.booking_outcomes(ref.canonical(data.events, data.merges), params)
    assert any(r[2] for r in expected) and any(r[3] for r in expected)
    assert any(r[7] is not None for r in expected)
    assert _run(client, db, "booking_outcomes", **params) == expected


ATTR_CASES = [
    {"model": "", "by": "channel", "lookback_days": 30, "half_life_days": 7.0},
    {
        "model": "",
        "by": "channel",
        "lookback_days": 30,
        "half_life_days": 7.0,
        "from": DEFAULTS["from"],
        "to": DEFAULTS["to"],
    },
    {"model": "", "by": "campaign", "lookback_days": 90, "half_life_days": 3.5},
    {"model": "time_decay", "by": "channel", "lookback_days": 7, "half_life_days": 1.0},
    {
        "model": "",
        "by": "channel",
        "lookback_days": 30,
        "half_life_days": 7.0,
        "session_timeout_minutes": 5,
        "min_channels": 3,
    },
    {
        "model": "",
        "by": "campaign",
        "lookback_days": 30,
        "half_life_days": 7.0,
        "session_timeout_minutes": 240,
        "from": date(2025, 2, 1),
        "to": date(2025, 2, 20),
    },
    {
        "model": "position",
        "by": "channel",
        "lookback_days": 30,
        "half_life_days": 7.0,
        "account": "acc2",
        "location": "s1",
    },
]


@pytest.mark.parametrize("case", ATTR_CASES)
def test_attribution_matches_reference(
    loaded: tuple[Client, str, Dataset], case: dict[str, Any]
) -> None:
    client, db, data = loaded
    params = {**BASE, **case}
    expected = ref.attribution(ref.canonical(data.events, data.merges), params)
    assert len({r[1] for r in expected}) > 2
    assert any(len(r[3]) > 1 for r in expected)  # revenue credited in several currencies
    assert _run(client, db, "attribution", **params) == expected


# Events naming a client by email or phone (the generated data has none): one on a merged-away id
# of a chain, one sharing the email in the other account, one on a merged-away alias.
CARD_EXTRA = [
    ("acc1", "c22-b", "pat@example.com", "+100", 60),
    ("acc2", "c35", "pat@example.com", None, 61),
    ("acc1", "c14-alias", None, "+200", 62),
]


@pytest.mark.parametrize(
    "who,account,options",
    [
        ("c14", "", {}),
        ("c14-alias", "", {}),
        ("ga.22", "", {}),
        ("c22-b", "", {}),
        ("c33", "", {}),
        ("c22-a", "acc1", {}),
        ("pat@example.com", "", {}),
        ("pat@example.com", "acc2", {}),
        ("+100", "", {}),
        ("+200", "acc1", {}),
        ("c14", "", {"session_timeout_minutes": 5, "min_channels": 1, "lookback_days": 7}),
        ("c22", "", {"session_timeout_minutes": 600, "min_channels": 3}),
    ],
)
def test_client_card_matches_reference(
    carded: tuple[Client, str, Dataset], who: str, account: str, options: dict[str, Any]
) -> None:
    client, db, data = carded
    extra = _card_extra()
    params = {**BASE, "client": who, "account": account, **options}
    events = ref.canonical(data.events + extra, data.merges)
    expected = ref.client_card(events, params)
    cols, got = clickhouse.query(client, "client_card", db, params)
    assert expected
    assert card_rows(cols, got) == expected
    summary = _run(client, db, "client_summary", **params)
    assert summary_rows(summary) == ref.client_summary(events, params)


@pytest.mark.parametrize(
    "name,extra",
    [
        ("appointments", {}),
        ("appointments", {"location": "s2", "service": "cut"}),
        ("classes", {}),
        ("classes", {"location": "s1", "account": "acc1"}),
        ("class_cancellations", {}),
        ("engagement", {"breakdown": "channel"}),
        ("engagement", {"breakdown": "device", "from": date(2025, 1, 20), "to": date(2025, 3, 1)}),
        ("engagement", {"breakdown": ""}),
        ("experiments", {"window_days": 14}),
        ("experiments", {"window_days": 3, "account": "acc1"}),
        ("feedback", {"by": "channel"}),
        ("feedback", {"by": "location"}),
    ],
)
def test_studio_and_engagement_reports_match_reference(
    loaded: tuple[Client, str, Dataset], name: str, extra: dict[str, Any]
) -> None:
    client, db, data = loaded
    params = {**BASE, **extra}
    expected = getattr(ref, name)(ref.canonical(data.events, data.merges), params)
    assert expected and any(isinstance(v, int) and v > 0 for r in expected for v in r)
    assert _run(client, db, name, **params) == expected


def test_touches_are_derived_in_event_time_not_read_from_stored_flags(
    chdb_settings: Settings,
) -> None:
    """A planted history, written out by hand (independent of the reference): the stored flags
    say nothing is a touch and every page came from email; the card derives the truth."""
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    clickhouse.migrate(client, db)
    m = 60_000
    wrong = {"is_touch": False, "multichannel": False, "channel": "email", "touch_seq": 9}
    tags = {"utm_source": "google", "utm_medium": "cpc"}
    planted = [
        # (minute offset, event_type, stitched id, own channel, campaign tags, contact?, web hit?)
        (0, "page_view", "p1", "paid_search", {**tags, "utm_campaign": "spring"}, False, True),
        (5, "page_view", "p1-x", "paid_social", {"utm_source": "facebook"}, False, True),
        (8, "page_view", "p1", "paid_search", {**tags, "utm_campaign": "spring"}, False, True),
        (10, "page_view", "p1-x", "direct", {}, False, True),  # same visit, on the merged alias
        (40, "page_view", "p1", "direct", {}, False, True),  # exactly 30 minutes: new session
        (70 - 1 / m, "page_view", "p1-x", "direct", {}, False, True),  # 1 ms short: same visit
        (75, "page_view", "p1", "paid_search", {**tags, "utm_campaign": "brand"}, False, True),
        (76, "contact_web_form", "p1", "direct", {}, True, True),  # a hit and a contact: once
        (120, "crm_lead", "p1-x", "crm_offline", {}, False, False),
    ]
    events = [
        event(
            event_type=kind,
            occurred_at=T0 + round(minutes * m),
            client_id=stitched,
            own_channel=own,
            is_contact=contact,
            session_id="arrival-order-session" if hit else None,
            **tags_,
            **wrong,
        )
        for minutes, kind, stitched, own, tags_, contact, hit in planted
    ]
    # arrival order is irrelevant: insert them late-first, in two batches
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events[::-1][:3]])
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events[::-1][3:]])
    clickhouse.insert_merges(client, db, [rows.merge_to_row(merge_("acc1", "p1-x", "p1", T0))])
    cols, got = clickhouse.query(client, "client_card", db, {**BASE, "client": "p1-x"})
    pick = [cols.index(c) for c in ("event_type", "kind", "channel", "multichannel")]
    assert [tuple(r[i] for i in pick) for r in got] == [
        ("page_view", "touch", "paid_search", False),
        ("page_view", "touch", "paid_social", False),  # a new campaign starts a session
        ("page_view", "touch", "paid_search", False),  # and so does the first one again
        ("page_view", "touch", "direct", False),
        ("page_view", "touch", "paid_search", False),
        ("contact_web_form", "contact", "direct", True),
        ("crm_lead", "touch", "crm_offline", False),
    ]
    assert got[5][cols.index("channels_before")] == ["paid_search", "paid_social", "direct"]
    summary = clickhouse.query(client, "client_summary", db, {**BASE, "client": "p1"})
    row = dict(zip(summary[0], summary[1][0], strict=True))
    assert (row["first_touch_channel"], row["first_touch_campaign"], row["touches"]) == (
        "paid_search",
        "spring",
        7,
    )
    assert row["multichannel_contacts"] == 1 and row["channels"] == [
        "crm_offline",
        "direct",
        "paid_search",
        "paid_social",
    ]
    # with min_channels 4 the contact is not multichannel; with a 5-minute timeout the page 1 ms
    # short of 30 minutes starts a session of its own (8 touches, not 7)
    stricter = {**BASE, "client": "p1", "min_channels": 4, "session_timeout_minutes": 5}
    cols, got = clickhouse.query(client, "client_card", db, stricter)
    assert [r[cols.index("multichannel")] for r in got] == [False] * 8
    client.close()


def test_event_status_lists_the_stored_events_among_the_ids_given(
    loaded: tuple[Client, str, Dataset],
) -> None:
    """The ingestion check (``touchline report events``): stored ids come back once each (the
    load stored a third of them twice), unknown ids and text that is no UUID do not."""
    ch, db, data = loaded
    picked = [data.events[0], data.events[3], data.events[-1]]
    ids = [e["event_id"] for e in picked]
    asked = ",".join([*ids, str(uuid.uuid4()), "not-a-uuid", f" {ids[0]}"])
    got = _run(ch, db, "event_status", events=asked)
    ms = [(r[0], r[1], round(r[2].timestamp() * 1000), round(r[3].timestamp() * 1000), r[4], r[5])
          for r in got]  # fmt: skip
    expected = sorted(
        (e["event_id"], e["event_type"], e["occurred_at"], e["processed_at"], e["client_id"],
         e["source"]) for e in picked
    )  # fmt: skip
    assert sorted(ms) == expected
    other = next(e for e in data.events if e["account_id"] != picked[0]["account_id"])
    only = _run(ch, db, "event_status", events=other["event_id"], account=picked[0]["account_id"])
    assert only == []
