"""The funnel dashboard as a marketer reads it: counts and money never share an axis, money is in
the currency's units per currency, steps carry the reports' labels, and the default time range
shows the whole demo timeline. (tests/unit/test_deploy_configs.py runs every panel's SQL against
the DDL.)"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from cli.demo import demo_events
from sinks.labels import CHANNELS, STEPS
from tests.unit.test_deploy_configs import FUNNEL

COUNTS = re.compile(r"\bAS (conversions|clients|events|arrived|no_show)\b")
MONEY = re.compile(r"\bAS (revenue\w*)\b")


def _panels() -> list[dict[str, Any]]:
    panels: list[dict[str, Any]] = json.loads(FUNNEL.read_text())["panels"]
    return panels


def _outer_select(sql: str) -> str:
    """The outermost SELECT list (the panel's columns)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return code.split("SELECT", 1)[1].split("\nFROM", 1)[0]


def test_no_panel_puts_counts_and_money_on_one_axis() -> None:
    money_panels = 0
    for panel in _panels():
        for target in panel["targets"]:
            columns = _outer_select(target["rawSql"])
            if MONEY.search(columns):
                money_panels += 1
                assert not COUNTS.search(columns), panel["title"]
                assert "/ 100" in columns and "currency" in columns, panel["title"]
                assert "_minor" not in MONEY.search(columns)[1]  # type: ignore[index]
    assert money_panels == 1


def test_funnel_steps_carry_the_reports_labels() -> None:
    funnel = next(p for p in _panels() if p["title"] == "Booking funnel per step")
    sql = funnel["targets"][0]["rawSql"]
    steps = re.findall(r"'(appointment_booking\w*)'", sql)
    labels = re.search(r"\[([^\]]*)\] AS labels", sql)
    assert labels is not None
    assert re.findall(r"'([^']+)'", labels[1]) == [STEPS[s] for s in steps]


def test_default_time_range_shows_the_whole_demo() -> None:
    span = json.loads(FUNNEL.read_text())["time"]
    days = int(re.fullmatch(r"now-(\d+)d", span["from"])[1])  # type: ignore[index]
    now = int(time.time() * 1000)
    times = [
        e["envelope"]["occurred_at"]
        for e in demo_events(300, 7, now_ms=now)
        if isinstance(e, dict)
        and isinstance(e.get("envelope"), dict)
        and isinstance(e["envelope"].get("occurred_at"), int)
    ]
    assert span["to"] == "now" and (now - min(times)) / 86_400_000 < days


def test_channels_carry_the_reports_labels() -> None:
    labelled = 0
    for panel in _panels():
        sql = panel["targets"][0]["rawSql"]
        if "channel" not in _outer_select(sql):
            continue
        found = re.search(r"transform\(.*?\[([^\]]*)\],\s*\[([^\]]*)\]", sql, re.S)
        assert found, panel["title"]
        raw, shown = (re.findall(r"'([^']+)'", g) for g in found.groups())
        assert dict(zip(raw, shown, strict=True)) == CHANNELS, panel["title"]
        labelled += 1
    assert labelled == 3
