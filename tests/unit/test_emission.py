"""pipeline.emission: an output Kafka refuses becomes its input's dead letter, and an event whose
letter Kafka confirmed is never stored as well, even when its batch fails on another letter."""

from __future__ import annotations

import asyncio

import pytest
from confluent_kafka import KafkaError

from pipeline.emission import LettersRefused, Topics, emit, outgoing
from pipeline.processor import Output
from tests.unit.test_delivery import FakeProducer, delivery_of

TOPICS = Topics("enriched", "merges", "dead")
LIMIT = 100


def output(n: int, size: int, merges: int = 0) -> Output:
    """Event ``e<n>``'s output: an enriched value of ``size`` bytes, ``merges`` small merges."""
    value = f"e{n}:".encode().ljust(size, b".")
    merged = [(b"k", f"m{n}.{j}".encode()) for j in range(merges)]
    return Output(enriched=(b"k", value), merges=merged, applied=("acc", f"e{n}"))


class Recorded:
    """Results that keep what emission asked: ``log`` holds ("letter", event ids, letters Kafka
    had confirmed by then), ("unletter", ids), ("forget", ids) in order."""

    def __init__(self, producer: FakeProducer) -> None:
        self.producer = producer
        self.log: list[tuple[str, list[str], int]] = []

    def _ids(self, outputs: list[Output]) -> list[str]:
        return [o.applied[1] for o in outputs if o.applied is not None]

    async def letter(self, lettered: list[tuple[Output, str]]) -> None:
        for _, why in lettered:
            assert "refused by Kafka" in why
        ids = self._ids([o for o, _ in lettered])
        self.log.append(("letter", ids, len(letters(self.producer))))

    async def unletter(self, outputs: list[Output]) -> None:
        self.log.append(("unletter", self._ids(outputs), len(letters(self.producer))))

    async def forget(self, outputs: list[Output]) -> None:
        self.log.append(("forget", self._ids(outputs), len(letters(self.producer))))


def run(
    producer: FakeProducer,
    outputs: list[Output],
    results: Recorded,
    *,
    original: int = 20,
    unfit: int | None = None,
) -> int:
    """Emit; input i's original is ``original`` bytes, its letter ``letter of e<i>|`` and as much
    of the original as it may keep, but ``unfit``'s letter never fits. Returns how many outputs
    were refused."""

    def letter(index: int, reason: str, keep: int) -> bytes:
        assert "refused by Kafka" in reason and f"({LIMIT * 2} bytes)" in reason
        head = f"letter of e{index}|".encode()
        return head.ljust(2 * LIMIT, b"!") if index == unfit else head + b"o" * min(original, keep)

    return asyncio.run(emit(delivery_of(producer), outputs, TOPICS, letter, results))


def letters(producer: FakeProducer) -> list[bytes]:
    return [v for topic, v in producer.delivered if topic == "dead"]


def test_a_refused_output_becomes_its_inputs_letter_and_the_rest_is_delivered() -> None:
    producer = FakeProducer(max_bytes=LIMIT)
    outputs = [output(0, 20, merges=1), output(1, 2 * LIMIT), output(2, 30)]
    results = Recorded(producer)
    assert run(producer, outputs, results) == 1
    assert letters(producer) == [b"letter of e1|" + b"o" * 20]
    stored = [v.split(b":")[0] for topic, v in producer.delivered if topic == "enriched"]
    assert stored == [b"e0", b"e2"]
    assert ("merges", b"m0.0") in producer.delivered
    # e1 is marked before its letter went out; a completed batch forgets every result afterwards
    # (pipeline.app): emit forgets none.
    assert results.log == [("letter", ["e1"], 0)]


def test_a_letter_over_the_topics_limit_goes_with_less_of_its_original_until_it_fits() -> None:
    producer = FakeProducer(max_bytes=LIMIT)
    results = Recorded(producer)
    assert run(producer, [output(0, 2 * LIMIT)], results, original=3 * LIMIT) == 1
    (sent,) = letters(producer)
    assert sent.startswith(b"letter of e0|o") and len(sent) <= LIMIT
    assert len(sent) > LIMIT // 2  # halved no further than needed
    assert results.log == [("letter", ["e0"], 0)]


def test_a_letter_refused_beside_a_larger_one_goes_again_alone_whole() -> None:
    """Kafka refuses a whole record batch over the limit: a letter refused for its size may only
    have shared one with a larger message, so it first goes again alone, as it was."""
    producer = FakeProducer(max_bytes=LIMIT)
    whole = b"letter of e0|" + b"o" * 20
    producer.fail[whole] = (1, KafkaError.MSG_SIZE_TOO_LARGE)
    assert run(producer, [output(0, 2 * LIMIT)], Recorded(producer)) == 1
    assert letters(producer) == [whole]


def test_a_batch_failing_on_one_letter_forgets_the_events_whose_letters_kafka_confirmed() -> None:
    """e0's and e2's outputs are refused; e0's letter fits, e2's never does: the batch fails.
    Both were marked before any letter went out; then e0's result is forgotten so that its
    redelivery emits nothing (it has its letter), and e2's mark is taken back: it has no outcome
    yet, and keeps its result, to be stored once the topic takes it."""
    producer = FakeProducer(max_bytes=LIMIT)
    outputs = [output(0, 2 * LIMIT), output(1, 30), output(2, 2 * LIMIT)]
    results = Recorded(producer)
    with pytest.raises(LettersRefused, match="dead letters refused by Kafka"):
        run(producer, outputs, results, unfit=2)
    assert letters(producer) == [b"letter of e0|" + b"o" * 20]
    assert results.log == [
        ("letter", ["e0", "e2"], 0),
        ("forget", ["e0"], 1),
        ("unletter", ["e2"], 1),
    ]


def test_an_input_with_two_refused_outputs_is_marked_once_with_the_first_reason() -> None:
    producer = FakeProducer(max_bytes=LIMIT)
    big = output(0, 2 * LIMIT)
    twice = Output(enriched=big.enriched, merges=[(b"k", b"m".ljust(2 * LIMIT, b"."))],
                   applied=big.applied)  # fmt: skip
    marked: list[tuple[Output, str]] = []

    class Marks(Recorded):
        async def letter(self, lettered: list[tuple[Output, str]]) -> None:
            marked.extend(lettered)

    assert run(producer, [twice], Marks(producer)) == 2
    ((out, why),) = marked
    assert out is twice and why.startswith("output to merges")


def test_outgoing_tags_each_message_with_its_inputs_index() -> None:
    dead = Output(dead_letter=b"bad", outcome="dead_letter")
    sent = outgoing([output(0, 10, merges=2), dead], TOPICS)
    assert [(m.topic, m.source) for m in sent] == [
        ("merges", 0),
        ("merges", 0),
        ("enriched", 0),
        ("dead", 1),
    ]
