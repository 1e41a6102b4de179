"""Money in the reports: exact decimals with their currency, never floats or exponents.

The events store amounts as integer **minor units, hundredths of the currency's unit** (what
``producers.adapters.native.minor_units`` makes of "25.50"); credited revenue (attribution shares a
conversion's revenue between touches) is a fraction of a minor unit, rounded to 6 places by the
query. A report column ``<name>_minor`` is money. Its value is either a map from currency code
('' when the events name none) to minor units, the queries' way of keeping revenue in several
currencies apart (attribution, the client card), or a single amount whose currency comes from a
``currencies`` column of the same row or, for the whole report, from the currencies of the revenue
in the report's range (``revenue_currencies.sql``).

* For people (tables, HTML): ``<name>`` replaces ``<name>_minor``, as ``1,129.87 EUR``, or one
  amount per currency (``1,129.87 EUR / 50.00 USD``): amounts in different currencies are never
  added up. A single amount over several currencies says so (``mixed currencies: EUR, USD``).
* For machines (JSON, CSV): ``<name>`` (major units) and ``currency`` are added after
  ``<name>_minor``, which is kept; amounts are strings of exact decimals (``"1129.87"``,
  ``"112987.123456"``), so no reader turns them into binary floats. A per-currency amount is an
  object keyed by currency code in JSON (``{"EUR": "1129.87", "USD": "50.00"}``) and
  ``EUR=1129.87;USD=50.00`` in a CSV cell. ``currency`` is empty when there is no revenue, and the
  currencies joined by ``+`` when there are several.

Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sinks.reports import Section

MINOR_PER_UNIT = Decimal(100)
CENT = Decimal("0.01")
SUFFIX = "_minor"
NO_CURRENCY = "(no currency)"  # revenue whose events name no currency, shown apart
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


def per_currency(amounts: Mapping[str, Any]) -> str:
    """``1,129.87 EUR / 50.00 USD`` (by currency code); ``0.00`` when there is no revenue."""
    shown = [readable(amounts[c], [c or NO_CURRENCY]) for c in sorted(amounts)]
    return " / ".join(shown) or readable(0, [])


def _for_people(value: Any, currencies: Sequence[str]) -> str:
    if isinstance(value, Mapping):
        return per_currency(value)
    return readable(value or 0, currencies)


def _for_machines(value: Any, currencies: Sequence[str]) -> list[Any]:
    """``<name>_minor``, ``<name>`` and ``currency`` cells of one money value."""
    if isinstance(value, Mapping):
        codes = sorted(value)
        exact_minor = {c: plain(exact(value[c])) for c in codes}
        return [exact_minor, {c: format(major(value[c]), "f") for c in codes}, "+".join(codes)]
    amount = "" if len(currencies) > 1 else format(major(value or 0), "f")
    return [plain(exact(value or 0)), amount, "+".join(currencies)]


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
                _for_people(v, _currencies(s, r, currencies)) if i in money else v
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
                cells += _for_machines(v, _currencies(s, r, currencies))
            rows.append(tuple(cells))
        out.append(replace(s, columns=columns, rows=rows))
    return out
