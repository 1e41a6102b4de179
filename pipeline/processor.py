"""One raw Kafka record in; an enriched event, identity merges and splits, or a dead letter out.

No Faust here, so the whole path is testable without a broker; the Faust agent in
``pipeline.app`` only moves bytes. Effects are exactly-once per ``event_id`` on at-least-once
delivery: the Redis store keeps each event's result, and a redelivered event is re-emitted from
that result byte for byte, changing no counter.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import orjson

from pipeline import dedupe, enrichment, metrics
from pipeline.client_ids import new_client_id
from pipeline.outputs import enriched_record, merge_records, split_records
from pipeline.record_context import Rules, record_context, session_id_of, sessionise
from pipeline.store import Resolution, ResolveRequest, Store
from touchline import deadletter
from touchline.codec import Codec, DecodeError
from touchline.contracts import ENRICHED, MERGE, SPLIT
from touchline.identity import Identifiers, extract
from touchline.settings import Settings, default
from touchline.suppression import Suppression


@dataclass(frozen=True)
class Output:
    enriched: tuple[bytes, bytes] | None = None  # key, value
    merges: list[tuple[bytes, bytes]] = field(default_factory=list)
    splits: list[tuple[bytes, bytes]] = field(default_factory=list)  # also on the merges topic
    dead_letter: bytes | None = None
    outcome: str = "enriched"  # enriched | duplicate | conflicting_retry | dead_letter | suppressed
    stage: str = ""  # of a dead letter: decode | validate | enrich | dedupe | emit
    kind: str = ""  # of a dead letter: its reason class (pipeline.metrics.DEAD_LETTER_KINDS)
    occurred_at: int | None = None  # event time (epoch ms) of an enriched event
    # (account, event_id) of an applied event: once Kafka confirmed this output, the store may
    # forget the event's whole result (pipeline/dedupe.py)
    applied: tuple[str, str] | None = None


@dataclass(frozen=True)
class Config:
    """The worker's rules: ``processor_config(settings)``; the defaults are the settings'."""

    session_timeout_ms: int = default("session_timeout_minutes") * 60_000
    lookback_ms: int = default("lookback_days") * 86_400_000
    min_channels: int = default("multichannel_min_channels")
    phone_region: str = default("phone_region")
    own_hosts: frozenset[str] = frozenset(default("own_hosts"))
    ai_assistant_as_referral: bool = default("ai_assistant_as_referral")
    hit_cap: int = default("hit_cap")
    record_chunk: int = default("worker_record_chunk")  # events per record script call
    session_keep_ms: int = default("worker_session_keep_hours") * 3_600_000


def processor_config(settings: Settings) -> Config:
    return Config(
        session_timeout_ms=settings.session_timeout_minutes * 60_000,
        lookback_ms=settings.lookback_days * 86_400_000,
        hit_cap=settings.hit_cap,
        min_channels=settings.multichannel_min_channels,
        phone_region=settings.phone_region,
        own_hosts=frozenset(h.lower() for h in settings.own_hosts),
        ai_assistant_as_referral=settings.ai_assistant_as_referral,
        record_chunk=settings.worker_record_chunk,
        session_keep_ms=settings.worker_session_keep_hours * 3_600_000,
    )


T = TypeVar("T")
Record = tuple[bytes, str | None, int | None, int | None]  # value, topic, partition, offset


@dataclass(slots=True)
class _Pending:
    record: Record
    family: str
    datum: dict[str, Any]
    ids: Identifiers
    static: enrichment.Static
    fingerprint: str
    envelope: dict[str, Any]  # datum["envelope"]


@dataclass
class _Stitched:
    """The stitch step's outcome for a batch (indexes are the records' positions)."""

    # results known without recording: prior results of duplicates, failed resolutions
    results: dict[int, dict[str, Any] | Exception] = field(default_factory=dict)
    duplicates: set[int] = field(default_factory=set)
    to_record: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    recorded: list[int] = field(default_factory=list)  # the index of each to_record entry


def fingerprint(datum: dict[str, Any]) -> str:
    """What a copy of an event says, apart from when ingest received it: two deliveries of one
    ``event_id`` with equal fingerprints are the same event; different ones, a conflicting retry."""
    envelope = {**datum["envelope"], "received_at": 0}
    body = orjson.dumps({**datum, "envelope": envelope}, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(body, digest_size=10).hexdigest()


def union_sessions(*parts: dict[str, Any] | None) -> dict[str, Any] | None:
    """Several clients' recent sessions (``{"sessions": [...]}``) as one client's; for a session
    in more than one part, the first part's version wins."""
    merged: list[dict[str, Any]] = []
    seen: set[str] = set()
    for part in parts:
        for one in (part or {}).get("sessions") or []:
            if session_id_of(one) not in seen:
                seen.add(session_id_of(one))
                merged.append(one)
    return {"sessions": merged} if merged else None


def _rules(config: Config) -> Rules:
    return Rules(
        config.session_timeout_ms,
        config.lookback_ms,
        config.hit_cap,
        config.session_keep_ms,
    )


