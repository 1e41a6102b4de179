"""The demo's check: what ClickHouse answers and what Redis holds, after the events were posted
in arrival order, against the event-time reference (``reference/``: the same events run through
the worker's steps oldest first, the reports recomputed in plain Python). A difference fails the
demo, naming the rows or the card that differ."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pipeline.card import Rules, touches_of
from pipeline.processor import processor_config
from pipeline.store import ClientStore
from reference import event_time
from sinks import clickhouse, parameters
from touchline import clock
from touchline.errors import TouchlineError
from touchline.settings import Settings

# The report queries checked against the event-time reference, with their parameters: all but
# the client card (a person's client id depends on which of their events came first).
CHECKED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("booking_funnel", {"breakdown": "channel"}),
    ("booking_outcomes", {"breakdown": "channel"}),
    ("attribution", {}),
    ("attribution", {"by": "campaign"}),
    ("appointments", {}),
    ("classes", {}),
    ("class_cancellations", {}),
    ("engagement", {"breakdown": "channel"}),
    ("experiments", {}),
    ("feedback", {}),
)


def check_reference(runner: Any, events: list[Any], settings: Settings, redis_url: str) -> None:
    """The reports (through ``runner``) and the live cards (Redis at ``redis_url``) against the
    reference computed in event time from the posted events; raises at the first difference."""
    stored = event_time.run(events, settings, clock.now_ms())
    print(
        f"\n== checking against the event-time reference: the {len(stored.events)} accepted events "
        "run through the worker's steps oldest first, every report recomputed in plain Python"
    )
    check_reports(runner, stored)
    check_cards(stored, settings, redis_url)


def check_reports(runner: Any, stored: event_time.Stored) -> None:
    """Every CHECKED query's rows from ``runner`` equal the reference's over ``stored``."""
    for name, params in CHECKED:
        got = runner(name, params)[1]
        resolved = parameters.resolve(clickhouse.query_sql(name), params)
        want = event_time.expected(stored, name, resolved)
        # as the query endpoint sends them: JSON, dates as ISO text
        got, want = (json.loads(json.dumps(rows, default=str)) for rows in (got, want))
        label = ", ".join(f"{k}={v}" for k, v in params.items())
        if got != want:
            extra = [r for r in got if r not in want][:3]
            missing = [r for r in want if r not in got][:3]
            raise TouchlineError(
                f"{name}({label}) from ClickHouse differs from the event-time reference: "
                f"{len(got)} rows against {len(want)}; only in ClickHouse {extra}, only in the "
                f"reference {missing}"
            )
        print(f"   {name}{f' ({label})' if label else ''}: {len(got)} rows, equal")


def check_cards(stored: event_time.Stored, settings: Settings, redis_url: str) -> None:
    """Each person's live card in Redis (found by their email) lists the touches the reference
    client card lists: time, channel, contact or not, multichannel."""
    people = sorted({(e["account_id"], e["email"]) for e in stored.events if e["email"]})
    config = processor_config(settings)
    rules = Rules(config.session_timeout_ms, config.lookback_ms, config.min_channels)

    async def live() -> list[list[tuple[Any, ...]]]:
        store = ClientStore.from_settings(redis_url, settings)
        try:
            out = []
            for account, email in people:
                client = await store.lookup(account, f"email:{email}")
                card = await store.card(account, client or "")
                out.append(
                    [
                        (t.at, t.channel, t.is_contact, t.multichannel)
                        for t in touches_of(card, rules)
                    ]
                )
            return out
        finally:
            await store.close()

    cards = asyncio.run(live())
    differ = []
    for (account, email), got in zip(people, cards, strict=True):
        want = event_time.card_touches(stored, account, email)
        if got != want:
            differ.append((email, got, want))
    touches = sum(map(len, cards))
    print(
        f"   live cards (Redis) of {len(people)} people by email, {touches} touches: "
        f"{len(people) - len(differ)} equal"
    )
    if differ or not touches:
        email, got, want = differ[0] if differ else ("", [], [])
        raise TouchlineError(
            f"{len(differ)} live cards differ from the event-time reference, e.g. {email}: "
            f"card {got}, reference {want}"
        )
