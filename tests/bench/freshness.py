"""Parts of the freshness bench (tests/bench/test_freshness_bench.py): an open-loop load of events
posted to the ingest API, markers whose arrival in Redis (the client card) and in ClickHouse (a
report query through the sink) is polled, and CPU time of processes read from ``/proc``."""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from pipeline import dedupe
from pipeline.keys import account_base
from producers.events import now_ms
from touchline import clock
from touchline.settings import Settings

TICK_S = 0.1  # the load posts one batch per tick: rate / 10 events
SENDERS = 4  # connections posting the load, taking the ticks in turn
MARKER_EVERY_S = 0.25
REDIS_POLL_S = 0.01
CLICKHOUSE_POLL_S = 0.2  # each poll holds the sink's client (and its lock) for the query
# The query that finds the markers in ClickHouse: event_status (the ids of the markers not found
# yet; reads events by id) by default, or appointments (the markers are appointments at stores
# of their own names: a whole report over the canonical views, the probe before)
PROBE = os.environ.get("TOUCHLINE_BENCH_FRESH_PROBE", "event_status")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_events(n: int, account: str, clients: int = 5000) -> bytes:
    """``n`` booking-step events of ``clients`` web visitors, now, as one JSON batch."""
    t = now_ms()
    return orjson.dumps(
        [
            {
                "envelope": {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "appointment_booking_step_summary",
                    "occurred_at": t,
                    "source": "booking_widget",
                    "account_id": account,
                    "ids": {"cid": f"{uuid.uuid4().int % clients}.1795000000"},
                    "web": {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "x"},
                },
                "appointments": [{"store_id": "s1", "appointment_service_id": "svc-cut"}],
            }
            for _ in range(n)
        ]
    )


def marker(account: str, name: str) -> dict[str, Any]:
    """An appointment in the markers' account whose location is the marker's name: the
    ``appointments`` report lists each marker as its own location once it is queryable."""
    t = now_ms()
    return {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "appointment_scheduled",
            "occurred_at": t,
            "source": "studio_system",
            "account_id": account,
            "ids": {"email": f"{name}@fresh.example"},
            "location_id": name,
        },
        "appointment_id": name,
        "location_id": name,
        "start_at": t + 3_600_000,
    }


@dataclass
class Marker:
    name: str
    event_id: str
    acked: float  # time.monotonic() when the ingest API answered 2xx
    card: float | None = None  # ... when its dedup entry (written with the card) was in Redis
    queryable: float | None = None  # ... when the sink's report query listed it