async def _timed(op: str, call: Awaitable[T]) -> T:
    """Await a Redis script call, observing its time in the Redis latency metric."""
    started = time.perf_counter()
    try:
        return await call
    finally:
        metrics.REDIS.labels(op).observe(time.perf_counter() - started)


class Processor:
    def __init__(
        self,
        codec: Codec,
        store: Store,
        config: Config | None = None,
        suppression: Suppression | None = None,
    ) -> None:
        self.codec = codec
        self.store = store
        self.config = config or Config()
        self.suppression = suppression  # erased people (touchline.suppression): dropped, counted

    def dead_letter(
        self,
        stage: str,
        reason: str,
        original: bytes,
        topic: str | None,
        partition: int | None,
        offset: int | None,
        kind: str | None = None,
        max_original: int = deadletter.MAX_ORIGINAL_BYTES,
    ) -> Output:
        where = {"topic": topic, "partition": partition, "offset": offset}
        letter = deadletter.encode(
            self.codec, stage, reason, original, max_original=max_original, **where
        )
        kind = kind or metrics.DEAD_LETTER_KINDS[stage][0]
        return Output(dead_letter=letter, outcome="dead_letter", stage=stage, kind=kind)

    async def handle(
        self,
        value: bytes | None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> Output:
        return (await self.handle_batch([(value or b"", topic, partition, offset)]))[0]

    def _parse(self, record: Record) -> _Pending | Output:
        original, topic, partition, offset = record
        try:
            name, datum = self.codec.decode(original)
        except DecodeError as exc:
            return self.dead_letter("decode", str(exc), original, topic, partition, offset)
        family = self.codec.contracts.families.get(name)
        if family is None:
            return self.dead_letter(
                "validate", f"{name} is not an event family", original, topic, partition, offset
            )
        envelope = datum["envelope"]
        if envelope["event_type"] not in family.event_types:
            return self.dead_letter(
                "validate",
                f"event_type {envelope['event_type']!r} is not a {name}",
                original,
                topic,
                partition,
                offset,
            )
        try:
            ids = extract(envelope["ids"], self.config.phone_region)
            static = enrichment.static(
                name, datum, self.config.own_hosts, self.config.ai_assistant_as_referral
            )
        except (ValueError, KeyError, TypeError) as exc:  # bad content never stops the worker
            return self.dead_letter(
                "enrich", f"{type(exc).__name__}: {exc}", original, topic, partition, offset
            )
        return _Pending(record, name, datum, ids, static, fingerprint(datum), envelope)

    async def handle_batch(self, records: Sequence[Record]) -> list[Output]:
        """Process records in order: one Redis script call resolves the whole batch, then one per
        ``record_chunk`` events records it.

        Raises only for infrastructure failures (Redis unreachable); the caller retries the
        batch, which is safe because every effect is applied once per event_id.
        """
        outputs, pending = self._parse_all(records)
        resolutions = await self._resolve(pending)
        stitched = self._stitch(pending, resolutions)
        results, duplicates = stitched.results, stitched.duplicates
        to_record, recorded = stitched.to_record, stitched.recorded
        by_index = dict(pending)

        def build(indexes: Sequence[int]) -> None:
            for i in indexes:
                result, p = results[i], by_index[i]
                if isinstance(result, Exception):
                    outputs[i] = self.dead_letter(
                        "enrich", f"Redis script failed: {result}", *p.record, kind="redis_script"
                    )
                elif "applied" in result:  # applied and its outputs confirmed before
                    same = dedupe.same_fingerprint(result["applied"], p.fingerprint)
                    outputs[i] = Output(outcome="duplicate") if same else self._conflict(p)
                elif result["enrichment"].get("fingerprint", p.fingerprint) != p.fingerprint:
                    outputs[i] = self._conflict(p)
                elif "lettered" in result:  # its outcome is a letter (pipeline/emission.py)
                    outputs[i] = self._letter_again(p, result["lettered"])
                else:
                    outputs[i] = self._output(p, result, i in duplicates)

        build(list(results))  # duplicates and failed resolutions need no record
        # Record chunk after chunk (Redis applies them in order); while Redis runs one chunk's
        # script, the outputs of the chunk before it are built here.
        step, built = self.config.record_chunk, 0
        for start in range(0, len(to_record), step):
            sending = asyncio.ensure_future(
                _timed("record", self.store.record_many(to_record[start : start + step]))
            )
            await asyncio.sleep(0)  # let the task write the script call before building
            try:
                build(recorded[built:start])
            finally:
                chunk = await sending  # also when building failed: no task left behind
            for i, result in zip(recorded[start : start + step], chunk, strict=True):
                results[i] = result
            built = start
        build(recorded[built:])
        return [o for o in outputs if o is not None]

    def _parse_all(
        self, records: Sequence[Record]
    ) -> tuple[list[Output | None], list[tuple[int, _Pending]]]:
        """The parse step: each record decoded, validated and statically enriched, or already
        answered (a dead letter, or suppressed: an erased person's). The rest come back in event
        time with their positions."""
        outputs: list[Output | None] = [None] * len(records)
        pending: list[tuple[int, _Pending]] = []
        for i, record in enumerate(records):
            parsed = self._parse(record)
            if isinstance(parsed, Output):
                outputs[i] = parsed
            elif self.suppression is not None and self.suppression.drops(
                parsed.envelope["account_id"], parsed.ids.keys(), "worker"
            ):
                outputs[i] = Output(outcome="suppressed")
            else:
                pending.append((i, parsed))
        # One client's events come from several topics, so a batch holds them out of time order;
        # processing it in event time (stable: a partition's own order is kept for equal times)
        # gives sessions and the multichannel flag the order in which things happened.
        pending.sort(key=lambda item: item[1].envelope["occurred_at"])
        return outputs, pending

    async def _resolve(self, pending: list[tuple[int, _Pending]]) -> list[Resolution | Exception]:
        """The resolve step: every event's client from its identifiers, one script call."""
        return await _timed(
            "resolve",
            self.store.resolve_many(
                [
                    ResolveRequest(
                        p.envelope["account_id"],
                        p.envelope["event_id"],
                        new_client_id(p.envelope["account_id"], p.envelope["event_id"]),
                        p.envelope["occurred_at"],
                        p.ids.keys(),
                    )
                    for _, p in pending
                ]
            ),
        )

    def _stitch(
        self, pending: list[tuple[int, _Pending]], resolutions: Sequence[Resolution | Exception]
    ) -> _Stitched:
        """The stitch and sessionise steps: each resolved event (in event time) on its client,
        the visits of clients it merged carried over, placed among the client's sessions as this
        batch left them, and turned into its record context."""
        out = _Stitched()
        sessions: dict[str, dict[str, Any] | None] = {}  # sessions changed earlier in the batch
        rules = _rules(self.config)
        shared = 0  # counted once per batch: a counter's inc costs a lock
        for (i, p), res in zip(pending, resolutions, strict=True):
            if isinstance(res, Exception):
                out.results[i] = res
                continue
            if res.prior is not None:
                out.results[i] = res.prior
                out.duplicates.add(i)
                continue
            shared += res.shared_identifiers
            session = sessions.get(res.client_id, res.session)
            if res.merged:  # visits of merged clients, as this batch left them, go on here
                session = union_sessions(*(sessions.pop(o, None) for o in res.merged), session)
                sessions[res.client_id] = session
            event_id, at = p.envelope["event_id"], p.envelope["occurred_at"]
            placed = sessionise(p.static, res.client_id, session, event_id, at, rules)
            context = record_context(
                rules, p.static, placed, event_id, at, p.fingerprint, p.ids, res.split_clock
            )
            if context.session is not None:
                sessions[res.client_id] = context.session
            out.to_record.append((p.envelope["account_id"], event_id, res.client_id, context.lua()))
            out.recorded.append(i)
        if shared:
            metrics.SHARED_IDENTIFIERS.inc(shared)
        return out

    def _conflict(self, p: _Pending) -> Output:
        """A copy of an already applied ``event_id`` that says something else: the copy applied
        first wins (its output is already out, or is re-emitted when its own input is
        redelivered), and this one is set aside as a dead letter, so ClickHouse never holds two
        versions of one event."""
        metrics.CONFLICTING_RETRIES.inc()
        reason = (
            f"event_id {p.envelope['event_id']} was already applied with different content; "
            "the copy applied first is kept"
        )
        out = self.dead_letter("dedupe", reason, *p.record)
        return replace(out, outcome="conflicting_retry")

    def _letter_again(self, p: _Pending, reason: str) -> Output:
        """The letter of an event that was to be dead-lettered when it was delivered before,
        never its result: the first letter may be in Kafka already (one outcome, twice at most)."""
        out = self.dead_letter("emit", reason, *p.record)
        return replace(out, applied=(p.envelope["account_id"], p.envelope["event_id"]))

    def _output(self, p: _Pending, result: dict[str, Any], duplicate: bool) -> Output:
        enriched = enriched_record(p.family, p.datum, p.ids, p.static, result)
        key = result["client_id"].encode()
        merges = merge_records(
            result, p.envelope["account_id"], p.envelope["event_id"], enriched["processed_at"]
        )
        splits = split_records(
            result, p.envelope["account_id"], p.envelope["event_id"], enriched["processed_at"]
        )
        if not duplicate:
            for split in splits:
                metrics.SPLITS.labels(split["kind"]).inc()
        return Output(
            enriched=(enriched["client_id"].encode(), self.codec.encode(ENRICHED, enriched)),
            merges=[(key, self.codec.encode(MERGE, m)) for m in merges],
            splits=[(s["to_client_id"].encode(), self.codec.encode(SPLIT, s)) for s in splits],
            outcome="duplicate" if duplicate else "enriched",
            occurred_at=p.envelope.get("occurred_at"),
            applied=(p.envelope["account_id"], p.envelope["event_id"]),
        )
