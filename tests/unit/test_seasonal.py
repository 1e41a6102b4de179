"""The seasonal generator with planted anomalies (producers/seasonal.py): reproducible, contract
events, and the planted effects are in the data as recorded."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

from producers import seasonal
from producers.events import Prepared, prepare
from touchline.contracts import load_cached
from touchline.settings import get_settings

SMALL = seasonal.SeasonalConfig(accounts=(("acc", 1.5),), weeks=3, warmup_weeks=1, seed=3)


def test_same_seed_same_events_and_truth() -> None:
    tiny = seasonal.SeasonalConfig(
        accounts=(("acc", 0.3),), weeks=2, warmup_weeks=1, seed=3, plants=("drop", "spike")
    )
    a, b = seasonal.generate(tiny), seasonal.generate(tiny)
    assert a.events == b.events and a.truth == b.truth and len(a.truth) == 2
    other = seasonal.generate(dataclasses.replace(tiny, seed=4))
    assert other.events != a.events


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


def test_generate_seasonal_command_writes_events_and_truth(tmp_path: Path) -> None:
    from cli.main import main

    out, truth = tmp_path / "e.jsonl", tmp_path / "t.json"
    args = ["generate-seasonal", "--weeks", "4", "--start", "2026-09-07"]
    assert main([*args, "--out", str(out), "--truth", str(truth)]) == 0
    lines = out.read_bytes().splitlines()
    document = json.loads(truth.read_text())
    assert len(lines) == document["events"] > 50_000
    assert [p["kind"] for p in document["planted"]].count("silence") == 4
    first = json.loads(lines[0])["envelope"]["occurred_at"]
    assert first >= seasonal.T0 and document["planted"][0]["start"].startswith("2026-09-")
