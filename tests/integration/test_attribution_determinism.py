"""Attribution's fractional credit comes out bit for bit the same however the rows are laid out
and however many threads sum them: the same events inserted at once or in shuffled small batches,
queried with 1 and with 4 threads. Float sums depend on their order (at 10 M bench events the
stored and query-time paths differed in the sixth decimal of a revenue); the query sums the
credits as decimals, which add exactly."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks import clickhouse, rows
from tests.report_data import BASE, DAY_MS, T0, event

pytestmark = pytest.mark.integration
CHANNELS = ("paid_search", "email", "organic_search", "paid_social")


class Threads:
    """Delegates to a real client; every query runs with ``max_threads`` threads."""

    def __init__(self, client: Client, threads: int) -> None:
        self.client = client
        self.threads = threads

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        return self.client.query(*args, settings={"max_threads": self.threads}, **kwargs)


def _journeys(clients: int, seed: int) -> list[dict[str, Any]]:
    """Each client: three visits from different channels, then an order of a large amount (so
    that float sums of a third of it lose digits)."""
    rnd = random.Random(seed)
    out = []
    for c in range(clients):
        cid, at = f"c{c}", T0 + rnd.randrange(0, 200) * DAY_MS
        for v, channel in enumerate(rnd.sample(CHANNELS, 3)):
            t = at + v * 3_600_000
            out.append(
                event(occurred_at=t, client_id=cid, own_channel=channel, channel=channel,
                      session_id=f"{cid}-{v}", is_touch=True)
            )  # fmt: skip
        out.append(
            event(event_type="order_placed", family="touchline.events.OrderPlaced",
                  occurred_at=at + 4 * 3_600_000, client_id=cid, currency="EUR",
                  revenue_minor=rnd.randrange(10**11, 10**12))
        )  # fmt: skip
    return out


def _load(client: Client, events: list[dict[str, Any]], batches: int) -> str:
    db = f"ad{uuid.uuid4().hex[:12]}"
    clickhouse.migrate(client, db)
    batch = [rows.to_row(e) for e in events]
    size = -(-len(batch) // batches)
    for i in range(0, len(batch), size):
        clickhouse.insert_events(client, db, batch[i : i + size])
    return db


def test_attribution_is_the_same_for_any_layout_and_thread_count(chdb_dir: Path) -> None:
    client = clickhouse.connect(f"chdb://{chdb_dir}")
    events = _journeys(3000, seed=5)
    at_once = _load(client, events, 1)
    shuffled = list(events)
    random.Random(6).shuffle(shuffled)
    in_pieces = _load(client, shuffled, 40)
    params = {**BASE, "model": "", "by": "channel", "half_life_days": 7.0}
    one = clickhouse.query(Threads(client, 1), "attribution", at_once, params)[1]  # type: ignore[arg-type]
    four = clickhouse.query(Threads(client, 4), "attribution", in_pieces, params)[1]  # type: ignore[arg-type]
    assert len(one) == 6 * len(CHANNELS) and all(r[3]["EUR"] > 0 for r in one)
    assert one == four
