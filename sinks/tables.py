"""Render query results as a text table, JSON or CSV. Pure."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any


def _cell(value: Any, exact: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if exact else f"{value:.6g}"
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
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    for r in cells:
        out.append(
            "  ".join(
                v.rjust(w) if v.replace(".", "", 1).lstrip("-").isdigit() else v.ljust(w)
                for v, w in zip(r, widths, strict=True)
            )
        )
    return "\n".join(out)


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
