"""``touchline demo``: the whole pipeline on generated data, ending with reports from ClickHouse.

Starts the local stack, a worker, the ingest API and the sink as background processes, POSTs
generated events over HTTP, waits until the sink has written them, stops the processes (so this
process can open the chDB directory) and prints the reports. Then it checks every report query
ClickHouse answered (and those it did not print) against the event-time reference: the same events
run through the worker's steps oldest first, the reports recomputed in plain Python
(``reference/``). Arrival order must not change a number; a difference fails the demo.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from pipeline import dedupe
from touchline import clock
from touchline.errors import TouchlineError
from touchline.services import process
from touchline.settings import Settings

PROCESSES = ("worker", "ingest", "sink")
# a few families share a landline (each with their own email) and a tablet: a phone and a web
# client id that prove shared, and the people they had linked split apart again, in the reports
# and the live cards
DEMO_HOUSEHOLD_SHARE = 0.05


def _start(name: str, args: list[str], run: Path, env: dict[str, str] | None = None) -> None:
    process.stop(run / f"{name}.pid")  # a leftover from an interrupted demo
    process.start(name, [sys.executable, "-m", "cli", *args], run, env)


def _wait_sink(status: Path, expected: int, timeout: float, run: Path) -> int:
    deadline = time.monotonic() + timeout
    written = 0
    while time.monotonic() < deadline:
        if status.exists():
            # settled: stored, their clients' touches derived and their offsets committed
            written = int(json.loads(status.read_text() or "{}").get("rows_settled", 0))
            if written >= expected:
                return written
        for name in PROCESSES:
            if process.read_pid(run / f"{name}.pid") is None:
                raise TouchlineError(f"the {name} process died; see {run / (name + '.log')}")
        time.sleep(0.5)
    raise TouchlineError(
        f"the sink settled {written} of {expected} rows in {timeout:.0f}s; see the logs in {run}"
    )


def demo_events(clients: int, seed: int, now_ms: int | None = None) -> list[Any]:
    """Generated journeys whose timeline ends just before now (so nothing is in the future and
    dashboards' "last 30 days" show them), in a realistic arrival order."""
    from synthetic import T0, GeneratorConfig, generate
    from synthetic.arrival import arrival_order

    def make(start_ms: int) -> list[Any]:
        config = GeneratorConfig(
            clients=clients,
            seed=seed,
            malformed_share=0.01,
            start_ms=start_ms,
            household_share=DEMO_HOUSEHOLD_SHARE,
        )
        return generate(config).events

    now = clock.now_ms() if now_ms is None else now_ms
    times = [e["envelope"]["occurred_at"] for e in make(T0) if _occurred(e) is not None]
    end = max(times, default=T0)
    events = make(T0 + (now - 3_600_000 - end))  # the same journeys, shifted to end an hour ago
    return arrival_order(events, seed)


def _occurred(event: Any) -> int | None:
    envelope = event.get("envelope") if isinstance(event, dict) else None
    at = envelope.get("occurred_at") if isinstance(envelope, dict) else None
    return at if isinstance(at, int) and not isinstance(at, bool) else None


def _post(base: str, events: list[Any], settings: Settings) -> int:
    """POST the events to the ingest API in batches of 500; says what became of them and returns
    how many were accepted."""
    accepted = rejected = flagged = 0
    with httpx.Client(base_url=base, timeout=60) as http:
        for i in range(0, len(events), 500):
            resp = http.post("/v1/events", json=events[i : i + 500])
            if resp.status_code >= 500:
                raise TouchlineError(f"ingest answered {resp.status_code}: {resp.text[:300]}")
            body = resp.json()
            accepted += int(body.get("accepted", 0))
            rejected += len(body.get("rejected", []))
            flagged += len(body.get("flagged", []))
    print(
        f"   {accepted} accepted (acknowledged by Kafka), {rejected} malformed ones rejected "
        "with field and reason and kept on the dead-letter topic"
    )
    if flagged:
        days = settings.ingest_past_horizon_s // 86_400
        print(
            f"   {flagged} of the accepted events are older than the API's {days}-day horizon: "
            "accepted and flagged (open local mode; with write keys they would be refused and "
            "history loaded with `touchline import`)"
        )
    return accepted


def _send(base: str, events: list[Any], clients: int, settings: Settings, status: Path) -> None:
    """Post the events in arrival order and wait until the sink has written them."""
    from synthetic.arrival import out_of_order

    print(
        f"== posting {len(events)} generated events of {clients} people to {base}/v1/events "
        f"in the order their sources would deliver them ({out_of_order(events)} arrive after "
        "a later event: webhooks minutes late, calls logged after they end, CRM rows hours late)"
    )
    accepted = _post(base, events, settings)
    print("== waiting for worker -> Redis -> enriched topic -> sink -> ClickHouse")
    settled = _wait_sink(status, accepted, 600, status.parent)
    print(f"   the sink wrote {settled} rows and derived their clients' touches")


def _sink_url(run: Path, dsn: str, database: str) -> str:
    """The started sink's query endpoint, once it serves (it announces itself in sink.json)."""
    from sinks.endpoint import running_sink

    found: list[str] = []

    def serving() -> bool:
        url = running_sink(run / "sink.json", dsn, database)
        found[:] = [url] if url and process.port_open(int(url.rsplit(":", 1)[1])) else []
        return bool(found)

    process.wait_until(
        serving, 120, f"the sink's query endpoint (log: {run / 'sink.log'})",
        lambda: process.read_pid(run / "sink.pid") is not None,
    )  # fmt: skip
    return found[0]


def _loaded_before(redis_url: str, settings: Settings, events: list[Any]) -> bool:
    """Whether the worker has already applied some of these events (its dedup entries exist):
    the demo's event ids are fixed by the seed, so a second run would only be dead-lettered."""
    from pipeline.keys import account_base
    from touchline import redis_client

    window_s, now = settings.worker_dedupe_days * 86400, clock.now_ms()
    entries = [
        entry
        for e in events[:200]
        if isinstance(e, dict) and isinstance(e.get("envelope"), dict)
        for entry in dedupe.entries(
            account_base(settings.topic_prefix, str(e["envelope"].get("account_id"))),
            str(e["envelope"].get("event_id")),
            now,
            window_s,
            settings.worker_dedupe_shards,
        )
    ]
    client = redis_client.connect(redis_url)
    try:
        pipe = client.pipeline(transaction=False)
        for key, field in entries:
            pipe.hexists(key, field)
        return any(pipe.execute())
    finally:
        client.close()


def run_demo(settings: Settings, clients: int, seed: int) -> int:
    from sinks.endpoint import remote_query
    from touchline import topics
    from touchline.services import stack

    print("== starting the local stack (Kafka, Redis, schema registry; ClickHouse in-process)")
    endpoints, _ = topics.ready(settings, stack.up(settings, settings.local_monitoring))
    run = settings.state_dir / "run"
    status = run / "sink.status.json"
    status.unlink(missing_ok=True)
    port = process.free_port()
    metrics = {
        "TOUCHLINE_WORKER_METRICS_PORT": str(settings.worker_metrics_port or process.free_port())
    }
    _start("worker", ["worker"], run, metrics)
    _start("ingest", ["ingest", "--port", str(port)], run)
    _start("sink", ["sink"], run)
    base = f"http://127.0.0.1:{port}"
    process.wait_until(
        lambda: process.port_open(port),
        60,
        "the ingest API",
        lambda: process.read_pid(run / "ingest.pid") is not None,
    )

    events = demo_events(clients, seed)
    if _loaded_before(endpoints.redis_url, settings, events):
        print(
            "== this local stack already holds the demo's people from an earlier `touchline "
            "demo` (the same event ids, at other times, would be refused as conflicting "
            "retries): showing the reports over what it holds; `make clean` starts afresh"
        )
        events = []  # what it holds is not what these events would make: nothing to check
    else:
        _send(base, events, clients, settings, status)

    url = _sink_url(run, endpoints.clickhouse_dsn, settings.clickhouse_database)

    def runner(name: str, params: Any) -> Any:
        return remote_query(url, name, params)

    try:
        print_reports(runner)
        if events:
            from cli.demo_check import check_reference

            check_reference(runner, events, settings, endpoints.redis_url)
    finally:
        for name in PROCESSES:
            process.stop(run / f"{name}.pid")
    print(
        "\nMore: `touchline report --help` (funnel, attribution, client_card, appointments, "
        "classes, engagement), `touchline report NAME --help` for one report's options, "
        "--html FILE for a page with charts.\nThe local stack keeps running; stop it "
        "with `touchline services down`."
    )
    return 0


# The reports the demo prints, each once: the funnel by channel, and attribution with its six models
# in one table.
SHOWN: tuple[tuple[str, dict[str, Any]], ...] = (
    ("booking_funnel", {"breakdown": "channel"}),
    ("attribution", {}),
)


def print_reports(runner: Any) -> None:
    """Print the demo's reports as `touchline report` prints them (labels, money with currency)."""
    from sinks import labels, money, reports, tables

    for name, params in SHOWN:
        sections = reports.run(reports.get(name), params, runner)
        if not any(section.rows for section in sections):
            raise TouchlineError(f"the {name} report came back empty from ClickHouse")
        currencies: list[str] = []
        if money.has_money(sections):
            currencies = sorted(runner(money.CURRENCIES_QUERY, params)[1][0][0])
        shown = labels.readable(money.for_people(sections, currencies), params)
        label = ", ".join(f"{k}={v}" for k, v in params.items())
        print(f"\n== {name}{f' ({label})' if label else ''}: from ClickHouse")
        print(tables.render_sections(shown, "table"))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    return run_demo(settings, args.clients, args.seed)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole pipeline on generated data and print reports",
        description="Start the local stack, a worker, the ingest API and the sink; POST generated "
        "events (a timeline ending an hour ago); print the booking funnel by channel and the "
        "attribution under six models, read back from ClickHouse.",
    )
    parser.add_argument("--clients", type=int, default=300, help="generated people (default 300)")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.set_defaults(func=_demo)
