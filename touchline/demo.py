"""``touchline demo``: the whole pipeline on generated data, ending with reports from ClickHouse.

Starts the local stack, a worker, the ingest API and the sink as background processes, POSTs
generated events over HTTP, waits until the sink has written them, stops the processes (so this
process can open the chDB directory) and prints the reports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

from touchline.errors import TouchlineError
from touchline.services import process
from touchline.settings import Settings

PROCESSES = ("worker", "ingest", "sink")


def _start(name: str, args: list[str], run: Path) -> None:
    process.stop(run / f"{name}.pid")  # a leftover from an interrupted demo
    process.start(name, [sys.executable, "-m", "touchline.cli", *args], run)


def _wait_sink(status: Path, expected: int, timeout: float, run: Path) -> int:
    deadline = time.monotonic() + timeout
    written = 0
    while time.monotonic() < deadline:
        if status.exists():
            written = int(json.loads(status.read_text() or "{}").get("rows_written", 0))
            if written >= expected:
                return written
        for name in PROCESSES:
            if process.read_pid(run / f"{name}.pid") is None:
                raise TouchlineError(f"the {name} process died; see {run / (name + '.log')}")
        time.sleep(0.5)
    raise TouchlineError(
        f"the sink wrote {written} of {expected} rows in {timeout:.0f}s; see the logs in {run}"
    )


def run_demo(settings: Settings, clients: int, seed: int) -> int:
    from producers.generator import booking_journeys
    from sinks import clickhouse, tables
    from touchline import topics
    from touchline.contracts import load_cached
    from touchline.services import stack

    print("== starting the local stack (Kafka, Redis; ClickHouse in-process)")
    endpoints = stack.up(settings)
    contracts = load_cached(settings.schemas_dir)
    topics.ensure(
        endpoints.kafka_bootstrap, topics.every(settings, contracts), settings.topic_partitions
    )
    run = settings.state_dir / "run"
    status = run / "sink.status.json"
    status.unlink(missing_ok=True)
    port = process.free_port()
    _start("worker", ["worker"], run)
    _start("ingest", ["ingest", "--port", str(port)], run)
    _start("sink", ["sink"], run)
    base = f"http://127.0.0.1:{port}"
    process.wait_until(
        lambda: process.port_open(port),
        60,
        "the ingest API",
        lambda: process.read_pid(run / "ingest.pid") is not None,
    )

    events = booking_journeys(clients, seed)
    print(f"== posting {len(events)} generated events for {clients} clients to {base}/v1/events")
    accepted = 0
    with httpx.Client(base_url=base, timeout=30) as http:
        for i in range(0, len(events), 200):
            resp = http.post("/v1/events", json=events[i : i + 200])
            if resp.status_code >= 300:
                raise TouchlineError(f"ingest answered {resp.status_code}: {resp.text[:300]}")
            accepted += int(resp.json()["accepted"])
    print(f"   {accepted} accepted (acknowledged by Kafka)")
    print("== waiting for worker -> Redis -> enriched topic -> sink -> ClickHouse")
    written = _wait_sink(status, accepted, 180, run)
    print(f"   the sink wrote {written} rows")
    for name in PROCESSES:
        process.stop(run / f"{name}.pid")

    client = clickhouse.connect(endpoints.clickhouse_dsn)
    print("\n== booking funnel (from ClickHouse)")
    columns, rows = clickhouse.query(
        client, "booking_funnel", settings.clickhouse_database, account=""
    )
    if not rows:
        raise TouchlineError("the funnel came back empty from ClickHouse")
    print(tables.render(columns, rows))
    client.close()
    print("\nThe local stack keeps running; stop it with `touchline services down`.")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    return run_demo(settings, args.clients, args.seed)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole pipeline on generated data and print reports",
        description="Start the local stack, a worker, the ingest API and the sink; POST generated "
        "events; print the booking funnel read back from ClickHouse.",
    )
    parser.add_argument("--clients", type=int, default=60, help="generated clients (default 60)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.set_defaults(func=_demo)
