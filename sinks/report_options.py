"""``touchline report NAME``: one sub-command per report, offering only the options it takes.

Each option is declared once here with the report parameters it sets; a report takes the options
whose parameters are in its ``Report.options`` (``sinks/reports.py``), with the report's own
allowed values (``Report.narrower``) and help. The other options are still parsed, hidden, so that
``touchline report appointments --breakdown channel`` ends with a one-line error naming the report's
options instead of being ignored silently or answered with argparse's bare "unrecognized
arguments"."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.parameters import CHOICES
from sinks.reports import REPORTS, Report
from touchline.errors import TouchlineError
from touchline.settings import default


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


@dataclass(frozen=True)
class Option:
    flag: str
    params: tuple[str, ...]  # the report parameters it sets
    help: dict[str, str]  # report name -> help ("" key: every report)
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")

    def taken_by(self, report: Report) -> bool:
        return any(p in report.options for p in self.params)


FUNNEL_BREAKDOWN = (
    "split the funnel by store, service, resource, channel, campaign or device. store, service "
    "and resource: a client's journey counts for the one they chose (their first choice), and "
    "each one's funnel starts at the step where it is chosen; clients who left before choosing "
    "are only in the funnel without --breakdown"
)
OPTIONS = (
    Option(
        "--breakdown",
        ("breakdown",),
        {"booking_funnel": FUNNEL_BREAKDOWN, "engagement": "split web engagement by this"},
    ),
    Option("--model", ("model",), {"": "one attribution model (default: all six)"}),
    Option(
        "--by",
        ("by",),
        {
            "attribution": "credit channels or campaigns (default channel)",
            "engagement": "NPS/CSAT by channel or location (default channel)",
        },
    ),
    Option(
        "--window-days",
        ("window_ms", "window_days"),
        {
            "booking_funnel": "conversion window from the start step, in days (default 7)",
            "engagement": "experiment conversion window, in days (default 14)",
        },
        {"type": _positive, "metavar": "DAYS"},
    ),
    Option(
        "--lookback-days",
        ("lookback_days",),
        {
            "": "touches up to this many days before a conversion or contact count "
            f"(default: TOUCHLINE_LOOKBACK_DAYS, {default('lookback_days')}, as the worker)"
        },
        {"type": int, "metavar": "DAYS"},
    ),
    Option(
        "--session-timeout-minutes",
        ("session_timeout_minutes",),
        {
            "": "inactivity that starts a new session when touches are derived "
            f"(default: TOUCHLINE_SESSION_TIMEOUT_MINUTES, {default('session_timeout_minutes')})"
        },
        {"type": int, "metavar": "MINUTES"},
    ),
    Option(
        "--min-channels",
        ("min_channels",),
        {
            "": "distinct channels before a contact (or in a path) that make it multichannel "
            "(default: TOUCHLINE_MULTICHANNEL_MIN_CHANNELS, "
            f"{default('multichannel_min_channels')})"
        },
        {"type": int, "metavar": "N"},
    ),
    Option(
        "--half-life-days",
        ("half_life_days",),
        {"": "time_decay model half-life (default 7)"},
        {"type": _positive, "metavar": "DAYS"},
    ),
    Option(
        "--strict",
        ("strict",),
        {"": "steps must come in order (the funnel stops at a skipped step)"},
        {"action": "store_true"},
    ),
    Option(
        "--profiles",
        ("profiles",),
        {"": "include the optional profiles step"},
        {"action": "store_true"},
    ),
    Option(
        "--client",
        ("client",),
        {"": "the client: client id, web client id (_ga), email or phone (required)"},
    ),
    Option(
        "--events",
        ("events",),
        {"": "event ids, comma-separated (required): the stored ones are listed"},
        {"metavar": "ID,ID,..."},
    ),
)


def _choices(option: Option, report: Report) -> list[str] | None:
    name = option.params[0]
    if name not in CHOICES:
        return None
    narrower = dict(report.narrower)
    return list(narrower.get(name) or [c for c in CHOICES[name] if c])


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=["table", "json", "csv"],
        default="table",
        help="table (default): for people, with step and channel names, percentages and money "
        "with its currency; json, csv: raw names and fractions, money as exact decimal strings "
        "(revenue_minor, revenue, currency; per currency when several)",
    )
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    g = parser.add_argument_group("filters")
    g.add_argument("--account", help="only this account")
    g.add_argument(
        "--from", dest="from", metavar="YYYY-MM-DD", help="first day (inclusive; default: all)"
    )
    g.add_argument("--to", metavar="YYYY-MM-DD", help="last day (inclusive; default: all)")
    g.add_argument("--location", help="only this location (location id or a line's store id)")
    g.add_argument("--service", help="only this service (a line's service id, or class id)")


def _add_report(sub: argparse._SubParsersAction, report: Report) -> None:
    parser = sub.add_parser(
        report.name,
        help=report.help,
        description=f"{report.name}: {report.help}.",
    )
    _add_common(parser)
    own = parser.add_argument_group(f"{report.name} options")
    for option in OPTIONS:
        if option.taken_by(report):
            text = option.help.get(report.name) or option.help[""]
            choices = _choices(option, report)
            extra = {"choices": choices} if choices else {}
            own.add_argument(option.flag, help=text, **extra, **option.kwargs)
        else:  # parsed so that check_options can name it; not offered
            parser.add_argument(option.flag, help=argparse.SUPPRESS, **option.kwargs)


def add_report_parser(sub: argparse._SubParsersAction, func: Callable[..., int]) -> None:
    report = sub.add_parser(
        "report",
        help="run a report (" + ", ".join(REPORTS) + ")",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a report on ClickHouse and print it as a table (or --format json|csv; "
        "--html FILE for a page with charts). While `touchline sink` runs, the report runs "
        "through it (chDB lets one process open a data directory).\n"
        "`touchline report NAME --help` lists the options of one report.",
    )
    reports_sub = report.add_subparsers(dest="name", required=True, metavar="NAME")
    for r in REPORTS.values():
        _add_report(reports_sub, r)
    report.set_defaults(func=func)


def check_options(report: Report, args: argparse.Namespace) -> None:
    """Refuse an option the report does not take (rather than ignoring it)."""
    for option in OPTIONS:
        value = getattr(args, option.dest, None)
        if option.taken_by(report) or value in (None, False):
            continue
        own = [o.flag for o in OPTIONS if o.taken_by(report)]
        takes = f"its options are {', '.join(own)}" if own else "it takes only the filters"
        raise TouchlineError(
            f"report {report.name} does not use {option.flag} ({takes}; "
            f"see `touchline report {report.name} --help`)"
        )
