"""The processor's steps without Redis, over the in-memory store (``pipeline/memory_store.py``,
kept equal to the Lua scripts by tests/integration/test_memory_store.py): stitching identities
across channels, merges, sessions, multichannel contacts, and exactly-once redelivery."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pipeline.memory_store import MemoryStore
from pipeline.processor import Config, Output, Processor
from pipeline.touches import Hit, Touch, derive
from touchline.codec import Codec
from touchline.contracts import ENRICHED, MERGE, load
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
MIN = 60_000
T0 = 1_790_000_000_000


def event(family: str, event_type: str, at: int, ids: dict[str, Any], **fields: Any) -> bytes:
    web = fields.pop("web", None)
    source = fields.pop("source", "web")
    envelope = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": at,
        "received_at": at,
        "source": source,
        "account_id": "acc",
        "ids": ids,
        "web": web,
    }
    datum, errors = coerce(
        CONTRACTS.expanded[f"touchline.events.{family}"], {"envelope": envelope, **fields}
    )
    assert errors == [], errors
    return CODEC.encode(f"touchline.events.{family}", datum)


def visit(at: int, cid: str, source: str, medium: str) -> bytes:
    web = {"utm_source": source, "utm_medium": medium, "page_url": "https://s.example/"}
    return event("WebTouch", "page_view", at, {"cid": cid}, web=web)


def call(at: int, phone: str, cid: str | None = None) -> bytes:
    return event(
        "InboundContact",
        "contact_call",
        at,
        {"phone": phone, "cid": cid},
        source="call_tracking",
        name="Anna",
        contact_id=f"call-{at}",
    )


def run(processor: Processor, *records: bytes) -> list[Output]:
    batch = [(r, "raw", 0, i) for i, r in enumerate(records)]
    return asyncio.run(processor.handle_batch(batch))


def enriched(out: Output) -> dict[str, Any]:
    assert out.enriched is not None, out
    name, datum = CODEC.decode(out.enriched[1])
    assert name == ENRICHED
    return datum


def processor(store: MemoryStore | None = None) -> Processor:
    config = Config(lookback_ms=90 * 86_400_000, min_channels=2)
    return Processor(CODEC, store or MemoryStore(max_share=2), config)


def touches(store: MemoryStore, client: str) -> list[Touch]:
    """The card's touches, derived in event time from its hits (as pipeline.card does)."""
    hits = store.accounts["acc"].zsets.get(("hits", client), {})
    return derive(
        [Hit.from_member(member, at) for member, at in hits.items()],
        timeout_ms=30 * MIN,
        lookback_ms=90 * 86_400_000,
        min_channels=2,
    )


def test_visits_and_a_call_stitch_merge_and_make_a_multichannel_contact() -> None:
    store = MemoryStore(max_share=2)
    p = processor(store)
    first, second, same_visit = (
        enriched(o)
        for o in run(
            p,
            visit(T0, "111.222", "google", "cpc"),
            visit(T0 + 2 * 86_400_000, "333.444", "newsletter", "email"),
            visit(T0 + 2 * 86_400_000 + 5 * MIN, "333.444", "newsletter", "email"),
        )
    )
    assert first["client_id"] != second["client_id"]  # two devices, nothing links them yet
    assert second["session_id"] == same_visit["session_id"] and not same_visit["is_touch"]
    # a call from the second device's visitor names both cookies' owner by phone: no merge yet
    (linked,) = run(p, call(T0 + 3 * 86_400_000, "+49 30 1234567", cid="333.444"))
    contact = enriched(linked)
    assert contact["client_id"] == second["client_id"]
    assert [t.multichannel for t in touches(store, contact["client_id"]) if t.is_contact] == [False]
    # the first device calls from the same phone: the two clients merge into the older one
    (merging,) = run(p, call(T0 + 4 * 86_400_000, "+49 30 1234567", cid="111.222"))
    merged = enriched(merging)
    assert merged["client_id"] == first["client_id"]
    assert len(merging.merges) == 1
    name, merge = CODEC.decode(merging.merges[0][1])
    assert name == MERGE and merge["from_client_id"] == second["client_id"]
    # both visits' channels (and the first call's) are now before this contact
    assert merged["touch_seq"] == 4
    contacts = [t for t in touches(store, merged["client_id"]) if t.is_contact]
    # in event time, once merged: the first call too had both devices' visits before it
    assert [t.multichannel for t in contacts] == [True, True]
    assert contacts[0].channels_before == ("paid_search", "email")


def test_a_redelivered_event_is_re_emitted_byte_for_byte_and_counts_once() -> None:
    store = MemoryStore(max_share=2)
    p = processor(store)
    record = call(T0, "+49 30 7654321")
    (once,) = run(p, record)
    (again,) = run(p, record)
    assert again.outcome == "duplicate" and again.enriched == once.enriched
    client = enriched(once)["client_id"]
    assert store.accounts["acc"].cards[client]["contact_count"] == 1  # counted once
    (next_call,) = run(p, call(T0 + MIN, "+49 30 7654321"))
    assert enriched(next_call)["client_id"] == client
    assert store.accounts["acc"].cards[client]["contact_count"] == 2