@dataclass
class Step:
    """One rate held for ``seconds``: the load, markers and both pollers, each in a thread."""

    ingest: str
    sink: str
    redis_url: str
    prefix: str
    account: str
    rate: int
    seconds: float
    posted: int = 0
    refused: int = 0
    markers: list[Marker] = field(default_factory=list)
    poll_s: list[float] = field(default_factory=list)  # each ClickHouse poll's duration
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop_load: threading.Event = field(default_factory=threading.Event)
    stop_polls: threading.Event = field(default_factory=threading.Event)

    def run(self, grace_s: float) -> None:
        """Hold the rate for ``seconds``, then wait up to ``grace_s`` for the markers to land."""
        load_account = f"{self.account}-load"
        pollers = [
            threading.Thread(target=self._poll_redis),
            threading.Thread(target=self._poll_ch),
        ]
        senders = [threading.Thread(target=self._load, args=(load_account,))]
        senders.append(threading.Thread(target=self._markers))
        for t in (*pollers, *senders):
            t.start()
        time.sleep(self.seconds)
        self.stop_load.set()
        for t in senders:
            t.join()
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and not self.landed():
            time.sleep(0.1)
        self.stop_polls.set()
        for t in pollers:
            t.join()

    def landed(self) -> bool:
        with self.lock:
            return all(m.card is not None and m.queryable is not None for m in self.markers)

    def _load(self, account: str) -> None:
        """Open loop: tick k is due at k * TICK_S; SENDERS connections take turns, so a slow
        answer (ingest waits for Kafka's ack) delays only its own tick, not the schedule."""
        started = time.monotonic()
        senders = [
            threading.Thread(target=self._send, args=(account, started, k)) for k in range(SENDERS)
        ]
        for t in senders:
            t.start()
        for t in senders:
            t.join()

    def _send(self, account: str, started: float, first: int) -> None:
        per_tick = max(1, round(self.rate * TICK_S))
        with httpx.Client(base_url=self.ingest, timeout=30) as http:
            tick = first
            while not self.stop_load.is_set():
                wait = started + tick * TICK_S - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                body = load_events(per_tick, account)
                resp = http.post(
                    "/v1/events", content=body, headers={"Content-Type": "application/json"}
                )
                with self.lock:
                    if resp.status_code == 202:
                        self.posted += per_tick
                    else:
                        self.refused += per_tick
                tick += SENDERS

    def _markers(self) -> None:
        with httpx.Client(base_url=self.ingest, timeout=30) as http:
            i = 0
            while not self.stop_load.is_set():
                name = f"m{i}"
                event = marker(self.account, name)
                resp = http.post("/v1/events", json=event)
                if resp.status_code == 202:
                    m = Marker(name, event["envelope"]["event_id"], time.monotonic())
                    with self.lock:
                        self.markers.append(m)
                i += 1
                self.stop_load.wait(MARKER_EVERY_S)

    def _poll_redis(self) -> None:
        r = redis.Redis.from_url(self.redis_url)
        base = account_base(self.prefix, self.account)
        window_s, shards = Settings().worker_dedupe_days * 86400, Settings().worker_dedupe_shards
        while not self.stop_polls.is_set():
            with self.lock:
                waiting = [m for m in self.markers if m.card is None]
            if waiting:
                pipe = r.pipeline(transaction=False)
                now_ms = clock.now_ms()
                places = [
                    dedupe.entries(base, m.event_id, now_ms, window_s, shards) for m in waiting
                ]
                for entries in places:  # its dedup entry: written by the call that updates the card
                    for key, field in entries:
                        pipe.hexists(key, field)
                found = iter(pipe.execute())
                now = time.monotonic()
                for m, entries in zip(waiting, places, strict=True):
                    if any([next(found) for _ in entries]):
                        m.card = now
            time.sleep(REDIS_POLL_S)
        r.close()

    def _poll_ch(self) -> None:
        today = datetime.now(UTC).date()
        params = {
            "account": self.account,
            "from": (today - timedelta(days=1)).isoformat(),
            "to": (today + timedelta(days=1)).isoformat(),
        }
        with httpx.Client(base_url=self.sink, timeout=60) as http:
            while not self.stop_polls.is_set():
                with self.lock:
                    waiting = {m.name: m for m in self.markers if m.queryable is None}
                if waiting:
                    # ClickHouse reads the parts that exist when a query starts: a marker it lists
                    # was queryable at the request's start, however long the query then took
                    if PROBE == "event_status":
                        waiting = {m.event_id: m for m in waiting.values()}
                        params["events"] = ",".join(waiting)
                    now = time.monotonic()
                    resp = http.post("/query", json={"name": PROBE, "params": params})
                    self.poll_s.append(time.monotonic() - now)
                    resp.raise_for_status()
                    for row in resp.json()["rows"]:
                        m = waiting.get(str(row[0]))
                        if m is not None:
                            m.queryable = now
                time.sleep(CLICKHOUSE_POLL_S)

    def latencies(self) -> dict[str, Any]:
        card = [m.card - m.acked for m in self.markers if m.card is not None]
        ch = [m.queryable - m.acked for m in self.markers if m.queryable is not None]
        third = max(1, len(self.markers) // 3)

        def median_of(part: list[Marker], attr: str) -> float | None:
            values = [getattr(m, attr) - m.acked for m in part if getattr(m, attr) is not None]
            return pct(values, 0.5)

        return {
            "markers": len(self.markers),
            "card_found": len(card),
            "queryable_found": len(ch),
            "card_p50_ms": _ms(pct(card, 0.5)),
            "card_p99_ms": _ms(pct(card, 0.99)),
            "queryable_p50_ms": _ms(pct(ch, 0.5)),
            "queryable_p99_ms": _ms(pct(ch, 0.99)),
            "clickhouse_poll_query_p50_ms": _ms(pct(self.poll_s, 0.5)),
            "card_first_third_p50_ms": _ms(median_of(self.markers[:third], "card")),
            "card_last_third_p50_ms": _ms(median_of(self.markers[-third:], "card")),
            "queryable_first_third_p50_ms": _ms(median_of(self.markers[:third], "queryable")),
            "queryable_last_third_p50_ms": _ms(median_of(self.markers[-third:], "queryable")),
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def sustained(step: Step, figures: dict[str, Any]) -> bool:
    """The rate was posted (95 %, no refusals), every marker landed in both stores, and the
    markers' latency did not grow through the step (the last third's median within twice the
    first third's plus 300 ms for the card, plus 1 s for ClickHouse, whose batches take 1 s)."""
    f = figures
    if step.refused or step.posted < 0.95 * step.rate * step.seconds:
        return False
    if f["card_found"] < f["markers"] or f["queryable_found"] < f["markers"] or not f["markers"]:
        return False
    card_ok = f["card_last_third_p50_ms"] <= 2 * f["card_first_third_p50_ms"] + 300
    ch_ok = f["queryable_last_third_p50_ms"] <= 2 * f["queryable_first_third_p50_ms"] + 1000
    return bool(card_ok and ch_ok)


def listening_pid(port: int) -> int | None:
    """The process listening on a loopback TCP ``port`` (from /proc/net/tcp*), if visible."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{parts[9]}]")
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its descendants (utime + stime from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / CLK_TCK
    children: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
            children.extend(int(c) for c in text.split())
    except OSError:
        pass
    return own + sum(cpu_seconds(c) for c in children)
