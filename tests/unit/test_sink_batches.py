"""The sink's pure batch logic: month groups, bisection to the rows ClickHouse refuses alone, and
the Sink's use of both against an in-memory ClickHouse that refuses chosen rows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from sinks import batches, rows
from sinks.errors import Refused
from sinks.metrics import SinkMetrics
from sinks.sink import Sink
from tests.report_data import event

EVENT_ID = rows.COLUMNS.index("event_id")
OCCURRED_AT = rows.COLUMNS.index("occurred_at")


def month_start(i: int) -> datetime:
    """The first instant of the i-th month after 2000-01."""
    return datetime(2000 + i // 12, i % 12 + 1, 1, tzinfo=UTC)


def test_month_of_is_utc_yyyymm() -> None:
    berlin = timezone(timedelta(hours=2))
    assert batches.month_of(datetime(2025, 5, 1, 1, 0, tzinfo=berlin)) == 202504
    assert batches.month_of(datetime(2025, 5, 31, 23, 59)) == 202505
    assert batches.month_of(None) == 0


def test_split_by_month_bounds_months_per_group_and_keeps_every_row_once() -> None:
    items = [(i, month_start(i % 150)) for i in range(600)]
    groups = batches.split_by_month(items, lambda it: batches.month_of(it[1]), 12)
    assert len(groups) == 13  # 150 months / 12
    assert sorted(x for g in groups for x in g) == sorted(items)
    for group in groups:
        assert len({batches.month_of(t) for _, t in group}) <= 12
    months = [batches.month_of(g[0][1]) for g in groups]
    assert months == sorted(months)
    january_2000 = [i for i, t in groups[0] if batches.month_of(t) == 200001]
    assert january_2000 == [0, 150, 300, 450]  # a month's rows keep their order


def test_split_by_month_one_month_is_one_group_and_empty_is_none() -> None:
    items = list(range(10))
    assert batches.split_by_month(items, lambda _: 202505, 12) == [items]
    assert batches.split_by_month([], lambda _: 202505, 12) == []
    with pytest.raises(ValueError):
        batches.split_by_month(items, lambda _: 1, 0)


def test_isolate_finds_exactly_the_refused_rows() -> None:
    inserted: list[int] = []
    bad = {3, 17, 18, 99}

    def attempt(chunk: list[int]) -> None:
        if bad.intersection(chunk):
            raise Refused(ValueError(f"bad row in {len(chunk)}"))
        inserted.extend(chunk)

    refused = batches.isolate(list(range(100)), attempt)
    assert [i for i, _ in refused] == sorted(bad)
    assert all(isinstance(exc, ValueError) for _, exc in refused)
    assert sorted(inserted) == sorted(set(range(100)) - bad)  # every other row exactly once


def test_isolate_lets_other_errors_through() -> None:
    def attempt(chunk: list[int]) -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        batches.isolate([1, 2, 3], attempt)


def test_bisect_plan_cost_of_one_bad_row() -> None:
    assert batches.bisect_plan(4, set()) == [(0, 4)]
    assert batches.bisect_plan(4, {2}) == [(0, 4), (0, 2), (2, 4), (2, 3), (3, 4)]
    plan = batches.bisect_plan(5000, {1234})
    assert len(plan) <= 2 * 13 + 1  # about 2 log2(n)


class FakeClickHouse:
    """In memory; refuses like ClickHouse: more than 100 partition months in one insert (code 252)
    and any insert holding an event id in ``refuse`` (code 53); ``down`` inserts fail to connect."""

    def __init__(self, refuse: frozenset[str] = frozenset(), down: int = 0) -> None:
        self.refuse = refuse
        self.down = down
        self.tables: dict[str, list[list[Any]]] = {}
        self.inserts = 0

    def insert(self, table: str, data: list[list[Any]], column_names: list[str]) -> None:
        self.inserts += 1
        if self.down:
            self.down -= 1
            raise OperationalError("Error HTTPConnectionPool: Connection refused (injected)")
        if "events" in table:
            months = {batches.month_of(r[OCCURRED_AT]) for r in data}
            if len(months) > 100:
                raise DatabaseError(
                    "Code: 252. DB::Exception: Too many partitions for single INSERT block "
                    "(more than 100). The limit is controlled by 'max_partitions_per_insert_block'"
                    " setting. (TOO_MANY_PARTS)",
                    code=252,
                )
            hit = self.refuse.intersection(r[EVENT_ID] for r in data)
            if hit:
                raise DatabaseError(
                    f"Code: 53. DB::Exception: Type mismatch for {sorted(hit)[0]}. (TYPE_MISMATCH)",
                    code=53,
                )
        self.tables.setdefault(table.split(".")[-1].strip("`"), []).extend(data)


class Msg:
    def __init__(self, offset: int) -> None:
        self._offset = offset

    def offset(self) -> int:
        return self._offset


def _sink(client: FakeClickHouse) -> Sink:
    # The consumer never connects: only _store runs, which touches ClickHouse alone.
    return Sink(
        None,  # type: ignore[arg-type]
        client,
        "db",
        "127.0.0.1:1",
        "t",
        "g",
        retry_initial_s=0.01,
        metrics=SinkMetrics.create(),
        lock=threading.Lock(),
    )


def _items(n: int) -> list[tuple[Any, list[Any]]]:
    out = []
    for i in range(n):
        ms = int(month_start(i % 305).timestamp() * 1000)  # 2000-01 .. 2025-05
        out.append((Msg(i), rows.to_row(event(event_id=f"e{i}", occurred_at=ms))))
    return out


def test_sink_store_inserts_many_years_and_dead_letters_only_the_refused_row() -> None:
    client = FakeClickHouse(refuse=frozenset({"e7"}))
    sink = _sink(client)
    try:
        items = _items(700)
        refused = sink._store(
            lambda c, db, b: c.insert(f"`{db}`.events", b, []), items, sink._month
        )
    finally:
        sink.consumer.close()
    assert [m.offset() for m, _ in refused] == [7]
    assert "ClickHouse refused the row" in refused[0][1] and "TYPE_MISMATCH" in refused[0][1]
    stored = sorted(r[EVENT_ID] for r in client.tables["events"])
    assert stored == sorted(f"e{i}" for i in range(700) if i != 7)
    assert sink.metrics.insert_errors.labels("permanent")._value.get() > 0
    assert sink.metrics.retries._value.get() == 0


def test_sink_store_retries_transient_errors_without_splitting() -> None:
    client = FakeClickHouse(down=3)
    sink = _sink(client)
    try:
        refused = sink._store(
            lambda c, db, b: c.insert(f"`{db}`.events", b, []), _items(10), sink._month
        )
    finally:
        sink.consumer.close()
    assert refused == []
    assert client.inserts == 4 and len(client.tables["events"]) == 10
    assert sink.metrics.retries._value.get() == 3
    assert sink.metrics.insert_errors.labels("transient")._value.get() == 3
