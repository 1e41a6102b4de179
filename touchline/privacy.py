"""Erase a person everywhere and keep them erased: ``touchline erase``, ``touchline suppression``
and the flow behind ``POST /v1/admin/erasures``.

Order: find the identity cluster (Redis and ClickHouse, each widening the other), put its
identifiers' keyed hashes on the suppression topic (from then on the worker and the sink drop
the person's events), erase Redis, erase ClickHouse, verify both by counting, log the request.
Repeating a request finds nothing left, changes nothing, and logs zeros.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline import erasure as redis_erasure
from pipeline.card import identifier_key
from pipeline.store import ClientStore
from pipeline.suppression import keyed_hash, publish, topic_name
from sinks import clickhouse
from sinks import erasure as ch_erasure
from sinks.endpoint import running_sink
from sinks.erasure_remote import ClickHouseSide, LocalClickHouse, RemoteClickHouse
from touchline.errors import TouchlineError
from touchline.services import stack
from touchline.settings import Settings


@dataclass(frozen=True)
class Request:
    account: str
    client: str | None = None
    email: str | None = None
    phone: str | None = None
    cid: str | None = None
    requested_by: str = "cli"

    def identifier_keys(self, region: str) -> set[str]:
        """The given identifier, normalised like the worker does; one-line error when unusable."""
        if not self.account.strip():
            raise TouchlineError("account: must not be empty")
        given = [
            (n, v)
            for n, v in (
                ("email", self.email),
                ("phone", self.phone),
                ("cid", self.cid),
                ("client", self.client),
            )
            if v
        ]
        if len(given) != 1:
            raise TouchlineError("give exactly one of --client, --email, --phone, --cid")
        name, value = given[0]
        if name == "client":
            return set()
        key = identifier_key(**{name: value}, region=region)
        if key is None:
            raise TouchlineError(f"{name}: {value!r} is not a usable {name}")
        return {key}


@dataclass
class Result:
    request_id: str
    clients: int
    counts: dict[str, int] = field(default_factory=dict)
    suppressed: int = 0
    verified: bool = False

    def summary(self) -> str:
        moved = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()) if v) or "nothing"
        state = "verified" if self.verified else "NOT verified"
        return (
            f"erasure {self.request_id}: {self.clients} client id(s); removed {moved}; "
            f"{self.suppressed} identifier hash(es) suppressed; {state}"
        )


def _hashes(key: str, account: str, identifiers: set[str], clients: set[str]) -> list[str]:
    return [keyed_hash(key, account, i) for i in sorted(identifiers)] + [
        keyed_hash(key, account, f"client:{c}") for c in sorted(clients)
    ]


async def _redis_side(
    store: ClientStore, req: Request, keys: set[str], ch_clients: set[str]
) -> redis_erasure.RedisCluster:
    start = {req.client} if req.client else set()
    return await redis_erasure.find_cluster(store, req.account, start | ch_clients, keys)


def erase(settings: Settings, req: Request, ch: Any | None = None) -> Result:
    """Erase the person of ``req`` everywhere. ClickHouse: ``ch`` (an open client), else the
    running sink's endpoint when the sink serves this DSN (it owns a chDB directory), else a
    client opened from the settings."""
    keys = req.identifier_keys(settings.phone_region)
    endpoints = stack.endpoints(settings)
    db = settings.clickhouse_database
    requested_at = datetime.now(UTC)
    url = (
        None
        if ch is not None
        else running_sink(settings.state_dir / "run" / "sink.json", endpoints.clickhouse_dsn, db)
    )
    client = None
    if url is not None:
        side: ClickHouseSide = RemoteClickHouse(url)
    else:
        client = ch if ch is not None else clickhouse.connect(endpoints.clickhouse_dsn)
        clickhouse.migrate(client, db)
        side = LocalClickHouse(client, db)
    store = ClientStore(endpoints.redis_url, settings.topic_prefix)
    try:
        return asyncio.run(_erase(settings, req, keys, store, side, requested_at, endpoints))
    finally:
        if client is not None and ch is None:
            client.close()


async def _erase(
    settings: Settings,
    req: Request,
    keys: set[str],
    store: ClientStore,
    ch: ClickHouseSide,
    requested_at: datetime,
    endpoints: stack.Endpoints,
) -> Result:
    account = req.account
    try:
        start = {req.client} if req.client else set()
        rc = await _redis_side(store, req, keys, set())
        cc = ch.find(account, start | rc.clients, keys | rc.identifiers)
        rc = await _redis_side(store, req, keys | cc.identifier_keys(), cc.clients)
        clients = rc.clients | cc.clients
        identifiers = (keys | rc.identifiers | cc.identifier_keys()) - rc.shared
        hashes = _hashes(settings.privacy_key, account, identifiers, clients)
        # 1. suppression first: from now on events of theirs are dropped, not stored
        suppressed = publish(endpoints.kafka_bootstrap, topic_name(settings.topic_prefix), hashes)
        event_ids = rc.event_ids | cc.event_ids
        counts = {"redis.removed": 0}
        for _ in range(3):  # a worker that had an event of theirs in hand may write once more
            counts["redis.removed"] += await redis_erasure.erase(
                store, account, clients, rc.identifiers, event_ids
            )
            if "clickhouse.events" not in counts:
                counts.update(ch.erase(account, clients))
            left = await redis_erasure.remaining(store, account, clients, rc.identifiers, event_ids)
            if not left:
                break
        verified = not left
    finally:
        await store.close()
    asked = [keyed_hash(settings.privacy_key, account, k) for k in keys]
    if req.client:
        asked.append(keyed_hash(settings.privacy_key, account, f"client:{req.client}"))
    client_hashes = [keyed_hash(settings.privacy_key, account, f"client:{c}") for c in clients]
    entry = ch_erasure.LogEntry(
        requested_at, account, req.requested_by, asked, client_hashes, counts, verified
    )
    return Result(ch.log(entry), len(clients), counts, suppressed, verified)


def lift(settings: Settings, req: Request) -> int:
    """Lift the suppression of the given identifier (tombstones on the compacted topic): their
    new events are processed and stored again."""
    keys = req.identifier_keys(settings.phone_region)
    if req.client:
        keys = {f"client:{req.client}"}
    endpoints = stack.endpoints(settings)
    hashes = [keyed_hash(settings.privacy_key, req.account, k) for k in keys]
    return publish(endpoints.kafka_bootstrap, topic_name(settings.topic_prefix), hashes, lift=True)


def _request(args: argparse.Namespace, by: str = "cli") -> Request:
    return Request(args.account, args.client, args.email, args.phone, args.cid, by)


def _erase_cmd(args: argparse.Namespace, settings: Settings) -> int:
    result = erase(settings, _request(args))
    print(result.summary())
    return 0 if result.verified else 1


def _suppression_cmd(args: argparse.Namespace, settings: Settings) -> int:
    n = lift(settings, _request(args))
    print(f"suppression lifted for {n} identifier hash(es)")
    return 0


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--account", required=True, help="the business (account id)")
    parser.add_argument("--client", help="Touchline client id")
    parser.add_argument("--email", help="email address")
    parser.add_argument("--phone", help="phone number, any format")
    parser.add_argument("--cid", help="web analytics client id or raw _ga cookie value")


def register(sub: argparse._SubParsersAction) -> None:
    erase_p = sub.add_parser(
        "erase",
        help="erase a person everywhere (Redis, ClickHouse, merges) and suppress their events",
        description="Erase the person's whole identity cluster: Redis identities, card, visits "
        "and dedup entries; every ClickHouse row (derived tables and daily aggregates too) and "
        "their merges, verified by counts. Their identifiers' keyed hashes go on the compacted "
        "suppression topic, so late or replayed events of theirs are dropped. Logged without "
        "personal data in erasure_log. Idempotent. While `touchline sink` runs, the ClickHouse "
        "part runs through it (it owns the chDB directory).",
    )
    _who(erase_p)
    erase_p.set_defaults(func=_erase_cmd)
    sup = sub.add_parser(
        "suppression",
        help="lift the suppression of an erased person (`touchline suppression lift ...`)",
        description="Lift the suppression an erase put on an identifier: the worker and the sink "
        "process and store that person's new events again.",
    )
    sup.add_argument("action", choices=["lift"])
    _who(sup)
    sup.set_defaults(func=_suppression_cmd)
