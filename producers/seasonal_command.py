"""``touchline generate-seasonal``: weeks of seasonal booking traffic with planted anomalies
(:mod:`producers.seasonal`) as JSON lines, and the planted truth as JSON."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import orjson

from producers import seasonal
from producers.generate_command import _write, int_at_least, jsonl
from touchline.settings import Settings


def truth_json(data: seasonal.Seasonal, config: seasonal.SeasonalConfig) -> bytes:
    def planted(p: seasonal.Planted) -> dict[str, Any]:
        out = asdict(p)
        out["start"] = datetime.fromtimestamp(p.start_ms / 1000, UTC).isoformat()
        out["end"] = datetime.fromtimestamp(p.end_ms / 1000, UTC).isoformat()
        return out

    document = {
        "config": asdict(config),
        "events": len(data.events),
        "end_ms": data.end_ms,
        "planted": [planted(p) for p in data.truth],
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def run(args: argparse.Namespace, settings: Settings) -> int:
    start = datetime.combine(args.start, time(0), tzinfo=UTC)
    config = seasonal.SeasonalConfig(
        weeks=args.weeks, seed=args.seed, start_ms=int(start.timestamp() * 1000)
    )
    data = seasonal.generate(config)
    _write(args.out, jsonl(data.events))
    if args.truth is not None:
        _write(args.truth, truth_json(data, config))
    print(
        f"generated {len(data.events)} events over {config.weeks} weeks from {args.start} with "
        f"{len(data.truth)} planted anomalies to {args.out}",
        file=sys.stderr,
    )
    return 0


_weeks = int_at_least(4, " (2 of warm-up, then the plants)")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "generate-seasonal",
        help="generate weeks of seasonal booking traffic with planted anomalies and their truth",
        description="Two accounts' hour-of-day and weekday seasonal traffic (booking widget, "
        "web, calls, contacts, studio system) with, after two weeks of warm-up, planted 60 %% "
        "booking drops for 3 hours, 2-hour booking-widget silences and booking-start spikes, "
        "recorded in --truth. The same arguments always give the same bytes.",
    )
    parser.add_argument("--weeks", type=_weeks, default=6, help="weeks of traffic (default 6)")
    parser.add_argument("--seed", type=int, default=11, help="random seed (default 11)")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 9, 7),
        help="first day, YYYY-MM-DD, from 00:00 UTC (default 2026-09-07, a Monday)",
    )
    parser.add_argument("--out", type=Path, required=True, help="write events here (JSON lines)")
    parser.add_argument("--truth", type=Path, default=None, help="write the planted truth here")
    parser.set_defaults(func=run)
