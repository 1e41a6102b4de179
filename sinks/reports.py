"""The reports: which queries make each report, its options, and the sections it prints.

A report runs through a ``Runner`` (query name, parameters -> columns, rows), so the same report
runs on a ClickHouse client or through the running sink's loopback query endpoint."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sinks.significance import with_significance
from touchline.errors import TouchlineError

Rows = list[tuple[Any, ...]]
Runner = Callable[[str, Mapping[str, Any]], tuple[list[str], Rows]]


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    columns: list[str]
    rows: Rows
    hidden: bool = False  # left out of the text table (charts, JSON and CSV still have it)


@dataclass(frozen=True)
class Report:
    name: str
    help: str
    queries: tuple[tuple[str, str], ...]  # (query name, section title)
    options: tuple[str, ...]  # per-report parameters the CLI accepts (besides the filters)
    narrower: tuple[tuple[str, tuple[str, ...]], ...] = ()  # options with fewer allowed values
    required: tuple[tuple[str, str], ...] = ()  # (option, what it takes): none, no report


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "booking_funnel",
            "booking widget funnel: per-step clients, conversion, drop-off, success vs failed, "
            "time to convert",
            (("booking_funnel", "Funnel steps"), ("booking_outcomes", "Outcomes")),
            ("breakdown", "window_ms", "strict", "profiles"),
        ),
        Report(
            "attribution",
            "conversions and revenue credited to channels or campaigns under six models",
            (("attribution", "Attribution"),),
            (
                "model",
                "by",
                "lookback_days",
                "half_life_days",
                "session_timeout_minutes",
                "min_channels",
            ),
            (("by", ("channel", "campaign")),),
        ),
        Report(
            "client_card",
            "one client: identifiers, first touch, every touch and contact, revenue",
            (("client_summary", "Client"), ("client_card", "Touches and contacts")),
            ("client", "lookback_days", "session_timeout_minutes", "min_channels"),
            required=(("client", "a client id, web client id, email or phone"),),
        ),
        Report(
            "appointments",
            "scheduled -> confirmed -> arrived, no-show rate by location and staff",
            (("appointments", "Appointments"),),
            (),
        ),
        Report(
            "classes",
            "class bookings, sign-ups, cancellations by type, late cancels, waitlist conversion",
            (("classes", "Classes"), ("class_cancellations", "Cancellations by type")),
            (),
        ),
        Report(
            "engagement",
            "CTA click-through, form abandonment, A/B variants with significance, NPS/CSAT",
            (
                ("engagement", "Web engagement"),
                ("experiments", "Experiments (two-proportion z-test vs control)"),
                ("feedback", "NPS and CSAT"),
            ),
            ("breakdown", "window_days", "by"),
            (("breakdown", ("channel", "device", "campaign")), ("by", ("channel", "location"))),
        ),
        Report(
            "events",
            "which of the given event ids are stored (queryable by the reports): type, event "
            "time, processing time, stored client",
            (("event_status", "Stored events"),),
            ("events",),
            required=(("events", "event ids, comma-separated"),),
        ),
        Report(
            "anomalies",
            "booking-health drops and spikes per hour vs the hour-of-week baseline of the "
            "previous weeks, with the expected band (default: the last 7 days of data)",
            (("anomaly_hourly", "Anomalies"),),
            (),
        ),
    )
}


def get(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise TouchlineError(f"no report named {name!r} (reports: {', '.join(REPORTS)})")
    return report


def run(report: Report, params: Mapping[str, Any], runner: Runner) -> list[Section]:
    for option, what in report.required:
        if not params.get(option):
            raise TouchlineError(f"{report.name} needs --{option} ({what})")
    for option, allowed in report.narrower:
        value = params.get(option)
        if value is not None and value not in allowed:
            raise TouchlineError(
                f"{report.name}: --{option} {value!r} is not one of {', '.join(allowed)}"
            )
    sections = []
    for query, title in report.queries:
        if query == "anomaly_hourly":
            from sinks import anomaly_report

            sections.extend(anomaly_report.sections(params, runner))
            continue
        columns, rows = runner(query, params)
        if query == "experiments":
            columns, rows = with_significance(columns, rows)
        sections.append(Section(query, title, columns, rows))
    return sections
