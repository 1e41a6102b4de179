"""``touchline sink``, ``touchline db migrate`` and ``touchline report``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from touchline.settings import Settings

FILTERS = ("account", "from", "to", "location", "service")


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse, retention, rows
    from sinks.cluster import Cluster
    from sinks.endpoint import QueryEndpoint, advertise
    from sinks.sink import Sink
    from touchline import collector, logthrottle, topics
    from touchline.codec import Codec
    from touchline.contracts import load_cached
    from touchline.endpoints import endpoints as where
    from touchline.pseudonym import RowPseudonymiser
    from touchline.suppression import SUPPRESSED, SuppressionList
    from touchline.suppression import topic_name as suppression_topic

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    logthrottle.install(logging.getLogger(), settings.log_repeats_per_minute)
    endpoints = where(settings)
    contracts = load_cached(settings.schemas_dir)
    client = clickhouse.connect(endpoints.clickhouse_dsn)
    clickhouse.migrate(client, settings.clickhouse_database, Cluster.from_settings(settings))
    retention.apply_ttl(client, settings.clickhouse_database, settings.clickhouse_ttl_days)
    suppression = SuppressionList(
        endpoints.kafka_bootstrap, suppression_topic(settings.topic_prefix), settings.privacy_key
    ).start()
    deriving = clickhouse.connect(endpoints.clickhouse_dsn)  # derivations beside the inserts
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
        suppression=suppression,
        derive_every_s=settings.sink_derive_seconds,
        derive_max_ids=settings.touch_derivation_ids,
        derive_client=deriving,
        pseudonymise=RowPseudonymiser(rows.COLUMNS, settings.privacy_key, settings.phone_region)
        if settings.clickhouse_pseudonymise
        else None,
    )
    sink.metrics.registry.register(SUPPRESSED)
    collector.settle(settings.worker_gc_threshold)  # what is alive now lives as long as the sink
    reader = clickhouse.connect(endpoints.clickhouse_dsn)  # reports: inserts never wait for them
    database = settings.clickhouse_database
    registry = sink.metrics.registry
    endpoint = QueryEndpoint(client, database, registry, sink.exclusive, args.port, reader)
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
    _start_anomaly_monitor(sink, endpoint, settings, stop)
    status = run / "sink.status.json"

    def report_progress(sink: Sink) -> None:
        counts = {
            "rows_written": sink.rows_written,
            "rows_settled": sink.rows_settled,
            "merges_written": sink.merges_written,
            "dead_lettered": sink.dead_lettered,
        }
        status.write_text(json.dumps(counts))

    from touchline.services import targets

    try:
        with targets.registered(settings, "touchline-sink", endpoint.server.server_address[1]):
            sink.run(stop, on_batch=report_progress)
    finally:
        advertised.unlink(missing_ok=True)
        endpoint.stop()
        reader.close()
        deriving.close()
        client.close()
    return 0


def _start_anomaly_monitor(
    sink: Any, endpoint: Any, settings: Settings, stop: threading.Event
) -> None:
    """Booking-health and source-silence gauges on the sink's /metrics (sinks/anomaly_monitor.py),
    scanned in a thread that runs its queries as the endpoint runs reports (its reader client)."""
    from sinks.anomaly_monitor import AnomalyMonitor

    if settings.anomaly_scan_seconds <= 0:
        return
    monitor = AnomalyMonitor(sink.metrics.registry, settings)
    sink.observers.append(monitor.observe)

    threading.Thread(
        target=monitor.run, args=(stop, endpoint.run), name="anomalies", daemon=True
    ).start()


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse, retention
    from sinks.cluster import Cluster

    client = clickhouse.connect(settings.effective_clickhouse_dsn)
    cluster = Cluster.from_settings(settings)
    applied = clickhouse.migrate(client, settings.clickhouse_database, cluster)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    retention.apply_ttl(client, settings.clickhouse_database, settings.clickhouse_ttl_days)
    if args.action == "rederive":
        from sinks import touch_derivation

        touch_derivation.derive_all(
            client, settings.clickhouse_database, settings.session_timeout_minutes
        )
        print(
            "derived every client's event-time touches "
            f"(session timeout {settings.session_timeout_minutes} min)"
        )
    return 0


def report_params(args: argparse.Namespace) -> dict[str, Any]:
    """The query parameters from the command line (None = the query's default): the filters and
    each report option (``sinks/report_options.py``) as the parameter it names; a flag is 1."""
    from sinks.report_options import OPTIONS

    params: dict[str, Any] = {name: getattr(args, name, None) for name in FILTERS}
    for option in OPTIONS:
        value = getattr(args, option.dest, None)
        if option.kwargs.get("action") == "store_true":
            params[option.params[0]] = 1 if value else None
        elif option.params == (option.dest,):
            params[option.dest] = value
    window_days = getattr(args, "window_days", None)
    if window_days is not None:
        params["window_ms"] = round(window_days * 86_400_000)
        params["window_days"] = max(1, round(window_days))
    return params


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse, reports
    from sinks.endpoint import remote_query, running_sink
    from sinks.report_options import check_options

    report = reports.get(args.name)
    check_options(report, args)
    params = report_params(args)
    if settings.clickhouse_pseudonymise:  # a clear email or phone is looked up as its pseudonym
        from touchline.pseudonym import lookup_value

        params["client"] = lookup_value(
            params["client"], settings.privacy_key, settings.phone_region
        )
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
        currencies = _currencies(sections, params, runner)
    finally:
        if client is not None:
            client.close()
    _print_report(args, report, params, sections, currencies)
    return 0


def _currencies(sections: list[Any], params: Mapping[str, Any], runner: Any) -> list[str]:
    """The currencies of the report's revenue, when it shows money (see sinks/money.py)."""
    from sinks import money

    if not money.has_money(sections):
        return []
    _, rows = runner(money.CURRENCIES_QUERY, params)
    return sorted(rows[0][0]) if rows and rows[0][0] else []


def _print_report(
    args: argparse.Namespace,
    report: Any,
    params: Mapping[str, Any],
    sections: list[Any],
    currencies: list[str],
) -> None:
    """Tables and HTML for people (labels, money with currency); JSON and CSV for machines (raw
    names, exact money strings)."""
    from sinks import labels, money, tables

    if args.format == "table":
        shown = labels.readable(money.for_people(sections, currencies), params)
    else:
        shown = money.for_machines(sections, currencies)
    print(tables.render_sections(shown, args.format))
    if args.html:
        Path(args.html).write_text(html_page(report, params, sections, currencies))
        print(f"wrote {args.html}", file=sys.stderr)


def html_page(
    report: Any, params: Mapping[str, Any], sections: list[Any], currencies: list[str]
) -> str:
    """The report's self-contained HTML page, with labels and money for people."""
    from sinks import html, labels, money

    given = {k: v for k, v in params.items() if v is not None}
    people = labels.readable(money.for_people(sections, currencies), params)
    return html.render(report, given, people)


def register(sub: argparse._SubParsersAction) -> None:
    sink = sub.add_parser(
        "sink",
        help="write enriched events and merges from Kafka to ClickHouse (owns the chDB directory)",
        description="Batch enriched events and identity merges into ClickHouse; offsets are "
        "committed after inserts; bad records go to the dead-letter topic. Serves Prometheus "
        "metrics and report queries on a loopback port (advertised in <state dir>/run/sink.json).",
    )
    sink.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    sink.set_defaults(func=_sink)
    db = sub.add_parser(
        "db",
        help="ClickHouse schema: `touchline db migrate` applies the DDL; `touchline db rederive` "
        "derives every client's event-time touches again",
        description="migrate: apply the DDL files not applied yet (then derive the event-time "
        "touches if no complete derivation exists for TOUCHLINE_SESSION_TIMEOUT_MINUTES). "
        "rederive: derive every client's event-time touches again (after a bulk load that "
        "bypassed the sink, or to repair what a failed derivation left; the sink keeps them "
        "current otherwise). With chDB, stop the sink first.",
    )
    db.add_argument("action", choices=["migrate", "rederive"])
    db.set_defaults(func=_migrate)
    from sinks.report_options import add_report_parser

    add_report_parser(sub, _report)
