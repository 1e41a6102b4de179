"""The demo's check against the event-time reference (``cli/demo.py::check_reference``,
``reference/event_time.py``): it notices a changed number, and the worker's steps over the
in-memory store give the reference's reports for any arrival order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cli.demo import CHECKED, check_reference, demo_events
from reference import event_time
from sinks import clickhouse, parameters
from synthetic.arrival import arrival_order
from touchline.errors import TouchlineError
from touchline.settings import Settings

NOW = 1_900_000_000_000
SETTINGS = Settings()


def reports(stored: event_time.Stored) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for name, params in CHECKED:
        resolved = parameters.resolve(clickhouse.query_sql(name), params)
        out[f"{name}{sorted(params.items())}"] = event_time.expected(stored, name, resolved)
    return out


@pytest.fixture(scope="module")
def events() -> list[Any]:
    return demo_events(40, 7, now_ms=NOW)


def test_the_check_names_the_query_whose_numbers_differ(
    events: list[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    stored = event_time.run(events, SETTINGS, NOW)
    assert stored.refused and stored.events and stored.merges  # malformed ones, identity merges
    answers = reports(stored)
    assert sum(map(len, answers.values())) > 50

    def runner(changed: str | None) -> Any:
        def answer(name: str, params: dict[str, Any]) -> tuple[list[str], list[Any]]:
            rows = [list(r) for r in answers[f"{name}{sorted(params.items())}"]]
            if name == changed:
                rows[-1][-1] = "changed"
            return [], rows

        return answer

    check_reference(runner(None), events, SETTINGS)
    assert "attribution (by=campaign):" in capsys.readouterr().out
    with pytest.raises(TouchlineError, match=r"^engagement\(breakdown=channel\) from ClickHouse"):
        check_reference(runner("engagement"), events, SETTINGS)


@pytest.mark.parametrize("seed", range(4))
def test_any_arrival_order_gives_the_reports_of_event_time(events: list[Any], seed: int) -> None:
    """The worker's steps over the in-memory store, fed in the demo's realistic arrival order
    and in shuffled orders, store what gives every checked report as in event time."""
    in_time = reports(event_time.run(events, SETTINGS, NOW))
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    for order in (arrival_order(events, seed), shuffled):
        arrived = event_time.run(order, SETTINGS, NOW, in_event_time=False)
        assert reports(arrived) == in_time
