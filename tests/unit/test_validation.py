from __future__ import annotations

import pytest

from producers.events import Prepared, occurred_range, parse_time_bound, prepare
from touchline.contracts import load
from touchline.settings import REPO_ROOT
from touchline.validation import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS, coerce

CONTRACTS = load(REPO_ROOT / "schemas")
STEP = CONTRACTS.expanded["touchline.events.BookingStep"]


def envelope(**over: object) -> dict[str, object]:
    env: dict[str, object] = {
        "event_id": "0b8e6b4e-6a0e-4c1e-9a39-6c6a1c0e0a11",
        "event_type": "appointment_booking_start",
        "occurred_at": "2026-11-23T10:00:00Z",
        "received_at": 1,
        "source": "booking_widget",
        "account_id": "a1",
        "ids": {"cid": "1.2"},
    }
    env.update(over)
    return env


def test_defaults_fill_and_iso_timestamps_become_epoch_ms() -> None:
    datum, errors = coerce(STEP, {"envelope": envelope()})
    assert errors == []
    assert datum["envelope"]["occurred_at"] == 1_795_428_000_000
    assert datum["appointments"] == []
    assert datum["envelope"]["ids"]["external_ids"] == {}


def test_every_problem_is_reported_with_its_path() -> None:
    bad = {
        "envelope": envelope(event_id="nope", source="fax", occurred_at="2026-11-23T10:00"),
        "appointments": [{"store_id": 5}],
        "extra": 1,
    }
    _, errors = coerce(STEP, bad)
    found = {e.path: e.reason for e in errors}
    assert found["$.envelope.event_id"] == "must be a UUID"
    assert found["$.envelope.source"].startswith("must be one of")
    assert "UTC offset" in found["$.envelope.occurred_at"]
    assert found["$.appointments[0].store_id"] == "must be a string"
    assert found["$.extra"] == "is not a field of this event"


def test_prepare_routes_by_event_type_and_keys_by_client() -> None:
    result = prepare(CONTRACTS, {"envelope": envelope()}, received_at=5)
    assert isinstance(result, Prepared)
    assert result.family.topic == "booking"
    assert result.key == b"1.2"
    assert result.datum["envelope"]["received_at"] == 5


def test_prepare_rejects_unknown_event_type() -> None:
    errors = prepare(CONTRACTS, {"envelope": envelope(event_type="teleport")})
    assert not isinstance(errors, Prepared)
    assert errors[0].path == "$.envelope.event_type"


def test_errors_below_arrays_and_maps_name_the_index_and_key() -> None:
    bad = {
        "envelope": envelope(ids={"external_ids": {"crm": "4711", "studio": 7}}),
        "appointments": [{"store_id": "s1"}, {"store_id": "s2"}, {"store_id": 3, "x": 1}, 4],
    }
    _, errors = coerce(STEP, bad, "$.body")
    assert [str(e) for e in errors] == [
        "$.body.envelope.ids.external_ids.studio: must be a string",
        "$.body.appointments[2].store_id: must be a string",
        "$.body.appointments[2].x: is not a field of this event",
        "$.body.appointments[3]: must be an object",
    ]


def test_uuids_are_normalised_and_valid_data_passes_through_unchanged() -> None:
    upper = "0B8E6B4E-6A0E-4C1E-9A39-6C6A1C0E0A11"
    datum, errors = coerce(STEP, {"envelope": envelope(event_id=upper)})
    assert errors == []
    assert datum["envelope"]["event_id"] == upper.lower()
    appointments = [{"store_id": "s1", "worker_id": None}]
    datum, errors = coerce(STEP, {"envelope": envelope(), "appointments": appointments})
    assert errors == []
    assert datum["appointments"][0]["store_id"] == "s1"
    assert datum["appointments"][0]["resource_name"] is None


OUT_OF_RANGE = "is out of range: timestamps must be within 1900-01-01 .. 2299-12-31 (UTC)"


@pytest.mark.parametrize(
    "value",
    [
        2**70,
        2**63 - 1,
        -(2**63),
        253_402_300_800_000,  # year 10000
        MAX_TIMESTAMP_MS + 1,
        MIN_TIMESTAMP_MS - 1,
        "0001-01-01T00:00:00+01:00",  # OverflowError once moved to UTC
        "9999-12-31T23:59:59-01:00",
        "2300-01-01T00:00:00Z",
        "1899-12-31T23:59:59.999Z",
    ],
)
def test_timestamps_must_fit_clickhouse_datetime64(value: object) -> None:
    _, errors = coerce(STEP, {"envelope": envelope(occurred_at=value)})
    assert [str(e) for e in errors] == [f"$.envelope.occurred_at: {OUT_OF_RANGE}"]


def test_timestamp_range_bounds_are_inclusive_and_apply_to_every_timestamp_field() -> None:
    for value in ("1900-01-01T00:00:00Z", "2299-12-31T23:59:59.999Z"):
        datum, errors = coerce(STEP, {"envelope": envelope(occurred_at=value)})
        assert errors == []
        assert datum["envelope"]["occurred_at"] in (MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)
    _, errors = coerce(STEP, {"envelope": envelope(received_at=2**63 - 1)})
    assert [e.path for e in errors] == ["$.envelope.received_at"]


def test_prepare_refuses_occurred_at_outside_the_valid_event_time_range() -> None:
    valid = occurred_range("2000-01-01", 900, 1_795_000_000_000)
    assert valid == (946_684_800_000, 1_795_000_900_000)
    for occurred in ("1999-12-31T23:59:59Z", 1_795_000_900_001, "1900-01-01T00:00:00Z"):
        errors = prepare(CONTRACTS, {"envelope": envelope(occurred_at=occurred)}, 5, valid)
        assert isinstance(errors, list)
        assert [e.path for e in errors] == ["$.envelope.occurred_at"]
        assert "valid event time range is 2000-01-01T00:00:00Z .." in errors[0].reason
    ok = prepare(CONTRACTS, {"envelope": envelope(occurred_at=1_795_000_900_000)}, 5, valid)
    assert isinstance(ok, Prepared)


def test_time_bound_settings_take_epoch_ms_dates_and_times() -> None:
    assert parse_time_bound("946684800000") == 946_684_800_000
    assert parse_time_bound("2000-01-01") == 946_684_800_000
    assert parse_time_bound("2000-01-01T01:00:00+01:00") == 946_684_800_000
