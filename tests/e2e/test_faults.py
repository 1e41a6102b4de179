"""The fault suite: nothing acknowledged is lost or doubled while the pipeline is hurt.

One pipeline of real processes (ingest, worker, sink as `touchline` subprocesses on a Kafka and a
Redis of this test's own, ClickHouse embedded) takes a steady stream of events while it suffers,
one after another: SIGKILL of the worker, SIGKILL of the sink, SIGKILL of Redis, and the broker
stopped for 60 s. Beside the stream it gets an oversize event, an import spanning many years and
an event_id re-sent with changed content. When everything has drained:

* every event answered 2xx is in ClickHouse exactly once (503-answered events may be there too:
  the client was told to retry, and a retry with the same event_id is deduplicated);
* no table a report reads holds an event twice;
* every refused input (4xx, or the conflicting copy of an event_id) is on the dead-letter topic.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from producers.events import now_ms
from tests.support import all_values, drained, settings_env, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.services import process, stack
from touchline.services.process import free_port, port_open
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
ACCOUNT = "acc-faults"
OUTAGE_S = 60


class Proc:
    """A `touchline` subprocess that can be SIGKILLed and started again."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.settings, self.log, self.args = settings, log, args
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cli", *self.args],
            env=settings_env(self.settings),
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.kill()
        self.popen.wait()

    def signal(self, sig: int) -> None:
        assert self.popen is not None
        self.popen.send_signal(sig)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


@dataclass
class Ledger:
    """What the API answered, per event_id, and the inputs it refused."""

    status: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # event ids answered 4xx
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, events: list[dict[str, Any]], response: httpx.Response | None) -> None:
        code = -1 if response is None else response.status_code
        rejected: set[int] = set()
        if response is not None and code in (207, 400):
            rejected = {r["index"] for r in response.json().get("rejected", [])}
        with self.lock:
            for i, e in enumerate(events):
                eid = e["envelope"]["event_id"]
                if i in rejected:
                    self.refused.append(eid)
                    self.status[eid] = 400
                else:
                    self.status[eid] = 202 if code in (202, 207) else code

    @property
    def acked(self) -> set[str]:
        return {eid for eid, code in self.status.items() if code == 202}


def page_view(n: int, at: int | None = None, title: str = "Home") -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "page_view",
            "occurred_at": at or now_ms() - 1000,
            "source": "web",
            "account_id": ACCOUNT,
            "ids": {"cid": f"{n % 500}.42"},
            "web": {"page_url": "https://studio.example/"},
        },
        "page_title": title,
    }


def post(url: str, ledger: Ledger, events: list[dict[str, Any]]) -> httpx.Response | None:
    try:
        response = httpx.post(f"{url}/v1/events", json=events, timeout=30)
    except httpx.HTTPError:
        response = None
    ledger.note(events, response)
    return response


def steady(url: str, ledger: Ledger, stop: threading.Event) -> None:
    """Ten events every 50 ms until ``stop``; a 503 waits a little, like a polite client."""
    n = 0
    while not stop.is_set():
        response = post(url, ledger, [page_view(n + i) for i in range(10)])
        n += 10
        assert response is None or response.status_code < 500 or response.status_code == 503, (
            response.text
        )
        time.sleep(0.05 if response is not None and response.status_code < 500 else 0.3)


def kill_service(settings: Settings, name: str) -> None:
    pid = process.read_pid(settings.state_dir / name / f"{name}.pid")
    assert pid is not None, name
    os.killpg(pid, signal.SIGKILL)
    wait_for(lambda: not process.alive(pid), 30, f"{name} to die")


COUNT_SCRIPT = """
import json, sys
from sinks import clickhouse
client, db = clickhouse.connect(sys.argv[1]), sys.argv[2]
one = lambda sql: client.query(sql.format(db=db)).result_rows
print(json.dumps({
    "ids": [str(r[0]) for r in one("SELECT DISTINCT event_id FROM {db}.events")],
    "tables": {t: list(one("SELECT count(), uniqExact(event_id) FROM {db}." + t)[0]) for t in (
        "events FINAL", "events_canonical", "touches FINAL",
        "booking_steps FINAL")},
    "occurred": {str(r[0]): r[1] for r in one(
        "SELECT event_id, toUnixTimestamp64Milli(occurred_at) FROM {db}.events FINAL")},
}))
"""


