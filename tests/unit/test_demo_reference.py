"""The demo's check against the event-time reference (``cli/demo_check.py``,
``reference/event_time.py``): it notices a changed number, and the worker's steps over the
in-memory store give the reference's reports for any arrival order."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cli.demo import demo_events
from cli.demo_check import CHECKED, check_reports
from pipeline.processor import processor_config
from pipeline.touches import Hit, derive
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

    check_reports(runner(None), stored)
    assert "attribution (by=campaign):" in capsys.readouterr().out
    with pytest.raises(TouchlineError, match=r"^engagement\(breakdown=channel\) from ClickHouse"):
        check_reports(runner("engagement"), stored)


def people(stored: event_time.Stored) -> list[tuple[str, str]]:
    return sorted({(e["account_id"], e["email"]) for e in stored.events if e["email"]})


def cards(stored: event_time.Stored) -> dict[str, list[tuple[Any, ...]]]:
    """Each person's live card touches (the in-memory store's, found by email) as (time, channel,
    contact, multichannel)."""
    assert stored.store is not None
    config = processor_config(SETTINGS)
    out = {}
    for account, email in people(stored):
        state = stored.store.accounts[account]
        client = state.canonical(state.ids[f"email:{email}"])
        hits = state.zsets.get(("hits", client), {})
        touches = derive(
            [Hit.from_member(member, at) for member, at in hits.items()],
            timeout_ms=config.session_timeout_ms,
            lookback_ms=config.lookback_ms,
            min_channels=config.min_channels,
        )
        out[email] = [(t.at, t.channel, t.is_contact, t.multichannel) for t in touches]
    return out


def reference_cards(stored: event_time.Stored) -> dict[str, list[tuple[Any, ...]]]:
    return {
        email: event_time.card_touches(stored, account, email) for account, email in people(stored)
    }


@pytest.mark.parametrize("seed", range(6))
def test_any_arrival_order_and_batching_gives_the_reports_and_cards_of_event_time(
    events: list[Any], seed: int
) -> None:
    """The worker's steps over the in-memory store, fed in the demo's realistic arrival order
    and in a shuffled order, in random batch sizes (one resolve and one record call per batch,
    as the worker does), store what gives every checked report as in event time, and leave
    every person's live card with the reference client card's touches."""
    in_time = event_time.run(events, SETTINGS, NOW)
    expected_cards = reference_cards(in_time)
    assert sum(map(len, expected_cards.values())) > 40
    assert cards(in_time) == expected_cards
    rnd = random.Random(seed)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    for order in (arrival_order(events, seed), shuffled):
        batches = [rnd.randint(1, 300) for _ in range(40)]
        arrived = event_time.run(order, SETTINGS, NOW, in_event_time=False, batches=batches)
        assert reports(arrived) == reports(in_time)
        assert cards(arrived) == expected_cards
