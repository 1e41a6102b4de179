"""How the sink cuts a batch into inserts so that every row that can be stored is, and a row that
never can is found. Pure: the insert is a function passed in.

1. :func:`split_by_month` always groups the rows by partition month (``toYYYYMM(occurred_at)``,
   UTC, the partition key of ``events`` and of the tables its materialized views fill) and makes
   inserts of at most ``max_months`` months. ClickHouse refuses an insert block that touches more
   than ``max_partitions_per_insert_block`` (default 100) partitions, so an import of many years
   would otherwise never insert; grouping costs one pass over the batch.
2. :func:`isolate` inserts a group; when ClickHouse refuses it for a reason retrying cannot fix
   (:class:`sinks.errors.Refused`), it bisects: each half is inserted on its own, recursively, down
   to single rows that fail alone. One bad row in ``n`` costs about ``2 log2 n`` extra inserts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from sinks.errors import Refused

T = TypeVar("T")

# One year per insert: far below ClickHouse's default max_partitions_per_insert_block (100), so a
# server with a lowered limit still takes it; and each partition an insert touches becomes a new
# part to merge, so fewer months per insert also bound the parts one insert creates. Streaming data
# is nearly all in the current month, so this only cuts imports and long replays.
MONTHS_PER_INSERT = 12


def month_of(value: datetime | int | None) -> int:
    """``toYYYYMM`` of a timestamp in UTC (naive ones are UTC; an int is UTC epoch milliseconds, as
    :func:`sinks.rows.to_row` keeps them); 0 for none."""
    if value is None:
        return 0
    if isinstance(value, int):
        value = datetime.fromtimestamp(value / 1000, tz=UTC)
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.year * 100 + value.month


def split_by_month(
    items: Sequence[T], month: Callable[[T], int], max_months: int = MONTHS_PER_INSERT
) -> list[list[T]]:
    """``items`` grouped into lists of at most ``max_months`` distinct months, months in order,
    rows of a month in their original order."""
    if max_months < 1:
        raise ValueError(f"max_months must be at least 1, not {max_months}")
    by_month: dict[int, list[T]] = {}
    for item in items:
        by_month.setdefault(month(item), []).append(item)
    months = sorted(by_month)
    groups = []
    for start in range(0, len(months), max_months):
        group: list[T] = []
        for m in months[start : start + max_months]:
            group.extend(by_month[m])
        groups.append(group)
    return groups


def isolate(
    items: Sequence[T], attempt: Callable[[list[T]], None]
) -> list[tuple[T, BaseException]]:
    """Insert ``items`` with ``attempt``, bisecting every chunk it refuses (:class:`Refused`);
    returns the items that were refused alone, with the error, in their original order. Any other
    exception from ``attempt`` propagates (nothing is dropped)."""
    refused: list[tuple[T, BaseException]] = []
    stack = [list(items)] if items else []
    while stack:
        chunk = stack.pop()
        try:
            attempt(chunk)
        except Refused as exc:
            if len(chunk) == 1:
                refused.append((chunk[0], exc.cause))
                continue
            middle = len(chunk) // 2
            stack.append(chunk[middle:])
            stack.append(chunk[:middle])  # popped first: the left half goes first
    return refused


def bisect_plan(n: int, bad: set[int]) -> list[tuple[int, int]]:
    """The ``(start, stop)`` ranges :func:`isolate` tries for ``n`` rows of which the indexes in
    ``bad`` are refused, in order (for tests and for sizing: what one bad row costs)."""
    tried: list[tuple[int, int]] = []

    def attempt(chunk: list[int]) -> None:
        tried.append((chunk[0], chunk[-1] + 1))
        if bad.intersection(chunk):
            raise Refused(ValueError("refused"))

    isolate(range(n), attempt)
    return tried
