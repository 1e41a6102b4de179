"""The one outcome of an event Kafka refused (pipeline/emission.py), on a real broker and Redis:
the worker dies after the event's letter was confirmed and before the forget of its result, an
operator raises the topic's limit, and the event is delivered again. Its redelivery must send the
letter again, not store the event as well: before the letter marks it did (the enriched topic
took the result it had refused, beside the letter)."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import pytest
from confluent_kafka import Producer

from pipeline import emission
from pipeline.delivery import Delivery
from pipeline.processor import Processor, Record
from pipeline.results import StoreResults
from pipeline.store import ClientStore
from tests.integration.test_processor import CODEC, T0, event
from tests.support import all_values, set_max_message_bytes
from touchline import topics
from touchline.contracts import DEAD_LETTER
from touchline.producer import producer_config
from touchline.services.stack import Endpoints

pytestmark = pytest.mark.integration
LIMIT = 100_000


def padded_view() -> bytes:
    """A page view of ~160 kB (incompressible): its enriched output is over ``LIMIT``."""
    web = {"page_url": "https://s.example/?pad=" + secrets.token_hex(80_000)}
    return event("WebTouch", "page_view", T0, {"cid": "31.41"}, web)


async def deliver_once(
    processor: Processor, delivery: Delivery, to: emission.Topics, record: Record
) -> int:
    """Process and emit one batch as the worker does, but die before its results are
    forgotten; how many outputs Kafka refused."""

    def letter(index: int, reason: str, keep: int) -> bytes:
        out = processor.dead_letter("emit", reason, *record, max_original=keep)
        assert out.dead_letter is not None
        return out.dead_letter

    outputs = await processor.handle_batch([record])
    return await emission.emit(delivery, outputs, to, letter, StoreResults(lambda: processor.store))


def test_a_redelivery_after_the_letter_sends_the_letter_again_never_the_event(
    services: Endpoints,
) -> None:
    bootstrap, tag = services.kafka_bootstrap, uuid.uuid4().hex[:8]
    to = emission.Topics(f"lc-{tag}-enriched", f"lc-{tag}-merges", f"lc-{tag}-dead")
    topics.ensure(bootstrap, [to.enriched, to.merges, to.dead_letter], 1)
    set_max_message_bytes(bootstrap, [to.enriched], LIMIT)
    store = ClientStore(services.redis_url, f"t{tag}", max_share=2)
    processor = Processor(CODEC, store)
    producer = Producer(producer_config(bootstrap, **{"message.max.bytes": 4_000_000}))
    record: Record = (padded_view(), "raw", 0, 7)

    async def go() -> tuple[int, int]:
        try:
            first = await deliver_once(processor, Delivery(producer), to, record)
            # the worker died; the operator lets the enriched topic take the event now
            set_max_message_bytes(bootstrap, [to.enriched], 4 * LIMIT)
            return first, await deliver_once(processor, Delivery(producer), to, record)
        finally:
            await store.close()

    first, second = asyncio.run(go())
    assert first == 1  # the enriched output, over the topic's limit
    stored = all_values(bootstrap, to.enriched, 1)
    letters = [CODEC.decode(v) for v in all_values(bootstrap, to.dead_letter, 1)]
    assert not stored, f"the event was dead-lettered and stored too ({len(letters)} letters)"
    assert second == 0 and len(letters) == 2, (second, len(letters))
    assert {name for name, _ in letters} == {DEAD_LETTER}
    assert len({x["reason"] for _, x in letters}) == 1, "the second letter gives another reason"
    assert all("refused by Kafka" in x["reason"] for _, x in letters)
