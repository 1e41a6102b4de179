"""Helpers of the privacy e2e tests: generated journeys with one person planted in every family,
ClickHouse read in a subprocess (chDB opens one directory per process), Redis dumped whole."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from pipeline.card import Rules, render
from pipeline.lookups import parts as lookup_parts
from pipeline.processor import processor_config
from producers.events import Prepared, prepare
from producers.publisher import Message, Publisher
from synthetic import GeneratorConfig, generate
from tests.support import all_values, drained, settings_env, touchline_process, wait_for
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import ENRICHED, MERGE, load_cached
from touchline.settings import Settings

ACCOUNT = "demo-studio"
Raw = tuple[str, bytes, bytes]  # family topic, key, Avro value

CH_SCRIPT = """
import json, sys
from sinks import clickhouse
client, db, spec = clickhouse.connect(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
out = {}
for name, params in spec.get("queries", {}).items():
    out[name] = [list(r) for r in clickhouse.query(client, name.split("#")[0], db, params)[1]]
for name, sql in spec.get("sql", {}).items():
    out[name] = [list(r) for r in client.query(sql.replace("{db}", db)).result_rows]
print(json.dumps(out, default=str))
"""


def journeys(clients: int, seed: int) -> tuple[list[dict[str, Any]], Any]:
    generated = generate(GeneratorConfig(clients=clients, seed=seed, account_id=ACCOUNT))
    return generated.events, generated.truth


def plant_everywhere(
    events: list[dict[str, Any]], truth: Any, pid: str, families: list[str], seed: int
) -> list[dict[str, Any]]:
    """A copy of someone's event in each family, carrying the person's email: so the person
    (as their email links them) has events in every family."""
    contracts = load_cached(Settings().schemas_dir)
    rnd = random.Random(seed)
    person = truth.persons[pid]
    planted = []
    for fam in families:
        source = next(e for e in events if _family(contracts, e) == fam)
        clone = copy.deepcopy(source)
        clone["envelope"]["event_id"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        clone["envelope"]["ids"] = {"email": person.email}
        planted.append(clone)
        truth.event_person[clone["envelope"]["event_id"]] = pid
    return planted


def _family(contracts: Any, event: dict[str, Any]) -> str | None:
    etype = event.get("envelope", {}).get("event_type")
    for name, fam in contracts.families.items():
        if etype in fam.event_types:
            return str(name)
    return None


def encode(events: list[dict[str, Any]]) -> list[tuple[str, Raw]]:
    """(event_id, raw message) of every event that passes the contract."""
    contracts = load_cached(Settings().schemas_dir)
    codec = Codec(contracts)
    out = []
    for event in events:
        p = prepare(contracts, event, event["envelope"]["occurred_at"])
        if isinstance(p, Prepared):
            raw = (p.family.topic, p.key, codec.encode(p.family.name, p.datum))
            out.append((str(event["envelope"]["event_id"]), raw))
    return out


def produce(s: Settings, raws: list[Raw]) -> None:
    publisher = Publisher(s.kafka_bootstrap or "")
    try:
        publisher.publish_sync([Message(topics.raw(s, t), k, v) for t, k, v in raws])
    finally:
        publisher.close()


def isolated(base: Settings, tmp: Path, name: str) -> Settings:
    unique = uuid.uuid4().hex[:8]
    return base.model_copy(
        update={
            "topic_prefix": f"{name}{unique}",
            "worker_id": f"{name}-{unique}",
            "clickhouse_dsn": f"chdb://{tmp / 'clickhouse'}",
            "clickhouse_database": name,
            "state_dir": tmp / "state",
            "worker_session_timeout_s": 6.0,
        }
    )


def groups(s: Settings) -> dict[str, list[str]]:
    contracts = load_cached(s.schemas_dir)
    return {
        s.worker_id: topics.all_raw(s, contracts),
        f"{s.worker_id}-sink": [topics.enriched(s), topics.merges(s)],
    }


@contextmanager
def sink_running(s: Settings, tmp: Path, log: str) -> Iterator[None]:
    """A `touchline sink` process, yielding once the worker and it have drained every topic."""
    advertised = s.state_dir / "run" / "sink.json"
    with touchline_process(s, "sink", log=tmp / log):
        wait_for(advertised.exists, 120, "the sink to serve its endpoint", 0.5)
        wait_for(lambda: drained(s, groups(s)), 240, "the worker and the sink to drain", 2)
        yield


def outputs(s: Settings) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every EnrichedEvent and IdentityMerge datum the worker emitted."""
    codec = Codec(load_cached(s.schemas_dir), s.schema_registry_url)
    events, merges = [], []
    for topic, into, name in (
        (topics.enriched(s), events, ENRICHED),
        (topics.merges(s), merges, MERGE),
    ):
        for value in all_values(s.kafka_bootstrap or "", topic, s.topic_partitions):
            decoded_name, datum = codec.decode(value)
            assert decoded_name == name
            into.append(datum)
    return events, merges


def clickhouse(s: Settings, spec: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CH_SCRIPT,
            s.effective_clickhouse_dsn,
            s.clickhouse_database,
            json.dumps(spec, default=str),
        ],
        capture_output=True,
        text=True,
        env=settings_env(s),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def touchline(s: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=settings_env(s),
        timeout=600,
    )


def _readable(raw: bytes) -> bytes:
    """A hash field or sorted-set member that starts with a canonical UUID event id in its 16
    bytes (pipeline/lookups.py, pipeline/touches.py Hit.from_member), with the id as text: a
    search for an event's id must find those too."""
    if len(raw) >= 17 and raw[0] in (0, 1, 2):
        return str(uuid.UUID(bytes=raw[1:17])).encode() + raw[17:]
    return raw


def _readable_value(raw: bytes) -> bytes:
    """A lookup's packed value (a zero byte, then its client and time in bytes:
    pipeline/lookups.py) as text: a search for a client id must find it there too."""
    if len(raw) >= 18 and raw[0] == 0:
        return " ".join(lookup_parts(raw)).encode()
    return raw


def redis_dump(s: Settings) -> str:
    """Every key under the test's prefix with its whole value, as one text (event ids kept in
    their 16 bytes shown as text)."""
    r = redis.Redis.from_url(s.redis_url or "")
    parts = []
    try:
        for key in r.scan_iter(match=f"{s.topic_prefix}:*", count=10_000):
            kind = r.type(key).decode()
            value: Any
            if kind == "string":
                value = r.get(key)
            elif kind == "hash":
                value = {_readable(f): _readable_value(v) for f, v in r.hgetall(key).items()}
            elif kind == "set":
                value = sorted(r.smembers(key))
            elif kind == "zset":
                value = [(_readable(m), x) for m, x in r.zrange(key, 0, -1, withscores=True)]
            else:
                value = r.lrange(key, 0, -1)
            parts.append(f"{key!r} {value!r}")
    finally:
        r.close()
    return "\n".join(parts)


def flush(s: Settings) -> int:
    r = redis.Redis.from_url(s.redis_url or "")
    try:
        keys = list(r.scan_iter(match=f"{s.topic_prefix}:*", count=10_000))
        return int(r.delete(*keys)) if keys else 0
    finally:
        r.close()


def cards(s: Settings, lookups: dict[str, str]) -> dict[str, str | None]:
    """Each person's live card as `touchline card` shows it, without the client id line (which
    depends on which of their events arrived first)."""
    import asyncio

    from pipeline.store import ClientStore

    cfg = processor_config(s)
    rules = Rules(cfg.session_timeout_ms, cfg.lookback_ms, cfg.min_channels)

    async def read() -> dict[str, str | None]:
        store = ClientStore(s.redis_url or "", s.topic_prefix)
        try:
            out: dict[str, str | None] = {}
            for pid, key in lookups.items():
                client = await store.lookup(ACCOUNT, key)
                if client is None:
                    out[pid] = None
                    continue
                text = render(await store.card(ACCOUNT, client), rules)
                out[pid] = "\n".join(text.splitlines()[1:])
            return out
        finally:
            await store.close()

    return asyncio.run(read())


def merge_setup(
    events: list[dict[str, Any]], email: str, cids: list[str], seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Page views that make the person's clients merge for sure: first one client per web
    cookie (to be processed before anything else), then the email with each cookie: the second
    of those carries identifiers of two known clients, so they merge."""
    rnd = random.Random(seed)
    source = next(e for e in events if e["envelope"]["event_type"] == "page_view")

    def view(ids: dict[str, str], shift_ms: int) -> dict[str, Any]:
        clone = copy.deepcopy(source)
        clone["envelope"]["event_id"] = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        clone["envelope"]["ids"] = ids
        clone["envelope"]["occurred_at"] = source["envelope"]["occurred_at"] + shift_ms
        return clone

    first = [view({"cid": cid}, 0) for cid in cids[:2]]
    then = [
        view({"email": email, "cid": cid}, (i + 1) * 3_600_000) for i, cid in enumerate(cids[:2])
    ]
    return first, then


def families(s: Settings) -> list[str]:
    """Every event family of the contracts (not the pipeline's own records)."""
    contracts = load_cached(s.schemas_dir)
    own = (ENRICHED, MERGE)
    return sorted(n for n in contracts.families if n not in own and not n.endswith("DeadLetter"))


def person_everywhere(
    families: list[str], clients: int, seed: int
) -> tuple[str, Any, list[tuple[str, Raw]], list[tuple[str, Raw]]]:
    """Generated journeys with one multi-device person planted in every family and in a merge:
    (person id, person, the events to process first, every other event)."""
    events, truth = journeys(clients=clients, seed=seed)
    pid = max(
        truth.persons, key=lambda p: (len(truth.persons[p].cids), bool(truth.persons[p].email), p)
    )
    person = truth.persons[pid]
    assert person.email and len(person.cids) > 1, "the generator planted no multi-device person"
    planted = plant_everywhere(events, truth, pid, families, seed=3)
    first, then = merge_setup(events, person.email, person.cids, seed=4)
    raws = encode(sorted(events + planted + then, key=lambda e: e["envelope"]["occurred_at"]))
    return pid, person, encode(first), raws
