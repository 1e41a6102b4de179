"""Render query results as a text table, JSON or CSV. Pure."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from typing import Any


def _cell(value: Any, exact: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if exact else f"{value:.6g}"
    if isinstance(value, dict):  # per-currency money (sinks/money.py): CODE=amount;CODE=amount
        return ";".join(f"{k}={_cell(v, exact)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_cell(v, exact) for v in value)
    return str(value)


def render(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str = "table") -> str:
    if fmt == "json":
        return json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(columns)
        writer.writerows([[_cell(v, exact=True) for v in r] for r in rows])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    right = [any(_AMOUNT.match(r[i]) for r in cells) for i in range(len(columns))]
    out = [
        "  ".join(_align(c, w, r) for c, w, r in zip(columns, widths, right, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    for r in cells:
        out.append(
            "  ".join(_align(v, w, bool(_AMOUNT.match(v))) for v, w in zip(r, widths, strict=True))
        )
    return "\n".join(out)


# numbers, money (``1,129.87 EUR``, ``1.00 EUR / 2.00 USD``) and percentages (``28.6 %``): read
# by their digits, so right-aligned, and so is the header of a column that holds any
_NUMBER = r"-?[\d,]*\d(\.\d+)?(e[-+]?\d+)?( [A-Z]{3}| %| \(no currency\))?"
_AMOUNT = re.compile(rf"^{_NUMBER}( / {_NUMBER})*$")


def _align(value: str, width: int, right: bool) -> str:
    return value.rjust(width) if right else value.ljust(width)


def render_sections(sections: Sequence[Any], fmt: str = "table") -> str:
    """Several result tables (objects with name, title, columns, rows) in one output."""
    if fmt == "json":
        return json.dumps(
            {s.name: [dict(zip(s.columns, r, strict=True)) for r in s.rows] for s in sections},
            default=str,
            indent=2,
        )
    parts = []
    for s in sections:
        if fmt == "table" and getattr(s, "hidden", False):
            continue
        head = f"# {s.name}" if fmt == "csv" else f"== {s.title}"
        body = render(s.columns, s.rows, fmt) if s.rows or fmt == "csv" else "(no rows)"
        parts.append(f"{head}\n{body}")
    return "\n\n".join(parts)
