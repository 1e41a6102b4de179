"""Erase a person everywhere and keep them erased: the flow behind ``touchline erase``,
``touchline suppression lift`` and ``POST /v1/admin/erasures``.

Order: find the identity cluster (Redis and ClickHouse, each widening the other), put its
identifiers' keyed hashes on the suppression topic (from then on the worker and the sink drop
the person's events), erase Redis, erase ClickHouse, verify both by counting, log the request.
Repeating a request finds nothing left, changes nothing, and logs zeros.

The core holds the flow and the types; the stores' sides are the apps' (``pipeline.erasure``
for Redis, ``sinks.erasure_remote`` for ClickHouse), handed in by the composition root (the CLI,
:func:`compose`), so no app imports another.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from touchline import clock
from touchline.endpoints import endpoints
from touchline.errors import TouchlineError
from touchline.identity import extract
from touchline.pseudonym import PREFIX, pseudonym
from touchline.settings import Settings
from touchline.suppression import keyed_hash, publish, topic_name


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
        keys = extract({name: value}, region).keys()
        if not keys:
            raise TouchlineError(f"{name}: {value!r} is not a usable {name}")
        return {keys[0]}


@dataclass
class Cluster:
    """One person as ClickHouse knows them: their client ids and what their events carry."""

    clients: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    cids: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)

    def identifier_keys(self) -> set[str]:
        return (
            {f"email:{e}" for e in self.emails}
            | {f"phone:{p}" for p in self.phones}
            | {f"cid:{c}" for c in self.cids}
        )


@dataclass
class RedisCluster:
    """One person as Redis knows them."""

    clients: set[str] = field(default_factory=set)
    identifiers: set[str] = field(default_factory=set)  # identifiers they own (in ids:<shard>)
    shared: set[str] = field(default_factory=set)  # identifiers of theirs that are shared
    event_ids: set[str] = field(default_factory=set)  # from their touches, contacts and hits

    def own(self) -> set[str]:
        """Their identifiers that are theirs alone (not shared)."""
        return self.identifiers - self.shared


@dataclass(frozen=True)
class LogEntry:
    requested_at: datetime
    account: str
    requested_by: str
    identifier_hashes: list[str]
    client_hashes: list[str]
    counts: dict[str, int]
    verified: bool


class RedisSide(Protocol):
    async def find(self, account: str, clients: set[str], keys: set[str]) -> RedisCluster: ...

    async def erase(self, account: str, cluster: RedisCluster, event_ids: set[str]) -> int: ...

    async def remaining(self, account: str, cluster: RedisCluster, event_ids: set[str]) -> int: ...

    async def close(self) -> None: ...


class ClickHouseSide(Protocol):
    def find(self, account: str, clients: set[str], keys: set[str]) -> Cluster: ...

    def erase(self, account: str, clients: set[str]) -> dict[str, int]: ...

    def log(self, entry: LogEntry) -> str: ...

    def close(self) -> None: ...


Sides = Callable[[Settings], tuple[RedisSide, ClickHouseSide]]
_composed: list[Sides] = []


def compose(sides: Sides) -> None:
    """Called by the composition root (the CLI) with the factory of the two stores' sides."""
    _composed[:] = [sides]


def sides(settings: Settings) -> tuple[RedisSide, ClickHouseSide]:
    if not _composed:
        raise TouchlineError("erase needs the stores' sides: run it through the touchline CLI")
    return _composed[0](settings)


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


def _stored(settings: Settings, keys: set[str]) -> set[str]:
    """Identifier keys as ClickHouse holds them: with pseudonymisation, emails and phones also
    as their pseudonyms."""
    if not settings.clickhouse_pseudonymise:
        return keys
    extra = set()
    for key in keys:
        kind, _, value = key.partition(":")
        if kind in ("email", "phone") and not value.startswith(PREFIX):
            extra.add(f"{kind}:{pseudonym(settings.privacy_key, kind, value)}")
    return keys | extra


def erase(settings: Settings, req: Request) -> Result:
    """Erase the person of ``req`` everywhere (the stores' sides from :func:`sides`)."""
    keys = req.identifier_keys(settings.phone_region)
    bootstrap = endpoints(settings).kafka_bootstrap
    redis, ch = sides(settings)
    try:
        return asyncio.run(_erase(settings, req, keys, redis, ch, bootstrap))
    finally:
        ch.close()


async def _erase(
    settings: Settings,
    req: Request,
    keys: set[str],
    redis: RedisSide,
    ch: ClickHouseSide,
    bootstrap: str,
) -> Result:
    account, key = req.account, settings.privacy_key
    requested_at = datetime.fromtimestamp(clock.now_ms() / 1000, tz=UTC)
    try:
        start = {req.client} if req.client else set()
        rc = await redis.find(account, start, keys)
        # a shared identifier (a front-desk phone) is no one's: it widens neither store's cluster
        cc = ch.find(account, start | rc.clients, _stored(settings, keys | rc.own()))
        rc = await redis.find(account, start | cc.clients, keys | cc.identifier_keys())
        clients = rc.clients | cc.clients
        rc.clients = clients
        identifiers = (keys | rc.identifiers | cc.identifier_keys()) - rc.shared
        hashes = [keyed_hash(key, account, i) for i in sorted(identifiers)]
        hashes += [keyed_hash(key, account, f"client:{c}") for c in sorted(clients)]
        # 1. suppression first: from now on events of theirs are dropped, not stored
        suppressed = publish(bootstrap, topic_name(settings.topic_prefix), hashes)
        event_ids = rc.event_ids | cc.event_ids
        counts = {"redis.removed": 0}
        for _ in range(3):  # a worker that had an event of theirs in hand may write once more
            counts["redis.removed"] += await redis.erase(account, rc, event_ids)
            if "clickhouse.events" not in counts:
                counts.update(ch.erase(account, clients))
            left = await redis.remaining(account, rc, event_ids)
            if not left:
                break
    finally:
        await redis.close()
    asked = [keyed_hash(key, account, k) for k in keys]
    if req.client:
        asked.append(keyed_hash(key, account, f"client:{req.client}"))
    client_hashes = [keyed_hash(key, account, f"client:{c}") for c in clients]
    entry = LogEntry(
        requested_at, account, req.requested_by, asked, client_hashes, counts, not left
    )
    return Result(ch.log(entry), len(clients), counts, suppressed, not left)


def lift(settings: Settings, req: Request) -> int:
    """Lift the suppression of the given identifier (tombstones on the compacted topic): their
    new events are processed and stored again."""
    keys = req.identifier_keys(settings.phone_region)
    if req.client:
        keys = {f"client:{req.client}"}
    hashes = [keyed_hash(settings.privacy_key, req.account, k) for k in keys]
    bootstrap = endpoints(settings).kafka_bootstrap
    return publish(bootstrap, topic_name(settings.topic_prefix), hashes, lift=True)


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
