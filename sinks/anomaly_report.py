"""``touchline report anomalies``: the detector of :mod:`sinks.anomalies` over the hourly rollup,
as two sections: the alerts (runs of flagged hours) and, for charts and machines, every scored
hour with its expected band (hidden from the text table)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sinks import anomalies
from touchline.settings import get_settings

Runner = Callable[[str, Mapping[str, Any]], tuple[list[str], list[tuple[Any, ...]]]]
ALERT_COLUMNS = [
    "account",
    "series",
    "direction",
    "first_hour_utc",
    "last_hour_utc",
    "hours",
    "peak_hour_utc",
    "actual",
    "expected",
    "lower",
    "upper",
    "score",
]
SERIES_COLUMNS = [
    "account",
    "series",
    "hour",
    "actual",
    "expected",
    "lower",
    "upper",
    "score",
    "flag",
]
DEFAULT_DAYS = 7  # without --from: the last week of each account's data


def sections(params: Mapping[str, Any], runner: Runner) -> list[Any]:
    """Read the series (from the baseline weeks before ``from`` on), score ``from``..``to``."""
    from sinks.reports import Section

    cfg = anomalies.Config.from_settings(get_settings())
    first_day: date | None = _day(params.get("from"))
    query = dict(params)
    if first_day is not None:
        query["from"] = first_day - timedelta(days=7 * cfg.baseline_weeks)
    _, rows = runner("anomaly_hourly", query)
    series = anomalies.series_from_rows(rows)
    last_day = _day(params.get("to"))
    last = None if last_day is None else anomalies.hour_index(_midnight(last_day)) + 23
    points = []
    for account, (_, end) in sorted(series.span.items()):
        first = (
            anomalies.hour_index(_midnight(first_day))
            if first_day is not None
            else end - 24 * DEFAULT_DAYS + 1
        )
        points += [p for p in anomalies.detect(series, cfg, first, last) if p.account == account]
    alert_rows = [_alert_row(a) for a in anomalies.alerts(points)]
    alert_rows.sort(key=lambda r: (r[0], r[3], r[1]))
    series_rows = [
        (
            p.account,
            p.series,
            anomalies.hour_datetime(p.hour),
            p.actual,
            p.expected,
            p.lower,
            p.upper,
            p.score,
            p.flag,
        )
        for p in points
    ]
    return [
        Section("anomalies", "Anomalies (runs of flagged hours)", ALERT_COLUMNS, alert_rows),
        Section(
            "anomaly_series",
            "Actual vs expected band, per hour",
            SERIES_COLUMNS,
            series_rows,
            hidden=True,
        ),
    ]


def _alert_row(a: anomalies.Alert) -> tuple[Any, ...]:
    p = a.peak
    return (
        a.account,
        a.series,
        "drop" if a.direction < 0 else "spike",
        _hour(a.start),
        _hour(a.end - 1),
        a.end - a.start,
        _hour(p.hour),
        round(p.actual, 4),
        round(p.expected, 4),
        round(p.lower, 4),
        round(p.upper, 4),
        round(p.score, 2),
    )


def _hour(hour: int) -> str:
    """The start of an hour, UTC, as the table shows it (each row's window ends with it)."""
    return anomalies.hour_datetime(hour).strftime("%Y-%m-%d %H:00")


def _day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
