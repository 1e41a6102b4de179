"""Report parameters, text/JSON/CSV output and the self-contained HTML page."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sinks import clickhouse, html, parameters, reports, tables
from sinks.reports import Section
from touchline.errors import TouchlineError


def test_every_query_filters_and_every_parameter_has_a_default() -> None:
    for name in clickhouse.query_names():
        declared = parameters.declared(clickhouse.query_sql(name))
        whole_history = name.startswith("client_")  # the client card shows everything
        assert {"account"} | (set() if whole_history else {"from", "to"}) <= set(declared), name
        assert set(declared) <= set(parameters.DEFAULTS), name


def test_every_report_query_exists_and_options_are_declared() -> None:
    known = set(clickhouse.query_names())
    for report in reports.REPORTS.values():
        declared: set[str] = set()
        for query, _ in report.queries:
            assert query in known
            declared |= set(parameters.declared(clickhouse.query_sql(query)))
        assert set(report.options) <= declared, report.name


def test_resolve_coerces_and_rejects_with_the_option_name() -> None:
    sql = "{from:Date} {window_ms:UInt64} {half_life_days:Float64} {model:String}"
    got = parameters.resolve(sql, {"from": "2025-02-03", "window_ms": "60", "model": None})
    assert got == {
        "from": date(2025, 2, 3),
        "window_ms": 60,
        "half_life_days": 7.0,
        "model": "",
    }
    with pytest.raises(TouchlineError, match="--from: '2025-13-01'"):
        parameters.resolve(sql, {"from": "2025-13-01"})
    with pytest.raises(TouchlineError, match="--window-ms"):
        parameters.resolve(sql, {"window_ms": -5})
    with pytest.raises(TouchlineError, match="--model: 'best' is not one of"):
        parameters.resolve(sql, {"model": "best"})


def test_client_card_requires_a_client() -> None:
    with pytest.raises(TouchlineError, match="--client"):
        reports.run(reports.get("client_card"), {}, lambda q, p: ([], []))
    with pytest.raises(TouchlineError, match="no report named"):
        reports.get("nope")


def test_the_events_check_requires_event_ids() -> None:
    with pytest.raises(TouchlineError, match="--events"):
        reports.run(reports.get("events"), {"events": ""}, lambda q, p: ([], []))
    ran: list[str] = []

    def runner(query: str, params: Any) -> tuple[list[str], reports.Rows]:
        ran.append(query)
        return [], []

    reports.run(reports.get("events"), {"events": "x"}, runner)
    assert ran == ["event_status"]


SECTIONS = [
    Section(
        "booking_funnel",
        "Funnel steps",
        ["breakdown", "step_no", "step", "clients"],
        [("all", 1, "appointment_booking_start", 100), ("all", 2, "<summary>", 25)],
    ),
    Section(
        "attribution",
        "Attribution",
        ["model", "key", "conversions", "revenue_minor", "multichannel_share"],
        [
            ("first", "email", 3.0, 10.0, 0.5),
            ("linear", "email", 1.5, 5.0, 0.25),
            ("linear", "direct", 1.5, 5.0, 0.0),
        ],
    ),
]


def test_sections_render_as_table_json_and_csv() -> None:
    text = tables.render_sections(SECTIONS, "table")
    assert "== Funnel steps" in text and "appointment_booking_start" in text
    data = json.loads(tables.render_sections(SECTIONS, "json"))
    assert data["attribution"][1] == {
        "model": "linear",
        "key": "email",
        "conversions": 1.5,
        "revenue_minor": 5.0,
        "multichannel_share": 0.25,
    }
    csv_text = tables.render_sections(SECTIONS, "csv")
    assert "# attribution\nmodel,key,conversions" in csv_text


def test_html_is_self_contained_escaped_and_bars_scale_with_values() -> None:
    page = html.render(reports.get("booking_funnel"), {"account": "a&b"}, SECTIONS)
    assert page.startswith("<!doctype html>")
    assert not re.search(r"(src|href)=|https?://|<script", page)
    assert "&lt;summary&gt;" in page and "a&amp;b" in page
    widths = [float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', page)]
    assert widths[1] > 0 and abs(widths[0] - 4 * widths[1]) < 1  # 100 and 25 clients, one scale
    assert page.count("<svg") == 2  # funnel bars and the attribution comparison
    assert "linear" in page and "first" in page


def test_report_rejects_options_it_does_not_support() -> None:
    with pytest.raises(TouchlineError, match="attribution: --by 'location'"):
        reports.run(reports.get("attribution"), {"by": "location"}, lambda q, p: ([], []))
    with pytest.raises(TouchlineError, match="engagement: --breakdown 'store'"):
        reports.run(reports.get("engagement"), {"breakdown": "store"}, lambda q, p: ([], []))


def test_queries_include_shared_fragments_once_expanded() -> None:
    for name in ("client_summary", "client_card"):
        sql = clickhouse.query_sql(name)
        assert clickhouse._INCLUDE.search(sql) is None
        assert ") AS stitched" in sql and "{client:String}" in sql
    fragment = (clickhouse.SQL / "fragments" / "client_lookup.sql").read_text()
    assert fragment.rstrip("\n") in clickhouse.query_sql("client_card")


def test_fragments_include_fragments_but_never_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sql = clickhouse.query_sql("booking_funnel")  # booking_visits includes event_time_touches
    assert clickhouse._INCLUDE.search(sql) is None and "et_touches AS (" in sql
    (tmp_path / "queries").mkdir()
    (tmp_path / "fragments").mkdir()
    (tmp_path / "queries" / "q.sql").write_text("SELECT 1\n-- include: a\n")
    (tmp_path / "fragments" / "a.sql").write_text("-- include: b\n")
    (tmp_path / "fragments" / "b.sql").write_text("-- include: a\n")
    monkeypatch.setattr(clickhouse, "SQL", tmp_path)
    with pytest.raises(TouchlineError, match="fragment 'a' includes itself"):
        clickhouse.query_sql("q")
