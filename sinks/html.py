"""A report as one self-contained HTML page: inline CSS, tables and inline SVG charts (funnel bars,
attribution across models); no script, no external resource. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

from sinks.reports import Report, Section

PALETTE = ("#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477")
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
.params{color:#555}.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
svg text{font:12px system-ui,sans-serif}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, datetime | date):
        return v.isoformat()
    return str(v)


def _table(section: Section) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in section.columns)
    body = []
    for r in section.rows:
        cells = "".join(
            f'<td class="n">{escape(_fmt(v))}</td>'
            if isinstance(v, int | float) and not isinstance(v, bool)
            else f"<td>{escape(_fmt(v))}</td>"
            for v in r
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def bars(
    labels: Sequence[str], values: Sequence[float], title: str, color: str = PALETTE[0]
) -> str:
    """Horizontal bar chart."""
    top = max([*values, 0]) or 1
    row_h, label_w, bar_w = 22, 300, 520
    height = row_h * len(labels) + 30
    parts = [
        f'<svg width="{label_w + bar_w + 90}" height="{height}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        y = 20 + i * row_h
        w = max(bar_w * v / top, 1 if v else 0)
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{color}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{escape(_fmt(v))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(groups: Sequence[str], series: Mapping[str, Sequence[float]], title: str) -> str:
    """Vertical grouped bars: one group per label, one bar per series (e.g. per model)."""
    names = list(series)
    top = max([v for vs in series.values() for v in vs] + [0]) or 1
    bar, gap, plot_h = 12, 18, 220
    width = len(groups) * (len(names) * bar + gap) + 60
    parts = [
        f'<svg width="{max(width, 300)}" height="{plot_h + 110}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for g, label in enumerate(groups):
        x0 = 40 + g * (len(names) * bar + gap)
        for s, name in enumerate(names):
            v = series[name][g]
            h = plot_h * v / top
            parts.append(
                f'<rect x="{x0 + s * bar}" y="{20 + plot_h - h:.1f}" width="{bar - 2}" '
                f'height="{h:.1f}" fill="{PALETTE[s % len(PALETTE)]}">'
                f"<title>{escape(name)} {escape(label)}: {escape(_fmt(v))}</title></rect>"
            )
        parts.append(
            f'<text transform="translate({x0 + 4},{plot_h + 28}) rotate(40)">{escape(label)}</text>'
        )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(n)}</span>'
        for i, n in enumerate(names)
    )
    return f'<div class="legend">{legend}</div>' + "".join(parts)


def band_chart(rows: Sequence[Sequence[Any]], title: str) -> str:
    """Line chart of one series over hours: the expected band (shaded), the expected value
    (dashed), the actual value, and flagged hours as red dots. Rows: (hour, actual, expected,
    lower, upper, flag)."""
    width, plot_h, left = 900, 180, 50
    top = max([max(r[1], r[4]) for r in rows] + [0]) or 1
    step = (width - left - 10) / max(len(rows) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{left + i * step:.1f},{20 + plot_h - plot_h * v / top:.1f}"

    band = [xy(i, r[4]) for i, r in enumerate(rows)]
    band += [xy(i, r[3]) for i, r in reversed(list(enumerate(rows)))]
    parts = [
        f'<svg width="{width}" height="{plot_h + 50}" role="img"><title>{escape(title)}</title>',
        f'<polygon points="{" ".join(band)}" fill="{PALETTE[0]}" fill-opacity="0.15"/>',
        f'<polyline points="{" ".join(xy(i, r[2]) for i, r in enumerate(rows))}" fill="none" '
        f'stroke="{PALETTE[0]}" stroke-dasharray="4 3"/>',
        f'<polyline points="{" ".join(xy(i, r[1]) for i, r in enumerate(rows))}" fill="none" '
        'stroke="#222" stroke-width="1.5"/>',
        f'<text x="{left - 6}" y="24" text-anchor="end">{escape(_fmt(top))}</text>',
        f'<text x="{left - 6}" y="{plot_h + 20}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{plot_h + 40}">{escape(_fmt(rows[0][0]))}</text>',
        f'<text x="{width - 10}" y="{plot_h + 40}" text-anchor="end">'
        f"{escape(_fmt(rows[-1][0]))}</text>",
    ]
    for i, r in enumerate(rows):
        if r[5]:
            x, y = xy(i, r[1]).split(",")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="3" fill="{PALETTE[1]}">'
                f"<title>{escape(_fmt(r[0]))}: {escape(_fmt(r[1]))} "
                f"(expected {escape(_fmt(r[2]))})</title></circle>"
            )
    parts.append("</svg>")
    legend = (
        '<div class="legend"><span><i style="background:#222"></i>actual</span>'
        f'<span><i style="background:{PALETTE[0]};opacity:.3"></i>expected band</span>'
        f'<span><i style="background:{PALETTE[1]}"></i>flagged</span></div>'
    )
    return legend + "".join(parts)


def _anomaly_charts(section: Section, most: int = 12) -> str:
    """One band chart per account and series: those with a flagged hour first, then the booking
    series of each account."""
    by: dict[tuple[str, str], list[Sequence[Any]]] = {}
    for account, series, hour, actual, expected, lower, upper, _score, flag in section.rows:
        by.setdefault((account, series), []).append((hour, actual, expected, lower, upper, flag))
    flagged = [k for k, rows in by.items() if any(r[5] for r in rows)]
    booking = [k for k in by if k[1] in ("booking_starts", "booking_successes")]
    out = []
    for key in list(dict.fromkeys(flagged + booking))[:most]:
        out.append(f"<h3>{escape(key[0])}: {escape(key[1])}</h3>")
        out.append(band_chart(by[key], f"{key[0]} {key[1]}"))
    return "".join(out)


def _chart(section: Section) -> str:
    ix = {c: i for i, c in enumerate(section.columns)}
    if section.name == "anomaly_series":
        return _anomaly_charts(section)
    if section.name == "booking_funnel":
        out = []
        values = list(dict.fromkeys(r[ix["breakdown"]] for r in section.rows))[:8]
        for n, bd in enumerate(values):
            rows = [r for r in section.rows if r[ix["breakdown"]] == bd]
            out.append(f"<h3>{escape(str(bd))}</h3>")
            out.append(
                bars(
                    [r[ix["step"]] for r in rows],
                    [r[ix["clients"]] for r in rows],
                    f"funnel {bd}",
                    PALETTE[n % len(PALETTE)],
                )
            )
        return "".join(out)
    if section.name == "attribution":
        keys = sorted({r[ix["key"]] for r in section.rows})
        models = list(dict.fromkeys(r[ix["model"]] for r in section.rows))
        got = {(r[ix["model"]], r[ix["key"]]): r[ix["conversions"]] for r in section.rows}
        series = {m: [got.get((m, k), 0.0) for k in keys] for m in models}
        return grouped_bars(keys, series, "credited conversions by model")
    numeric = [
        i
        for i, _ in enumerate(section.columns)
        if section.rows
        and all(isinstance(r[i], int) and not isinstance(r[i], bool) for r in section.rows)
    ]
    if numeric and 0 < len(section.rows) <= 40 and section.name not in ("client_card", "anomalies"):
        i = numeric[0]
        labels = [
            " / ".join(_fmt(v) for v in r[: min(numeric)]) or str(n)
            for n, r in enumerate(section.rows)
        ]
        return bars(labels, [r[i] for r in section.rows], section.columns[i])
    return ""


def render(report: Report, params: Mapping[str, Any], sections: Sequence[Section]) -> str:
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items() if v not in ("", None))
    body = [
        f"<h1>Touchline: {escape(report.name)}</h1>",
        f'<p class="params">{escape(report.help)}<br>{escape(shown)}</p>',
    ]
    for s in sections:
        body.append(f"<h2>{escape(s.title)}</h2>")
        if not s.rows:
            body.append("<p>No rows.</p>")
            continue
        body.append(_chart(s))
        if not s.hidden:
            body.append(_table(s))
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Touchline {escape(report.name)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
