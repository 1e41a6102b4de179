"""Infrastructure failures are not the event's fault: with Redis unreachable the processor raises
(the worker retries the batch) instead of dead-lettering good events. No service needed."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.exceptions

from pipeline.processor import Processor
from pipeline.results import TRANSIENT
from pipeline.store import ClientStore
from touchline.codec import Codec
from touchline.contracts import load
from touchline.services.process import free_port
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)


def page_view() -> bytes:
    datum, errors = coerce(
        CONTRACTS.expanded["touchline.events.WebTouch"],
        {
            "envelope": {
                "event_id": str(uuid.uuid4()),
                "event_type": "page_view",
                "occurred_at": 1,
                "received_at": 1,
                "source": "web",
                "account_id": "a",
                "ids": {"cid": "1.2"},
            }
        },
    )
    assert errors == []
    return CODEC.encode("touchline.events.WebTouch", datum)


def test_unreachable_redis_raises_a_transient_error_instead_of_dead_lettering() -> None:
    store = ClientStore(f"redis://127.0.0.1:{free_port()}/0", "t")  # nothing listens there
    processor = Processor(CODEC, store)

    async def go() -> None:
        await processor.handle_batch([(page_view(), "raw", 0, 0)])

    with pytest.raises(TRANSIENT) as caught:
        asyncio.run(go())
    assert isinstance(caught.value, redis.exceptions.ConnectionError)


def test_undecodable_bytes_are_dead_lettered_without_touching_redis() -> None:
    store = ClientStore(f"redis://127.0.0.1:{free_port()}/0", "t")
    processor = Processor(CODEC, store)
    (out,) = asyncio.run(processor.handle_batch([(b"\x00\x00\x00\x00\x07junk", "raw", 1, 9)]))
    assert out.outcome == "dead_letter" and out.dead_letter is not None
    _, letter = CODEC.decode(out.dead_letter)
    assert (letter["stage"], letter["partition"], letter["offset"]) == ("decode", 1, 9)