def stored(settings: Settings) -> dict[str, Any]:
    """What ClickHouse holds, read in a fresh process (chDB opens one directory per process)."""
    out = subprocess.run(
        [sys.executable, "-c", COUNT_SCRIPT, settings.effective_clickhouse_dsn,
         settings.clickhouse_database],
        capture_output=True, text=True, check=True, env=settings_env(settings),
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Settings]:
    """Kafka and Redis of this test's own (it kills them), started by `services up`'s code."""
    settings = Settings(
        state_dir=tmp_path / "stack",
        kafka_bootstrap=None,
        redis_url=None,
        local_registry=False,
        schema_registry_url=None,
        kafka_port=0,
        redis_port=0,
        topic_prefix="faults",
        topic_partitions=2,
        worker_id="faults-worker",
        worker_session_timeout_s=6.0,
        clickhouse_dsn=f"chdb://{tmp_path / 'clickhouse'}",
        clickhouse_database="faults",
        ingest_horizon_action="off",
    )
    endpoints = stack.up(settings)
    try:
        yield settings.model_copy(
            update={"kafka_bootstrap": endpoints.kafka_bootstrap, "redis_url": endpoints.redis_url}
        )
    finally:
        stack.down(settings)


def crm_rows(path: Path) -> int:
    """101 CRM leads, one a month from 2017-01: one sink batch spans over 100 partitions."""
    with path.open("w") as out:
        for i in range(101):
            year, month = 2017 + i // 12, 1 + i % 12
            row = {
                "type": "lead",
                "id": f"lead-{i}",
                "email": f"lead{i}@example.de",
                "created_at": f"{year}-{month:02d}-15T10:00:00+00:00",
                "account_id": ACCOUNT,
            }
            out.write(json.dumps(row) + "\n")  # fmt: skip
    return 101


def test_nothing_acknowledged_is_lost_or_doubled_through_faults(
    own_stack: Settings, tmp_path: Path
) -> None:
    s = own_stack
    contracts = load_cached(s.schemas_dir)
    topics.ensure(s.kafka_bootstrap or "", topics.every(s, contracts), s.topic_partitions)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    ingest = Proc(s, tmp_path / "ingest.log", "ingest", "--port", str(port))
    metrics_port = free_port()
    metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    worker_settings = s.model_copy(update={"worker_metrics_port": metrics_port})
    worker = Proc(worker_settings, tmp_path / "worker.log", "worker")
    sink = Proc(s, tmp_path / "sink.log", "sink")
    ledger, stop = Ledger(), threading.Event()
    for p in (ingest, worker, sink):
        p.start()
    try:
        wait_for(lambda: port_open(port), 60, "the ingest API")
        poster = threading.Thread(target=steady, args=(url, ledger, stop), daemon=True)
        poster.start()
        specials = hurt(s, url, ledger, worker, sink, metrics_url)
        stop.set()
        poster.join(timeout=60)
        imported = import_history(s, tmp_path)
        groups = {
            s.worker_id: topics.all_raw(s, contracts),
            f"{s.worker_id}-sink": [topics.enriched(s), topics.merges(s)],
        }
        wait_for(lambda: drained(s, groups), 180, "the worker and the sink to drain", 2)
    finally:
        stop.set()
        for p in (ingest, worker, sink):
            p.stop()
    check(s, contracts, ledger, specials, imported)


@dataclass(frozen=True)
class Specials:
    oversize_id: str
    conflict_id: str
    conflict_at: int
    in_flight: float  # most worker outputs seen waiting for Kafka during the outage


def hold_redis(url: str | None, ms: int) -> None:
    """Keep Redis busy for ``ms`` (a script runs alone): callers queue behind it."""
    script = """
    local t0 = redis.call('TIME')
    while true do
      local t = redis.call('TIME')
      if (t[1] - t0[1]) * 1000000 + (t[2] - t0[2]) > tonumber(ARGV[1]) * 1000 then return 1 end
    end"""
    redis.Redis.from_url(url or "").eval(script, 0, ms)


def watch(metrics_url: str, name: str, seconds: float) -> list[float]:
    """Samples of a gauge of the worker's /metrics, twice a second for ``seconds``."""
    samples, deadline = [0.0], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            text = httpx.get(metrics_url, timeout=2).text
        except httpx.HTTPError:
            text = ""
        for line in text.splitlines():
            if line.startswith(name + " "):
                samples.append(float(line.split()[1]))
        time.sleep(0.5)
    return samples


