"""Events of one client at the same millisecond: "by time, then event id" must mean the same
order in the SQL as in the reference and the worker, which compare event ids as their text.
ClickHouse compares UUID values by their second half first, so ``ORDER BY ts, event_id`` sorts
these two hits the other way round; the event-time SQL orders by ``toUInt128(event_id)``, which
is the text's order. Sources with second (or minute) precision make such ties common."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import reference as ref
from sinks import clickhouse, rows, touch_derivation
from tests.report_data import BASE, T0, card_rows, event
from tests.support import insert_before_external_ids

# text order: FIRST < SECOND; ClickHouse's UUID order: SECOND < FIRST (its second half is lower)
FIRST = "00000000-0000-0000-ffff-000000000000"
SECOND = "00000000-0000-0001-0000-000000000000"
STEP = "appointment_booking_start"


def tied_events(first: str, second: str) -> list[dict[str, Any]]:
    """A paid click and a plain page view at the same millisecond, then a booking that succeeds.
    In text order the click starts the visit and the page view continues it (one touch, paid);
    the other way round the page view starts a direct visit and the click a second one."""
    common = {"client_id": "c1", "session_id": "s1", "occurred_at": T0 + 3_600_000}
    paid = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring"}
    booking = "touchline.events.BookingStep"
    return [
        event(event_id=first, own_channel="paid_search", channel="paid_search", **common, **paid),
        event(event_id=second, own_channel="direct", **common),
        event(
            event_type=STEP, family=booking, client_id="c1", session_id="s1",
            occurred_at=T0 + 3_660_000,
        ),
        event(
            event_type="appointment_booking_step_success", family=booking, client_id="c1",
            session_id="s1", occurred_at=T0 + 3_720_000,
        ),
    ]  # fmt: skip


def test_ties_in_time_are_ordered_by_the_event_id_text(chdb_dir: Path) -> None:
    assert str(uuid.UUID(FIRST)) < str(uuid.UUID(SECOND))
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    uuid_order = client.query(f"SELECT toUUID('{SECOND}') < toUUID('{FIRST}')").result_rows
    assert uuid_order == [(1,)]  # the premise: ClickHouse's own UUID order differs from the text's
    db = f"ties{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    events = tied_events(FIRST, SECOND)
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events])
    assert touch_derivation.complete(client, db, 30)
    events = ref.canonical(events, [])
    card = {**BASE, "client": "c1"}
    expected_card = ref.client_card(events, card)
    assert [r[4] for r in expected_card] == ["paid_search"]  # one visit, started by the click
    assert card_rows(*clickhouse.query(client, "client_card", db, card)) == expected_card
    for name, params in [
        ("attribution", {"model": "", "by": "channel", "half_life_days": 7.0}),
        ("booking_funnel", {"breakdown": "campaign", "profiles": 0, "strict": 0}),
    ]:
        merged = {**BASE, "window_ms": 86_400_000, **params}
        expected = getattr(ref, name)(events, merged)
        assert clickhouse.query(client, name, db, merged)[1] == expected, name


@pytest.mark.parametrize("first,second", [(FIRST, SECOND), (SECOND, FIRST)])
def test_the_query_time_derivation_orders_ties_the_same(
    chdb_dir: Path, first: str, second: str
) -> None:
    """Before a full derivation exists, reports derive at query time: the same order there."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"ties{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    events = tied_events(first, second)
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events], derive=False)
    client.command(f"TRUNCATE TABLE `{db}`.event_time_derivations")
    params = {**BASE, "model": "", "by": "channel", "half_life_days": 7.0}
    expected = ref.attribution(ref.canonical(events, []), params)
    assert clickhouse.query(client, "attribution", db, params)[1] == expected


def test_an_appointments_first_location_is_taken_in_the_same_order(chdb_dir: Path) -> None:
    """Two events of one appointment in the same millisecond, each with its own location: its
    location is that of the first in (time, event id text) order, as in the reference."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"ties{uuid.uuid4().hex[:8]}"
    clickhouse.migrate(client, db)
    common = {
        "family": "touchline.events.AppointmentEvent", "client_id": "c1",
        "occurred_at": T0 + 3_600_000, "attributes": {"appointment_id": "a1"},
    }  # fmt: skip
    events = [
        event(event_id=SECOND, event_type="appointment_scheduled", location_id="s1", **common),
        event(event_id=FIRST, event_type="appointment_confirmed", location_id="s2", **common),
    ]
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events])
    params = {**BASE, "location": "", "service": ""}
    expected = ref.appointments(ref.canonical(events, []), params)
    assert expected[0][0] == "s2"  # the confirmation's id comes first as text
    assert clickhouse.query(client, "appointments", db, params)[1] == expected


def test_migrate_derives_the_touches_stored_in_the_old_order_again(
    chdb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """018 forgets the complete derivations: `migrate` derives every client again, so touches
    stored by an older version (here: the page view that started a visit in the old order) go."""
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = f"ties{uuid.uuid4().hex[:8]}"
    files = clickhouse.ddl_files()
    monkeypatch.setattr(clickhouse, "ddl_files", lambda: [f for f in files if f[0] < 18])
    clickhouse.migrate(client, db)
    events = tied_events(FIRST, SECOND)
    insert_before_external_ids(client, db, events)
    touch_derivation.rederive(
        client, db, touch_derivation.named(events=[rows.to_row(e) for e in events])
    )
    # what the old order had derived besides: the page view (SECOND) starting a direct visit
    client.command(
        f"INSERT INTO `{db}`.event_time_touches SELECT account_id, session_timeout_minutes, "
        f"toUUID('{SECOND}'), client_id, occurred_at, true, is_contact, event_type, 'direct', "
        f"NULL, now64(6), 0 FROM `{db}`.event_time_touches FINAL WHERE event_id = '{FIRST}'"
    )
    assert touch_derivation.complete(client, db, 30)
    old = stored_touches(client, db)
    monkeypatch.setattr(clickhouse, "ddl_files", lambda: [f for f in files if f[0] < 19])
    assert clickhouse.migrate(client, db) == ["018_event_order.sql"]
    assert touch_derivation.complete(client, db, 30)
    new = stored_touches(client, db)
    assert new != old
    assert new == [(FIRST, True)]  # the click starts the one visit; the page view is no touch


def stored_touches(client: Any, db: str) -> list[tuple[str, bool]]:
    got = client.query(
        f"SELECT toString(event_id), session_start FROM `{db}`.event_time_touches FINAL "
        "WHERE NOT is_deleted AND NOT is_contact AND event_type = 'page_view' ORDER BY 1"
    )
    return [(r[0], bool(r[1])) for r in got.result_rows]
