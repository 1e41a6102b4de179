"""``touchline report NAME``: every option a report offers reaches the query parameter it names
(sinks/report_options.py -> sinks/commands.py report_params), and an option the report does not
take is refused with the report's own options."""

from __future__ import annotations

import argparse

import pytest

from sinks.commands import report_params
from sinks.report_options import OPTIONS, _choices, add_report_parser, check_options
from sinks.reports import REPORTS
from touchline.errors import TouchlineError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"), lambda *_: 0)
    return parser.parse_args(["report", *argv])


def test_every_option_a_report_takes_reaches_its_parameter() -> None:
    checked = 0
    for report in REPORTS.values():
        for option in OPTIONS:
            if not option.taken_by(report):
                continue
            if option.kwargs.get("action") == "store_true":
                args = parse(report.name, option.flag)
                assert report_params(args)[option.params[0]] == 1, (report.name, option.flag)
            else:
                value = (_choices(option, report) or ["3"])[0]
                args = parse(report.name, option.flag, value)
                params = report_params(args)
                given = params[option.params[-1]]
                assert str(given) in (value, f"{value}.0"), (report.name, option.flag, given)
            check_options(report, args)
            checked += 1
    assert checked > 15


def test_the_events_check_takes_its_ids() -> None:
    assert report_params(parse("events", "--events", "a,b"))["events"] == "a,b"


def test_an_option_the_report_does_not_take_is_refused() -> None:
    with pytest.raises(TouchlineError, match="does not use --events"):
        check_options(REPORTS["appointments"], parse("appointments", "--events", "x"))