def hurt(
    s: Settings, url: str, ledger: Ledger, worker: Proc, sink: Proc, metrics_url: str
) -> Specials:
    """The faults, one after another, while the steady stream runs."""
    time.sleep(4)
    worker.kill()  # SIGKILL mid-stream; a new worker takes over the partitions
    worker.start()
    time.sleep(6)
    sink.kill()
    sink.start()
    time.sleep(6)
    kill_service(s, "redis")
    time.sleep(2)
    stack.up(s.model_copy(update={"redis_url": None}))  # same port, same AOF
    time.sleep(4)
    # The broker dies while the worker has outputs to produce: Redis is held busy for 3 s, so the
    # worker waits inside a batch it has fetched, and the broker is killed meanwhile.
    busy = threading.Thread(target=hold_redis, args=(s.redis_url, 3000))
    busy.start()
    time.sleep(1)
    kill_service(s, "kafka")
    busy.join()
    in_flight = max(watch(metrics_url, "touchline_worker_outputs_unconfirmed", OUTAGE_S - 1))
    stack.up(s.model_copy(update={"kafka_bootstrap": None}))  # same port and data
    wait_for(lambda: httpx.get(f"{url}/readyz").status_code == 200, 60, "ingest ready again")
    # An oversize event among 99 ordinary ones: refused at the door, the others stored.
    batch = [page_view(10**6 + i) for i in range(100)]
    batch[37] = page_view(10**6 + 37, title="x" * 600_000)
    response = post(url, ledger, batch)
    assert response is not None and response.status_code == 207, response
    # An event, then the same event_id with occurred_at + 1 s: applied once, the first wins.
    first = page_view(7)
    again = {**first, "envelope": {**first["envelope"]}}
    again["envelope"]["occurred_at"] += 1000
    for copy in (first, again):
        response = post(url, ledger, [copy])
        assert response is not None and response.status_code == 202, response
    time.sleep(3)
    return Specials(
        batch[37]["envelope"]["event_id"],
        first["envelope"]["event_id"],
        first["envelope"]["occurred_at"],
        in_flight,
    )


def import_history(s: Settings, tmp_path: Path) -> int:
    rows = tmp_path / "crm.jsonl"
    count = crm_rows(rows)
    done = subprocess.run(
        [sys.executable, "-m", "cli", "import", str(rows), "--quiet"],
        env=settings_env(s), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return count


def check(s: Settings, contracts: Any, ledger: Ledger, specials: Specials, imported: int) -> None:
    codec = Codec(contracts, s.schema_registry_url)
    letters = [codec.decode(v)[1] for v in all_values(s.kafka_bootstrap or "",
                                                      topics.dead_letter(s), 2)]  # fmt: skip
    db = stored(s)
    ids = set(db["ids"])
    acked = ledger.acked
    print(
        f"\nsent {len(ledger.status)} events: {len(acked)} acknowledged, "
        f"{sum(c == 503 for c in ledger.status.values())} answered 503, "
        f"{len(ledger.refused)} refused; {len(ids)} distinct events in ClickHouse "
        f"({imported} imported); {len(letters)} dead letters; tables {db['tables']}; "
        f"up to {specials.in_flight:.0f} worker outputs waited for Kafka in the outage"
    )
    assert specials.in_flight > 0, "the broker died with no output in flight: nothing tested"
    assert len(acked) > 1000, "the steady stream was not acknowledged: it tested nothing"
    assert sum(c == 503 for c in ledger.status.values()) > 0, "the outage refused nothing"
    missing = acked - ids
    assert not missing, f"{len(missing)} acknowledged events are not in ClickHouse"
    assert len(ids - set(ledger.status)) == imported
    for table, (rows, distinct) in db["tables"].items():
        assert rows == distinct, f"{table}: {rows} rows for {distinct} events"
    assert db["occurred"][specials.conflict_id] == specials.conflict_at  # the first copy won
    assert specials.oversize_id not in ids
    refused_letters = [
        letter for letter in letters if letter["stage"] == "ingest" and letter["original"]
    ]
    for eid in ledger.refused:
        assert any(eid.encode() in letter["original"] for letter in refused_letters), eid
    dedupe = [letter for letter in letters if letter["stage"] == "dedupe"]
    assert [specials.conflict_id.encode() in letter["original"] for letter in dedupe] == [True]
