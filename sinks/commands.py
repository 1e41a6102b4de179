"""``touchline sink``, ``touchline db migrate`` and ``touchline report``."""

from __future__ import annotations

import argparse
import json
import signal
import threading

from touchline.settings import Settings


def _sink(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse
    from sinks.sink import Sink
    from touchline import topics
    from touchline.codec import Codec
    from touchline.contracts import load_cached
    from touchline.services import stack

    endpoints = stack.endpoints(settings)
    contracts = load_cached(settings.schemas_dir)
    client = clickhouse.connect(endpoints.clickhouse_dsn)
    clickhouse.migrate(client, settings.clickhouse_database)
    sink = Sink(
        Codec(contracts, endpoints.schema_registry_url),
        client,
        settings.clickhouse_database,
        endpoints.kafka_bootstrap,
        topics.enriched(settings),
        f"{settings.worker_id}-sink",
        settings.sink_batch_rows,
        settings.sink_batch_seconds,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    status = settings.state_dir / "run" / "sink.status.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    original_step = sink.step

    def step_and_report() -> int:
        n = original_step()
        if n:
            status.write_text(json.dumps({"rows_written": sink.rows_written}))
        return n

    sink.step = step_and_report  # type: ignore[method-assign]
    sink.run(stop)
    client.close()
    return 0


def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse

    client = clickhouse.connect(settings.effective_clickhouse_dsn)
    applied = clickhouse.migrate(client, settings.clickhouse_database)
    print("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from sinks import clickhouse, tables

    client = clickhouse.connect(settings.effective_clickhouse_dsn)
    columns, rows = clickhouse.query(
        client, args.name, settings.clickhouse_database, account=args.account or ""
    )
    print(tables.render(columns, rows, args.format))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    sink = sub.add_parser(
        "sink",
        help="write enriched events from Kafka to ClickHouse (owns the chDB directory)",
        description="Batch enriched events into ClickHouse; offsets are committed after inserts.",
    )
    sink.set_defaults(func=_sink)
    db = sub.add_parser("db", help="ClickHouse schema: `touchline db migrate` applies the DDL")
    db.add_argument("action", choices=["migrate"])
    db.set_defaults(func=_migrate)
    report = sub.add_parser(
        "report",
        help="run a report query and print a table",
        description="Reports read ClickHouse. With the embedded chDB default, stop the sink first "
        "(chDB lets one process open a data directory at a time).",
    )
    report.add_argument("name", help="report name, e.g. booking_funnel")
    report.add_argument("--account", default=None, help="only this account")
    report.add_argument("--format", choices=["table", "json", "csv"], default="table")
    report.set_defaults(func=_report)
