"""A report as one self-contained HTML page a marketer reads without help: inline CSS, tables and
inline SVG charts, no script and no external resource. Pure.

The sections come with labels and money already made readable (``sinks.labels``, ``sinks.money``).
Every chart is horizontal bars, so long labels (steps, campaigns) sit on the left at their full
width, with a labelled value axis below and each bar's value beside it:

* the funnel: one group per step, the breakdown's values (channels, stores...) side by side in it;
  the clients lost since the previous step are drawn as a red extension of the bar ("−6") and the
  page names each series' largest drop-off;
* attribution: one group per channel or campaign, one bar per model;
* other sections: their first count column, one bar per row.

Text widths are estimated (``CHAR_PX`` per character, a little over system-ui's average at 12 px)
so that nothing is cut; the browser test (tests/integration/test_html_reports_browser.py) measures
the rendered page in Chromium."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any

from sinks.labels import is_rate, percent
from sinks.reports import Report, Section

PALETTE = ("#3366cc", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#316395")
DROP = "#f4b6b6"  # the clients lost since the previous step
FLAGGED = "#dc3912"  # anomalies: hours flagged as a drop or a spike
CHAR_PX = 7.4  # estimated width of a character of 12 px system-ui (a little over the average)
PAGE_PX = 1100  # the charts' width: fits a laptop screen with the page's margins
MAX_SERIES = 8
TOTAL = "(all)"  # the subtotal rows of appointments and classes
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
h1{font-size:22px}h2{font-size:17px;margin-top:32px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse;margin:8px 0 16px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}
td.drop{background:#fbe3e3}td.worst{background:#f4b6b6;font-weight:bold}
.params{color:#555}.note{color:#444;margin:4px 0}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
svg text{font:12px system-ui,sans-serif;fill:#222}svg .axis{fill:#555}
"""


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".") if v % 1 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, list | tuple):
        return ", ".join(_fmt(x) for x in v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def _cell(column: str, v: Any) -> str:
    return str(percent(v)) if is_rate(column) else _fmt(v)


def _header(column: str) -> str:
    return column.replace("_", " ")


def _width(text: str) -> float:
    return len(text) * CHAR_PX


# --- charts ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    series: int  # colour index
    value: float
    drop: float = 0.0  # lost since the previous step (drawn after the bar)
    label: str = ""  # the value shown beside the bar


def _ticks(top: float) -> list[float]:
    """About five round tick values from 0 to at least ``top``."""
    raw = max(top, 1) / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 0.1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [step * i for i in range(int(top / step) + 2) if step * (i - 1) < top]


def hbars(groups: Sequence[tuple[str, Sequence[Bar]]], axis_title: str, title: str) -> str:
    """Horizontal bars in groups (one label per group, one bar per series in it), a value axis
    with ticks and a title below, each bar's value at its end."""
    bar_h, gap = 16, 10
    label_w = max([_width(g) for g, _ in groups] + [40]) + 12
    value_w = max([_width(b.label) for _, bars in groups for b in bars] + [30]) + 12
    plot_w = max(PAGE_PX - label_w - value_w, 260)
    ticks = _ticks(max([b.value + b.drop for _, bars in groups for b in bars] + [0]))
    top = ticks[-1] or 1
    height = sum(len(bars) * bar_h + gap for _, bars in groups)
    total_h = height + 52
    x0 = label_w
    parts = [
        f'<svg width="{label_w + plot_w + value_w:.0f}" height="{total_h}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for t in ticks:
        x = x0 + plot_w * t / top
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="0" y2="{height}" stroke="#e5e5e5"/>'
            f'<text class="axis" x="{x:.1f}" y="{height + 16}" text-anchor="middle">'
            f"{escape(_fmt(t))}</text>"
        )
    parts.append(
        f'<line x1="{x0}" x2="{x0 + plot_w}" y1="{height}" y2="{height}" stroke="#888"/>'
        f'<text class="axis" x="{x0 + plot_w / 2:.1f}" y="{height + 40}" text-anchor="middle">'
        f"{escape(axis_title)}</text>"
    )
    y = 0
    for label, bars in groups:
        mid = y + len(bars) * bar_h / 2
        parts.append(
            f'<text x="{label_w - 8}" y="{mid + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
        for b in bars:
            w = plot_w * b.value / top
            d = plot_w * b.drop / top
            color = PALETTE[b.series % len(PALETTE)]
            parts.append(
                f'<rect x="{x0}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 4}" fill="{color}"/>'
            )
            if d:
                parts.append(
                    f'<rect x="{x0 + w:.1f}" y="{y + 2}" width="{d:.1f}" height="{bar_h - 4}" '
                    f'fill="{DROP}"/>'
                )
            parts.append(
                f'<text x="{x0 + w + d + 4:.1f}" y="{y + bar_h - 4}">{escape(b.label)}</text>'
            )
            y += bar_h
        y += gap
    parts.append("</svg>")
    return "".join(parts)


def _legend(names: Sequence[str], extra: str = "") -> str:
    items = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{escape(n)}</span>'
        for i, n in enumerate(names)
    )
    return f'<div class="legend">{items}{extra}</div>'


def _funnel(section: Section) -> str:
    ix = {c: i for i, c in enumerate(section.columns)}

    def lost(r: Sequence[Any]) -> Any:
        return r[ix["drop_off"]] if "drop_off" in ix else 0

    series = list(dict.fromkeys(r[ix["breakdown"]] for r in section.rows))
    first = {
        s: max(r[ix["clients"]] for r in section.rows if r[ix["breakdown"]] == s) for s in series
    }
    shown = sorted(series, key=lambda s: -first[s])[:MAX_SERIES]
    steps = list(
        dict.fromkeys(r[ix["step"]] for r in sorted(section.rows, key=lambda r: r[ix["step_no"]]))
    )
    got = {(r[ix["breakdown"]], r[ix["step"]]): r for r in section.rows}
    groups = []
    for step in steps:
        bars = []
        for n, s in enumerate(shown):
            r = got.get((s, step))
            if r is not None:
                gone = lost(r)
                label = _fmt(r[ix["clients"]]) + (f" (−{_fmt(gone)})" if gone else "")
                bars.append(Bar(n, r[ix["clients"]], gone, label))
        groups.append((str(step), bars))
    worst = []
    for s in shown:
        rows = [r for r in section.rows if r[ix["breakdown"]] == s and lost(r) > 0]
        if rows:
            r = max(rows, key=lost)
            name = "" if s in ("all", "") else f"{s}: "
            share = lost(r) / (lost(r) + r[ix["clients"]]) * 100
            worst.append(
                f"{name}{_fmt(lost(r))} clients ({share:.0f} %) left before “{r[ix['step']]}”"
            )
    more = f" (the {MAX_SERIES} largest of {len(series)})" if len(series) > MAX_SERIES else ""
    legend = _legend(
        [str(s) for s in shown] if series != ["all"] else ["clients"],
        f'<span><i style="background:{DROP}"></i>lost since the previous step</span>',
    )
    note = "".join(f'<p class="note">Largest drop-off — {escape(w)}</p>' for w in worst)
    return (
        f"<h3>Clients reaching each booking step{escape(more)}</h3>{legend}"
        + hbars(groups, "clients who reached the step", "booking funnel")
        + note
    )


def _attribution(section: Section) -> str:
    ix = {c: i for i, c in enumerate(section.columns)}
    models = list(dict.fromkeys(r[ix["model"]] for r in section.rows))
    keys = sorted({r[ix["key"]] for r in section.rows}, key=str)
    got = {(r[ix["model"]], r[ix["key"]]): r[ix["conversions"]] for r in section.rows}
    groups = [
        (str(k), [Bar(n, v, 0, _fmt(v)) for n, m in enumerate(models) if (v := got.get((m, k)))])
        for k in keys
    ]
    return (
        "<h3>Conversions credited to each channel or campaign, by attribution model</h3>"
        + _legend([str(m) for m in models])
        + hbars(groups, "credited conversions", "attribution")
    )


def _counts(section: Section) -> str:
    numeric = [
        i
        for i, _ in enumerate(section.columns)
        if all(isinstance(r[i], int) and not isinstance(r[i], bool) for r in section.rows)
    ]
    if not numeric or not 0 < len(section.rows) <= 40 or section.name.startswith("client_"):
        return ""
    i, keys = numeric[0], min(numeric)
    # subtotal rows ("(all)") would dwarf the rows they add up: the table keeps them
    rows = [r for r in section.rows if TOTAL not in r[:keys]] or section.rows
    column = _header(section.columns[i])
    names = " / ".join(_header(c) for c in section.columns[:keys])
    groups = [
        (" / ".join(_fmt(v) for v in r[:keys]) or str(n + 1), [Bar(0, r[i], 0, _fmt(r[i]))])
        for n, r in enumerate(rows)
    ]
    title = f"{column.capitalize()}{f' by {names}' if names else ''}"
    return f"<h3>{escape(title)}</h3>" + hbars(groups, column, section.title)


def band_chart(rows: Sequence[Sequence[Any]], title: str) -> str:
    """Line chart of one series over hours: the expected band (shaded), the expected value
    (dashed), the actual value, and flagged hours as red dots. Rows: (hour, actual, expected,
    lower, upper, flag)."""
    width, plot_h, left = PAGE_PX - 100, 180, 50
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
                f'<circle cx="{x}" cy="{y}" r="3" fill="{FLAGGED}">'
                f"<title>{escape(_fmt(r[0]))}: {escape(_fmt(r[1]))} "
                f"(expected {escape(_fmt(r[2]))})</title></circle>"
            )
    parts.append("</svg>")
    legend = (
        '<div class="legend"><span><i style="background:#222"></i>actual</span>'
        f'<span><i style="background:{PALETTE[0]};opacity:.3"></i>expected band</span>'
        f'<span><i style="background:{FLAGGED}"></i>flagged</span></div>'
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
    if section.name == "anomaly_series":
        return _anomaly_charts(section)
    if section.name == "anomalies":
        return ""
    if section.name == "booking_funnel":
        return _funnel(section)
    if section.name == "attribution":
        return _attribution(section)
    return _counts(section)


# --- tables ---------------------------------------------------------------------------------------


def _table(section: Section) -> str:
    if len(section.rows) == 1 and len(section.columns) > 8:  # one record: one field a line
        rows = "".join(
            f"<tr><th>{escape(_header(c))}</th><td>{escape(_cell(c, v))}</td></tr>"
            for c, v in zip(section.columns, section.rows[0], strict=True)
        )
        return f"<table>{rows}</table>"
    head = "".join(f"<th>{escape(_header(c))}</th>" for c in section.columns)
    drop = section.columns.index("drop_off") if "drop_off" in section.columns else None
    worst = max((r[drop] for r in section.rows), default=0) if drop is not None else 0
    body = []
    for r in section.rows:
        cells = []
        for i, (c, v) in enumerate(zip(section.columns, r, strict=True)):
            css = ["n"] if isinstance(v, int | float) and not isinstance(v, bool) else []
            if i == drop and v:
                css.append("worst" if v == worst else "drop")
            attr = f' class="{" ".join(css)}"' if css else ""
            cells.append(f"<td{attr}>{escape(_cell(c, v))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render(report: Report, params: Mapping[str, Any], sections: Sequence[Section]) -> str:
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items() if v not in ("", None))
    body = [
        f"<h1>Touchline: {escape(report.name.replace('_', ' '))}</h1>",
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
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Touchline {escape(report.name)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
