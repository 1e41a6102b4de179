"""The live card converges: the same events in shuffled arrival orders and batch sizes give every
person the same touches, first touch and multichannel contacts as the event-time order does
(real Redis, the worker's Processor)."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import pytest

from pipeline.card import Rules, touches_of
from pipeline.processor import Config, Processor
from pipeline.store import ClientStore
from producers.events import Prepared, prepare
from producers.generator import GeneratorConfig, generate
from touchline.codec import Codec
from touchline.contracts import load
from touchline.identity import extract
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT

pytestmark = pytest.mark.integration
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
CONFIG = Config(session_timeout_ms=30 * 60_000, lookback_ms=90 * 86_400_000, min_channels=2)
RULES = Rules(CONFIG.session_timeout_ms, CONFIG.lookback_ms, CONFIG.min_channels)
ORDERS = 4


def records() -> tuple[list[bytes], dict[str, str]]:
    """Generated multichannel journeys as raw Avro records, and one identifier per person."""
    generated = generate(GeneratorConfig(clients=30, seed=5))
    out: list[bytes] = []
    for event in generated.events:
        prepared = prepare(CONTRACTS, event, event["envelope"]["occurred_at"])
        if isinstance(prepared, Prepared):
            out.append(CODEC.encode(prepared.family.name, prepared.datum))
    keys = {}
    for pid, person in generated.truth.persons.items():
        ids = extract({"email": person.email, "cid": (person.cids or [None])[0]})
        if ids.keys():
            keys[pid] = ids.keys()[0]
    return out, keys


def cards(services: Endpoints, raw: list[bytes], keys: dict[str, str], rnd: Any) -> dict[str, Any]:
    """Process ``raw`` in batches of random sizes; each person's derived touches."""
    store = ClientStore(services.redis_url, f"order{uuid.uuid4().hex[:8]}", max_share=2)
    processor = Processor(CODEC, store, CONFIG)

    async def go() -> dict[str, Any]:
        i = 0
        while i < len(raw):
            size = rnd.randint(1, 300) if rnd else 500
            batch = [(r, "raw", 0, n) for n, r in enumerate(raw[i : i + size], start=i)]
            await processor.handle_batch(batch)
            i += size
        out: dict[str, Any] = {}
        for pid, key in keys.items():
            client = await store.lookup("demo-studio", key)
            card = await store.card("demo-studio", client or "")
            out[pid] = [
                (t.at, t.event_id, t.channel, t.is_contact, t.multichannel, t.channels_before)
                for t in touches_of(card, RULES)
            ]
        await store.close()
        return out

    return asyncio.run(go())


def test_cards_do_not_depend_on_arrival_order(services: Endpoints) -> None:
    raw, keys = records()
    reference = cards(services, raw, keys, None)  # event time, the way the data was generated
    assert sum(len(t) for t in reference.values()) > 50, "too few touches to test anything"
    for seed in range(ORDERS):
        rnd = random.Random(seed)
        shuffled = list(raw)
        rnd.shuffle(shuffled)
        got = cards(services, shuffled, keys, rnd)
        differ = sorted(pid for pid in reference if got[pid] != reference[pid])
        assert not differ, f"order {seed}: {len(differ)} of {len(reference)} cards differ"
