"""Shapes copied from the contracts are checked field for field against the ``.avsc``: the
enriched record the worker builds, the sink's columns (and so the DDL, which
``test_sink_rows.py`` checks against them), the line items, and the web-context fields the adapters
read. A field added to a schema and forgotten in one of them fails here, by name."""

from __future__ import annotations

from typing import Any

from devtools.evolution import sample
from pipeline import enrichment
from pipeline.outputs import enriched_record, merge_records
from producers.adapters.native import WEB_FIELDS
from sinks import rows
from touchline.contracts import DEAD_LETTER, ENRICHED, MERGE, load
from touchline.identity import Identifiers
from touchline.settings import REPO_ROOT

CONTRACTS = load(REPO_ROOT / "schemas")


def _fields(name: str) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = CONTRACTS.expanded[name]["fields"]
    return fields


def _names(name: str) -> list[str]:
    return [f["name"] for f in _fields(name)]


def _field(name: str, field: str) -> dict[str, Any]:
    return next(f for f in _fields(name) if f["name"] == field)


def _line_names() -> list[str]:
    return [f["name"] for f in _field(ENRICHED, "lines")["type"]["items"]["fields"]]


def _is_timestamp(node: Any) -> bool:
    if isinstance(node, list):
        return any(_is_timestamp(branch) for branch in node)
    return isinstance(node, dict) and node.get("logicalType") == "timestamp-millis"


def test_the_worker_builds_every_enriched_field_and_no_other() -> None:
    datum = sample(CONTRACTS.expanded["touchline.events.WebTouch"])
    static = enrichment.static("touchline.events.WebTouch", datum)
    result = {
        "client_id": "c1",
        "touch_seq": 1,
        "multichannel": False,
        "channels_before": [],
        "enrichment": {
            "processed_at": 1,
            "session_id": "s",
            "session_seq": 1,
            "session_started_at": 1,
            "landing_page": None,
            "time_on_site_ms": 0,
            "channel": "direct",
            "is_touch": True,
        },
    }
    record = enriched_record(
        "touchline.events.WebTouch", datum, Identifiers(None, None, None, ()), static, result
    )
    assert list(record) == _names(ENRICHED)
    assert list(static.lines[0] if static.lines else enrichment._line()) == _line_names()


def test_the_worker_builds_every_merge_field() -> None:
    (merge,) = merge_records({"client_id": "b", "merged_from": ["a"]}, "acc", "e1", 1)
    assert list(merge) == _names(MERGE)


def test_sink_columns_are_the_enriched_fields() -> None:
    expected: list[str] = []
    for name in _names(ENRICHED):
        if name == "lines":
            expected.extend(f"lines.{f}" for f in _line_names())
        else:
            expected.append(name)
    assert sorted(rows.COLUMNS) == sorted(expected)
    assert list(rows.LINE_FIELDS) == _line_names()
    stamps = {f["name"] for f in _fields(ENRICHED) if _is_timestamp(f["type"])}
    assert stamps == rows.TIMESTAMPS


def test_merge_columns_are_the_merge_fields() -> None:
    assert list(rows.MERGE_COLUMNS) == _names(MERGE)


def test_web_fields_are_the_web_context_fields_all_optional_strings() -> None:
    assert list(WEB_FIELDS) == _names("touchline.WebContext")
    for field in _fields("touchline.WebContext"):
        assert field["type"] == ["null", "string"], field["name"]


def test_dead_letter_builder_fills_every_dead_letter_field() -> None:
    from touchline import deadletter

    assert list(deadletter.datum("ingest", "why", b"x")) == _names(DEAD_LETTER)
