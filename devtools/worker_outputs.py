"""A fixed worker input and a digest of every byte the processor emits for it.

Used by ``tests/unit/test_worker_outputs.py`` (the outputs must not change when the worker is
made cheaper) and by ``devtools/worker_profile.py`` (CPU per event over the same input).

The input: the events ``synthetic.generate`` makes for ``clients`` people with ``seed``, prepared
as ingest prepares them (``received_at`` fixed, so nothing reads the clock), encoded as Avro
single-object, in arrival order; then records that must become dead letters (bytes that are not
Avro, an unknown fingerprint, a truncated body), a redelivery of every 20th event (duplicates) and
a copy of every 50th with another ``occurred_at`` (conflicting retries). The clock is fixed while
the processor runs (``fixed_clock``), so ``processed_at`` and a dead letter's ``failed_at`` are
constants and the digest depends on the rules alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from pipeline.processor import Output, Processor, Record
from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from touchline import clock
from touchline.codec import Codec
from touchline.contracts import Contracts

RECEIVED_AT = 1_790_000_000_000
NOW = 1_790_100_000_000  # the processor's wall clock while the input runs


SPLIT_ACCOUNT = "split-studio"
SHARED_PHONE = "030 5550100"
AD = "https://studio.example/?utm_source=google&utm_medium=cpc&utm_campaign=yoga"


def _event(name: str, event_type: str, minute: int, ids: dict[str, Any], **fields: Any) -> Any:
    envelope = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"touchline-split-{name}")),
        "event_type": event_type,
        "occurred_at": RECEIVED_AT - 86_400_000 + minute * 60_000,
        "source": fields.pop("source", "studio_system"),
        "account_id": SPLIT_ACCOUNT,
        "ids": ids,
        "web": fields.pop("web", None),
    }
    return {"envelope": envelope, **fields}


def split_journey() -> list[Any]:
    """Profile 1 owns the phone, person 2 visits from an ad, books with an email, then their
    studio profile links that email through the same phone (a merge); a third profile proves the
    phone shared (the merge is split), and a call from the front desk's phone follows."""
    web = {"page_url": AD, "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X)"}
    return [
        _event(
            "p1",
            "client_profile_synced",
            0,
            {"email": "one@x.de", "phone": SHARED_PHONE},
            client_id="studio-1",
        ),
        _event("p2-visit", "page_view", 60, {"cid": "GA1.2.222.333"}, source="web", web=web),
        _event(
            "p2-booking",
            "appointment_booking_start",
            65,
            {"cid": "GA1.2.222.333", "email": "two@x.de"},
            source="web",
            web=web,
        ),
        _event(
            "p2",
            "client_profile_synced",
            120,
            {"email": "two@x.de", "phone": SHARED_PHONE},
            client_id="studio-2",
        ),
        _event(
            "p3",
            "client_profile_synced",
            240,
            {"email": "three@x.de", "phone": SHARED_PHONE},
            client_id="studio-3",
        ),
        _event(
            "desk-call",
            "contact_call",
            300,
            {"phone": "(030) 555-0100"},
            source="call_tracking",
            contact_id="call-1",
        ),
    ]


def records(contracts: Contracts, codec: Codec, clients: int, seed: int) -> list[Record]:
    """The fixed input (see the module docstring), as (value, topic, partition, offset)."""
    events = [*split_journey(), *generate(GeneratorConfig(clients=clients, seed=seed)).events]
    prepared = [p for e in events if isinstance(p := prepare(contracts, e, RECEIVED_AT), Prepared)]
    out: list[Record] = [
        (codec.encode(p.family.name, p.datum), f"raw.{p.family.topic}", 0, i)
        for i, p in enumerate(prepared)
    ]
    first = out[0][0]
    out += [
        (b"not avro at all", "raw.web", 0, len(out)),
        (first[:2] + b"\x00" * 8 + first[10:], "raw.web", 0, len(out) + 1),
        (first[: len(first) // 2], "raw.web", 0, len(out) + 2),
    ]
    out += [(value, topic, 1, i) for value, topic, _, i in out[: len(prepared) : 20]]
    for p in prepared[::50]:
        changed = {**p.datum, "envelope": {**p.datum["envelope"]}}
        changed["envelope"]["occurred_at"] += 1000
        out.append((codec.encode(p.family.name, changed), f"raw.{p.family.topic}", 2, 0))
    return out


@contextmanager
def fixed_clock(now_ms: int = NOW) -> Iterator[None]:
    """``touchline.clock.now_ms`` answers ``now_ms`` inside the block."""
    real = clock.time
    clock.time = SimpleNamespace(time=lambda: now_ms / 1000)  # type: ignore[assignment]
    try:
        yield
    finally:
        clock.time = real


async def process(processor: Processor, input_: Sequence[Record], batch: int) -> list[Output]:
    """The input through ``processor.handle_batch`` in batches of ``batch``, in order."""
    outputs: list[Output] = []
    for start in range(0, len(input_), batch):
        outputs += await processor.handle_batch(input_[start : start + batch])
    return outputs


def run(processor: Processor, input_: Sequence[Record], batch: int = 500) -> list[Output]:
    """:func:`process` in a fresh event loop."""
    return asyncio.run(process(processor, input_, batch))


def digest(outputs: Sequence[Output]) -> str:
    """SHA-256 over every output in order: outcome, dead-letter stage and kind, and the key and
    value bytes of the enriched record, each merge, split and dead letter."""
    h = hashlib.sha256()
    for o in outputs:
        h.update(f"|{o.outcome}|{o.stage}|{o.kind}|{o.occurred_at}|{o.applied}|".encode())
        for key, value in [*([o.enriched] if o.enriched else []), *o.merges, *o.splits]:
            h.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        if o.dead_letter is not None:
            h.update(b"D" + len(o.dead_letter).to_bytes(4, "big") + o.dead_letter)
    return h.hexdigest()


def counts(outputs: Sequence[Output]) -> dict[str, int]:
    """How many outputs of each outcome, and merges and splits (to show the input covers them)."""
    out: dict[str, int] = {}
    for o in outputs:
        out[o.outcome] = out.get(o.outcome, 0) + 1
    out["merges"] = sum(len(o.merges) for o in outputs)
    out["splits"] = sum(len(o.splits) for o in outputs)
    return out


def cpu_seconds() -> float:
    """CPU time of this process (all threads), for per-event costs."""
    return time.process_time()


def memory_digest(clients: int = 200, seed: int = 7) -> tuple[str, dict[str, int]]:
    """The digest and counts of the fixed input over the in-memory store, at the settings'
    defaults: what ``tests/unit/test_worker_outputs.py`` pins."""
    from pipeline.memory_store import MemoryStore
    from touchline.contracts import load
    from touchline.settings import REPO_ROOT, default

    contracts = load(REPO_ROOT / "schemas")
    codec = Codec(contracts)
    input_ = records(contracts, codec, clients, seed)
    with fixed_clock():
        outputs = run(Processor(codec, MemoryStore(default("identity_max_share"))), input_)
    return digest(outputs), counts(outputs)


if __name__ == "__main__":  # python -m devtools.worker_outputs: the figures to pin
    print(*memory_digest(), sep="\n")
