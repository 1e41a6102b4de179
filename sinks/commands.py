"""``touchline sink``, ``touchline db migrate`` and ``touchline report``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from touchline.settings import Settings, default

FILTERS = ("account", "from", "to", "location", "service")


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse
    from sinks.cluster import Cluster
    from sinks.endpoint import QueryEndpoint, advertise
    from sinks.sink import Sink
    from touchline import topics
    from touchline.codec import Codec
    from touchline.contracts import load_cached
    from touchline.endpoints import endpoints as where

    endpoints = where(settings)
    contracts = load_cached(settings.schemas_dir)
    client = clickhouse.connect(endpoints.clickhouse_dsn)
    clickhouse.migrate(client, settings.clickhouse_database, Cluster.from_settings(settings))
    sink = Sink(
        Codec(contracts, endpoints.schema_registry_url),
        client,
        settings.clickhouse_database,
        endpoints.kafka_bootstrap,
        topics.enriched(settings),
        f"{settings.worker_id}-sink",
        settings.sink_batch_rows,
        settings.sink_batch_seconds,
        merges_topic=topics.merges(settings),
        dead_letter_topic=topics.dead_letter(settings),
    )
    endpoint = QueryEndpoint(
        client, settings.clickhouse_database, sink.metrics.registry, sink.lock, args.port
    )
    endpoint.start()
    run = settings.state_dir / "run"
    advertised = run / "sink.json"
    advertise(advertised, endpoint.url, endpoints.clickhouse_dsn, settings.clickhouse_database)
    print(
        f"sink: metrics at {endpoint.url}/metrics, report queries at {endpoint.url}/query",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    status = run / "sink.status.json"

    def report_progress(sink: Sink) -> None:
        counts = {
            "rows_written": sink.rows_written,
            "merges_written": sink.merges_written,
            "dead_lettered": sink.dead_lettered,
        }
        status.write_text(json.dumps(counts))

    try:
        sink.run(stop, on_batch=report_progress)
    finally:
        advertised.unlink(missing_ok=True)
        endpoint.stop()
        client.close()
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse
    from sinks.cluster import Cluster

    client = clickhouse.connect(settings.effective_clickhouse_dsn)
    cluster = Cluster.from_settings(settings)
    applied = clickhouse.migrate(client, settings.clickhouse_database, cluster)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def report_params(args: argparse.Namespace) -> dict[str, Any]:
    """The query parameters from the command line (None = the query's default)."""
    params: dict[str, Any] = {name: getattr(args, name) for name in FILTERS}
    params["breakdown"] = args.breakdown
    params["model"] = args.model
    params["by"] = args.by
    params["lookback_days"] = args.lookback_days
    params["session_timeout_minutes"] = args.session_timeout_minutes
    params["min_channels"] = args.min_channels
    params["half_life_days"] = args.half_life_days
    params["client"] = args.client
    params["strict"] = 1 if args.strict else None
    params["profiles"] = 1 if args.profiles else None
    if args.window_days is not None:
        params["window_ms"] = round(args.window_days * 86_400_000)
        params["window_days"] = max(1, round(args.window_days))
    return params


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse, html, reports, tables
    from sinks.endpoint import remote_query, running_sink

    report = reports.get(args.name)
    params = report_params(args)
    dsn = settings.effective_clickhouse_dsn
    db = settings.clickhouse_database
    url = running_sink(settings.state_dir / "run" / "sink.json", dsn, db)
    client = None
    if url is not None:

        def runner(name: str, p: Mapping[str, Any]) -> tuple[list[str], reports.Rows]:
            return remote_query(url, name, p)

    else:
        try:
            client = clickhouse.connect(dsn)
        except clickhouse.ChdbLocked as exc:
            print(f"touchline report: {exc}", file=sys.stderr)
            return 2

        def runner(name: str, p: Mapping[str, Any]) -> tuple[list[str], reports.Rows]:
            assert client is not None
            return clickhouse.query(client, name, db, p)

    try:
        sections = reports.run(report, params, runner)
    finally:
        if client is not None:
            client.close()
    print(tables.render_sections(sections, args.format))
    if args.html:
        shown = {k: v for k, v in params.items() if v is not None}
        Path(args.html).write_text(html.render(report, shown, sections))
        print(f"wrote {args.html}", file=sys.stderr)
    return 0


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    from sinks.parameters import CHOICES
    from sinks.reports import REPORTS

    sink = sub.add_parser(
        "sink",
        help="write enriched events and merges from Kafka to ClickHouse (owns the chDB directory)",
        description="Batch enriched events and identity merges into ClickHouse; offsets are "
        "committed after inserts; bad records go to the dead-letter topic. Serves Prometheus "
        "metrics and report queries on a loopback port (advertised in <state dir>/run/sink.json).",
    )
    sink.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    sink.set_defaults(func=_sink)
    db = sub.add_parser("db", help="ClickHouse schema: `touchline db migrate` applies the DDL")
    db.add_argument("action", choices=["migrate"])
    db.set_defaults(func=_migrate)
    report = sub.add_parser(
        "report",
        help="run a report (" + ", ".join(REPORTS) + ")",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a report on ClickHouse and print it. While `touchline sink` runs, the "
        "report runs through it (chDB lets one process open a data directory).\n\n"
        + "\n".join(f"  {r.name:15} {r.help}" for r in REPORTS.values()),
    )
    report.add_argument("name", choices=list(REPORTS), metavar="NAME", help="report name")
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")
    report.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    g = report.add_argument_group("filters (every report)")
    g.add_argument("--account", help="only this account")
    g.add_argument("--from", dest="from", metavar="YYYY-MM-DD", help="first day (inclusive)")
    g.add_argument("--to", metavar="YYYY-MM-DD", help="last day (inclusive)")
    g.add_argument("--location", help="only this location (location id or a line's store id)")
    g.add_argument("--service", help="only this service (a line's service id, or class id)")
    o = report.add_argument_group("report options")
    o.add_argument(
        "--breakdown",
        choices=[c for c in CHOICES["breakdown"] if c],
        help="booking_funnel: store|service|resource|channel|campaign|device; "
        "engagement: channel|device|campaign",
    )
    o.add_argument(
        "--model",
        choices=[c for c in CHOICES["model"] if c],
        help="attribution model (default: all six)",
    )
    o.add_argument(
        "--by",
        choices=CHOICES["by"],
        help="attribution: channel|campaign; engagement feedback: channel|location",
    )
    o.add_argument(
        "--window-days",
        type=_positive,
        help="booking_funnel conversion window (default 7); engagement experiment "
        "conversion window (default 14)",
    )
    o.add_argument(
        "--lookback-days",
        type=int,
        help="attribution lookback, and the multichannel lookback of client_card's contacts "
        f"(default: TOUCHLINE_LOOKBACK_DAYS, {default('lookback_days')}, as the worker)",
    )
    o.add_argument(
        "--session-timeout-minutes",
        type=int,
        help="attribution, client_card: inactivity that starts a new session when touches are "
        "derived (default: TOUCHLINE_SESSION_TIMEOUT_MINUTES, "
        f"{default('session_timeout_minutes')})",
    )
    o.add_argument(
        "--min-channels",
        type=int,
        help="attribution, client_card: distinct channels before a contact (or in a path) that "
        "make it multichannel (default: TOUCHLINE_MULTICHANNEL_MIN_CHANNELS, "
        f"{default('multichannel_min_channels')})",
    )
    o.add_argument(
        "--half-life-days", type=_positive, help="attribution time_decay half-life (default 7)"
    )
    o.add_argument(
        "--strict",
        action="store_true",
        help="booking_funnel: steps must come in order (stop at a skipped step)",
    )
    o.add_argument(
        "--profiles", action="store_true", help="booking_funnel: include the optional profiles step"
    )
    o.add_argument("--client", help="client_card: client id, web client id, email or phone")
    report.set_defaults(func=_report)
