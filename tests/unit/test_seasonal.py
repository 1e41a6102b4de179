"""The seasonal generator with planted anomalies (producers/seasonal.py): reproducible, contract
events, and the planted effects are in the data as recorded."""

from __future__ import annotations

from collections import Counter

from producers import seasonal
from producers.events import Prepared, prepare
from touchline.contracts import load_cached
from touchline.settings import get_settings

SMALL = seasonal.SeasonalConfig(accounts=(("acc", 1.5),), weeks=3, warmup_weeks=1, seed=3)


def test_same_seed_same_events_and_truth() -> None:
    a, b = seasonal.generate(SMALL), seasonal.generate(SMALL)
    assert a.events == b.events and a.truth == b.truth
    assert seasonal.generate(SMALL.__class__(**{**SMALL.__dict__, "seed": 4})).events != a.events


def test_every_event_is_a_valid_contract_event() -> None:
    contracts = load_cached(get_settings().schemas_dir)
    events = seasonal.generate(SMALL).events
    kinds = {e["envelope"]["event_type"]: e for e in events}
    assert len(kinds) >= 9
    for event in kinds.values():
        assert isinstance(prepare(contracts, event, received_at=seasonal.T0), Prepared), event


def test_planted_anomalies_are_recorded_and_present() -> None:
    data = seasonal.generate(SMALL)
    assert Counter(p.kind for p in data.truth) == {"drop": 2, "silence": 2, "spike": 2}
    scored = SMALL.start_ms + SMALL.warmup_weeks * seasonal.WEEK_MS
    days = {p.start_ms // seasonal.DAY_MS for p in data.truth}
    assert len(days) == len(data.truth)  # one a day
    for p in data.truth:
        assert p.start_ms >= scored and p.primary and p.affected
        assert 10 <= p.start_ms // seasonal.HOUR_MS % 24 <= 14
        inside = [
            e["envelope"]
            for e in data.events
            if p.start_ms <= e["envelope"]["occurred_at"] < p.end_ms
            and e["envelope"]["source"] == p.source
        ]
        starts = sum(e["event_type"] == "appointment_booking_start" for e in inside)
        others = [  # the same window in the other weeks where nothing was planted
            sum(
                e["envelope"]["event_type"] == "appointment_booking_start"
                and p.start_ms + k * seasonal.WEEK_MS
                <= e["envelope"]["occurred_at"]
                < p.end_ms + k * seasonal.WEEK_MS
                for e in data.events
            )
            for k in (-2, -1, 1, 2)
            if SMALL.start_ms <= p.start_ms + k * seasonal.WEEK_MS < data.end_ms
            and not any(
                q.start_ms < p.end_ms + k * seasonal.WEEK_MS
                and q.end_ms > p.start_ms + k * seasonal.WEEK_MS
                for q in data.truth
            )
        ]
        usual = sum(others) / len(others)
        if p.kind == "silence":
            assert inside == []
        elif p.kind == "drop":
            assert starts < 0.6 * usual  # 60 % of the visits lost: about 0.4
        else:
            assert starts > 2 * usual  # bots: about 3 x
