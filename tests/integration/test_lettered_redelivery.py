"""An event whose outcome is a dead letter stays one (pipeline/emission.py): once its letter mark
is written, a redelivery of the event (the worker died before the forget of its result, or its
batch failed) emits the letter again, never the result, in Redis (the Lua scripts' ``inflight:``
plus ``lettered:``) and in the in-memory store alike; a mark taken back re-emits the result."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from pipeline.keys import account_key
from pipeline.memory_store import MemoryStore
from pipeline.processor import Output, Processor
from pipeline.results import StoreResults
from pipeline.store import ClientStore
from tests.integration.test_processor import CODEC, LOOP, T0, run, visit
from touchline.contracts import DEAD_LETTER
from touchline.services.stack import Endpoints

pytestmark = pytest.mark.integration
REASON = "output to enriched (160042 bytes) refused by Kafka: MSG_SIZE_TOO_LARGE"


@pytest.fixture(params=["redis", "memory"])
def processor(request: pytest.FixtureRequest, services: Endpoints) -> Iterator[Processor]:
    if request.param == "memory":
        yield Processor(CODEC, MemoryStore(max_share=2))
        return
    store = ClientStore(services.redis_url, f"t{uuid.uuid4().hex[:8]}", max_share=2)
    yield Processor(CODEC, store)
    LOOP.run_until_complete(store.close())


def results(processor: Processor) -> StoreResults:
    return StoreResults(lambda: processor.store)


def is_marked(processor: Processor, applied: tuple[str, str] | None) -> bool:
    """Whether the store still holds a letter mark for the event."""
    assert applied is not None
    account, event_id = applied
    store = processor.store
    if isinstance(store, MemoryStore):
        return event_id in store.accounts[account].lettered
    assert isinstance(store, ClientStore)
    key = account_key(store.prefix, account, f"lettered:{event_id}")
    return bool(LOOP.run_until_complete(store.redis.exists(key)))


def test_a_marked_event_is_lettered_again_on_redelivery_never_stored(
    processor: Processor,
) -> None:
    record = visit(T0, "7.7", "google", "cpc")
    (once,) = run(processor, record)
    assert once.outcome == "enriched" and once.applied is not None
    LOOP.run_until_complete(results(processor).letter([(once, REASON)]))
    # the worker dies here: the letter may be in Kafka, the result was not forgotten
    (again,) = run(processor, record)
    assert again.outcome == "dead_letter" and again.stage == "emit", again
    assert again.enriched is None and again.merges == [] and again.dead_letter is not None
    name, letter = CODEC.decode(again.dead_letter)
    assert name == DEAD_LETTER
    assert letter["reason"] == REASON and letter["original"] == record
    assert again.applied == once.applied  # forgotten once this letter is confirmed
    assert is_marked(processor, once.applied)
    LOOP.run_until_complete(results(processor).forget([again]))  # a worker started anew
    assert not is_marked(processor, once.applied)
    (third,) = run(processor, record)
    assert third.outcome == "duplicate" and third.dead_letter is None and third.enriched is None


def test_a_mark_taken_back_emits_the_result_again_byte_for_byte(processor: Processor) -> None:
    record = visit(T0, "8.8", "google", "cpc")
    (once,) = run(processor, record)
    LOOP.run_until_complete(results(processor).letter([(once, REASON)]))
    LOOP.run_until_complete(results(processor).unletter([once]))
    assert not is_marked(processor, once.applied)
    (again,) = run(processor, record)
    assert again.outcome == "duplicate" and again.enriched == once.enriched


def test_the_process_that_marked_an_event_takes_the_mark_away_with_its_result(
    processor: Processor,
) -> None:
    """The worker's normal path: mark, letter confirmed, then the batch's forget."""
    (once,) = run(processor, visit(T0, "9.1", "google", "cpc"))
    (other,) = run(processor, visit(T0, "9.2", "google", "cpc"))
    same = results(processor)
    LOOP.run_until_complete(same.letter([(once, REASON)]))
    LOOP.run_until_complete(same.forget([once, other]))
    assert not is_marked(processor, once.applied) and not same.marked


def test_marks_of_unapplied_outputs_are_skipped(processor: Processor) -> None:
    """A dead letter of the processor's own (undecodable bytes) was never applied: no mark."""
    (bad,) = run(processor, b"\x00garbage")
    assert bad.applied is None
    LOOP.run_until_complete(results(processor).letter([(bad, REASON)]))
    LOOP.run_until_complete(results(processor).unletter([bad, Output()]))
