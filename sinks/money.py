"""Money in the reports: exact decimals with their currency, never floats or exponents.

The events store amounts as integer **minor units, hundredths of the currency's unit** (what
``producers.adapters.native.minor_units`` makes of "25.50"); credited revenue (attribution shares a
conversion's revenue between touches) is a fraction of a minor unit, rounded to 6 places by the
query. A report column ``<name>_minor`` is money; its currency comes from a ``currencies`` column
of the same row (the client card) or, for the whole report, from the currencies of the revenue in
the report's range (``revenue_currencies.sql``).

* For people (tables, HTML): ``<name>`` replaces ``<name>_minor``, as ``1,129.87 EUR``. When the
  revenue is in several currencies the amounts cannot be added up, and the cell says so
  (``mixed currencies: EUR, USD``) instead of printing a meaningless sum.
* For machines (JSON, CSV): ``<name>`` (major units) and ``currency`` are added after
  ``<name>_minor``, which is kept; all three are strings of exact decimals (``"1129.87"``,
  ``"112987.123456"``), so no reader turns them into binary floats. ``currency`` is empty when
  there is no revenue, and the currencies joined by ``+`` when there are several (then ``<name>``
  is empty: there is no single amount).

Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sinks.reports import Section

MINOR_PER_UNIT = Decimal(100)
CENT = Decimal("0.01")
SUFFIX = "_minor"
CURRENCIES_QUERY = "revenue_currencies"  # sinks/sql/queries/revenue_currencies.sql


def exact(value: Any) -> Decimal:
    """An int, float (its shortest repr: what the query rounded it to) or decimal string."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def plain(value: Decimal) -> str:
    """Positional notation, never an exponent; no trailing zeros after the point."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def major(minor: Any) -> Decimal:
    return (exact(minor) / MINOR_PER_UNIT).quantize(CENT, rounding=ROUND_HALF_EVEN)


def readable(minor: Any, currencies: Sequence[str]) -> str:
    """``1,129.87 EUR``; ``mixed currencies: EUR, USD`` when there is no single currency."""
    if len(currencies) > 1:
        return "mixed currencies: " + ", ".join(currencies)
    amount = f"{major(minor):,.2f}"
    return f"{amount} {currencies[0]}" if currencies else amount


def _columns(section: Section) -> list[int]:
    return [i for i, c in enumerate(section.columns) if c.endswith(SUFFIX)]


def has_money(sections: Sequence[Section]) -> bool:
    return any(_columns(s) for s in sections)


def _currencies(section: Section, row: Sequence[Any], default: Sequence[str]) -> list[str]:
    if "currencies" in section.columns:
        found = row[section.columns.index("currencies")]
        return sorted(found) if found else []
    return list(default)


def for_people(sections: Sequence[Section], currencies: Sequence[str]) -> list[Section]:
    """Money columns as readable amounts with their currency (tables, HTML)."""
    out = []
    for s in sections:
        money = set(_columns(s))
        if not money:
            out.append(s)
            continue
        columns = [c.removesuffix(SUFFIX) if i in money else c for i, c in enumerate(s.columns)]
        rows = [
            tuple(
                readable(v or 0, _currencies(s, r, currencies)) if i in money else v
                for i, v in enumerate(r)
            )
            for r in s.rows
        ]
        out.append(replace(s, columns=columns, rows=rows))
    return out


def for_machines(sections: Sequence[Section], currencies: Sequence[str]) -> list[Section]:
    """Money columns as exact decimal strings, plus major units and the currency (JSON, CSV)."""
    out = []
    for s in sections:
        money = set(_columns(s))
        if not money:
            out.append(s)
            continue
        columns: list[str] = []
        for i, c in enumerate(s.columns):
            columns.append(c)
            if i in money:
                columns += [c.removesuffix(SUFFIX), "currency"]
        rows = []
        for r in s.rows:
            cells: list[Any] = []
            for i, v in enumerate(r):
                if i not in money:
                    cells.append(v)
                    continue
                found = _currencies(s, r, currencies)
                amount = "" if len(found) > 1 else format(major(v or 0), "f")
                cells += [plain(exact(v or 0)), amount, "+".join(found)]
            rows.append(tuple(cells))
        out.append(replace(s, columns=columns, rows=rows))
    return out
