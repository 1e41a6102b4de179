"""Erase a person everywhere (issue 12): a generated person with events in every family, merges
and a live card is erased with `touchline erase`; then no ClickHouse table and no Redis key holds
a trace of them, every report equals the reference computed without them, the erasure log holds
no clear identifier, replaying their raw events leaves no trace (the worker drops and counts
them), and a second erase changes nothing.

Real Kafka, Redis and ClickHouse (chDB); `touchline worker`, `sink` and `erase` processes.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

import reference as ref
from tests.e2e import privacy_support as ps
from tests.support import drained, touchline_process, wait_for
from touchline import topics
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
TABLES = ("events", "touches", "order_lines", "booking_steps", "client_profiles", "identity_merges")
Event = dict[str, Any]
DAILY = (
    "SELECT toString(day), uniqExactMerge(events), uniqExactMerge(clients) "
    "FROM `{db}`.daily_events GROUP BY day ORDER BY day"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _report_params(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    days = [datetime.fromtimestamp(e["occurred_at"] / 1000, tz=UTC).date() for e in events]
    base = {
        "account": "",
        "from": min(days),
        "to": max(days),
        "location": "",
        "service": "",
        "session_timeout_minutes": 30,
        "lookback_days": 90,
        "min_channels": 2,
    }
    return {
        "booking_funnel": {
            **base,
            "breakdown": "",
            "profiles": 1,
            "strict": 0,
            "window_ms": 86_400_000,
        },
        "booking_outcomes": {**base, "breakdown": ""},
        "attribution": {**base, "model": "", "by": "channel", "half_life_days": 7.0},
        "appointments": base,
        "classes": base,
        "class_cancellations": base,
        "engagement": {**base, "breakdown": "channel"},
        "experiments": {**base, "window_days": 14},
        "feedback": {**base, "by": "channel"},
    }


def _plain(rows: list[Any]) -> list[Any]:
    """Rows as the ClickHouse subprocess returns them (JSON, dates as text)."""
    result: list[Any] = json.loads(json.dumps([list(r) for r in rows], default=str))
    return result


def _traces(s: Settings, people: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Per person, where any of their tokens (client id, identifier, event id) still appears:
    each ClickHouse table, Redis."""
    sql = {t: f"SELECT * FROM `{{db}}`.{t}" for t in TABLES}
    found = ps.clickhouse(s, {"sql": sql})
    dump = ps.redis_dump(s).splitlines()
    out: dict[str, dict[str, Any]] = {}
    for name, tokens in people.items():
        out[name] = {}
        for table, rows in found.items():
            hits = [r for r in rows if any(tok in str(r) for tok in tokens)]
            if hits:
                out[name][table] = len(hits)
        redis_hits = [line[:120] for line in dump if any(t in line for t in tokens)]
        if redis_hits:
            out[name]["redis"] = redis_hits[:5]
    return out


def _daily(events: list[dict[str, Any]]) -> list[list[Any]]:
    """daily_events as it must read: distinct events and (stitched) clients per day."""
    days: dict[str, tuple[set[str], set[str]]] = {}
    for e in events:
        day = str(datetime.fromtimestamp(e["occurred_at"] / 1000, tz=UTC).date())
        ids, clients = days.setdefault(day, (set(), set()))
        ids.add(e["event_id"])
        clients.add(e["client_id"])
    return [[d, len(ids), len(c)] for d, (ids, c) in sorted(days.items())]


def _suppressed(port: int) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith('touchline_suppressed_events_total{stage="worker"}'):
            return float(line.split()[-1])
    return 0.0


def _cluster(enriched: list[Event], merges: list[Event], email: str) -> set[str]:
    """The client as the pipeline knows them: the clients of events carrying their email, with
    every client merged into or from them (a cookie never linked to the email is, for anyone,
    somebody else)."""
    clients = {e["client_id"] for e in enriched if e["email"] == email}
    for _ in range(5):
        clients |= {
            c
            for m in merges
            if {m["from_client_id"], m["to_client_id"]} & clients
            for c in (m["from_client_id"], m["to_client_id"])
        }
    return clients


def _reports_and_log(
    s: Settings, enriched: list[Event], merges: list[Event], clients: set[str]
) -> list[Any]:
    """Every report equals the reference computed without the clients, daily_events too;
    returns the erasure log's rows."""
    left = [e for e in enriched if e["client_id"] not in clients]
    left_merges = [m for m in merges if not {m["from_client_id"], m["to_client_id"]} & clients]
    params = _report_params(enriched)
    log_sql = "SELECT * FROM `{db}`.erasure_log"
    got = ps.clickhouse(s, {"queries": params, "sql": {"daily": DAILY, "log": log_sql}})
    log, daily = got.pop("log"), got.pop("daily")
    canon = ref.canonical(left, left_merges)
    differ = [q for q, p in params.items() if got[q] != _plain(getattr(ref, q)(canon, p))]
    assert not differ, f"reports differ from the reference without the person: {differ}"
    assert daily == _daily(left)
    result: list[Any] = log
    return result


def test_erase_leaves_no_trace_and_keeps_the_person_erased(
    live_settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    s = ps.isolated(live_settings, tmp_path, "erase").model_copy(
        update={"worker_metrics_port": port}
    )
    families = ps.families(s)
    topics.ready(s)
    pid, person, first_raws, raws = ps.person_everywhere(families, clients=12, seed=12)
    ps.produce(s, [raw for _, raw in first_raws])
    with touchline_process(s, "worker", log=tmp_path / "worker.log"):
        worker_group = {s.worker_id: ps.groups(s)[s.worker_id]}
        wait_for(lambda: drained(s, worker_group), 240, "the first events", 1)
        ps.produce(s, [raw for _, raw in raws])
        with ps.sink_running(s, tmp_path, "sink1.log"):
            enriched, merges = ps.outputs(s)
            clients = _cluster(enriched, merges, person.email)
            their_events = [e for e in enriched if e["client_id"] in clients]
            assert {e["family"] for e in their_events} == set(families), "not in every family"
            assert any(m["from_client_id"] in clients for m in merges), "no merge of theirs"
            card = ps.cards(s, {pid: f"email:{person.email}"})[pid]
            assert card and "touches" in card, "no live card"
            # erased through the running sink (it owns the chDB directory)
            email = person.email.upper()
            done = ps.touchline(s, "erase", "--account", ps.ACCOUNT, "--email", email)
            assert done.returncode == 0, done.stderr[-3000:]
            assert "verified" in done.stdout and "clickhouse.events=" in done.stdout, done.stdout
        tokens = clients | {e["event_id"] for e in their_events}
        tokens |= {e[k] for e in their_events for k in ("email", "phone", "cid") if e[k]}
        others = {e["event_id"] for e in enriched if e["client_id"] not in clients}
        traces = _traces(s, {"theirs": tokens, "others": others})
        assert traces["theirs"] == {}
        assert {"events", "touches", "booking_steps", "redis"} <= set(traces["others"])
        log = _reports_and_log(s, enriched, merges, clients)
        # the erasure log: counts, no clear identifier
        assert len(log) == 1 and "clickhouse.events" in str(log[0]) and "cli" in log[0]
        assert not [t for t in tokens | {email} if t in str(log)]

        # their raw events again: dropped by the worker (counted), nothing stored anywhere
        before = _suppressed(port)
        ids = {e["event_id"] for e in their_events}
        theirs = [raw for eid, raw in raws + first_raws if eid in ids]
        ps.produce(s, theirs)
        with ps.sink_running(s, tmp_path, "sink2.log"):
            wait_for(lambda: _suppressed(port) >= before + len(theirs), 30, "suppressed count")
            again = ps.touchline(s, "erase", "--account", ps.ACCOUNT, "--email", person.email)
            assert again.returncode == 0 and "removed nothing" in again.stdout, again.stdout
        assert _traces(s, {"theirs": tokens})["theirs"] == {}
        assert ps.cards(s, {pid: f"email:{person.email}"})[pid] is None
