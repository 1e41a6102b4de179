"""What a processed batch emits to Kafka, and each event's **one** outcome: stored or dead-lettered.

A batch's outputs (enriched events, merges, splits, dead letters) go out together and each is
confirmed (:class:`pipeline.delivery.Delivery`). An output Kafka can never take (over the topic's
``max.message.bytes``) becomes a dead letter of its input, saying which output and why; the
letter carries the input's original bytes, not the output.

**A letter always fits.** One Kafka refuses for its size goes again on its own (it may only have
shared a record batch with a larger one), then with half as much of its original each time, down
to none (the reason then says how large the original was and gives its SHA-256;
``touchline.deadletter``), as the sink's letters do (``sinks.deadletters``). So a dead-letter
topic set below the size of an input neither stops the worker nor leaves an event without an
outcome; the whole input is still in its raw topic for as long as that keeps it.

**The letter is decided before it is sent.** Before any letter of the batch goes out, the store
marks each lettered event (``lettered:<event_id>``, :meth:`pipeline.store.Store.letter`): from
then on a redelivery (a crash before its result was forgotten, a batch that failed) emits the
event's letter again, never its result. So an event is never both stored and dead-lettered; a
crash between the letter's confirmation and the forget of its result can only send the same
letter twice. The mark must be written: while Redis is down the batch waits, as it waits to be
processed. Only a letter Kafka refuses with no original at all (a dead-letter topic below ~1 kB)
or for another permanent reason fails its batch: nothing of the batch is committed, the worker
exits, and a restart delivers its inputs again. Before it exits, the events whose letters Kafka
confirmed are forgotten (their redelivery is a duplicate and emits nothing), and the marks of
those whose letters it refused are taken back (:meth:`pipeline.store.Store.unletter`): they have
no outcome yet, so their redelivery emits their results, stored once the topics take them (a
mark Redis cannot take back then emits the letter again instead). The worker exits only once the
batches already under way have ended so too (``TOUCHLINE_WORKER_EXIT_GRACE_S``,
``pipeline.inflight``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pipeline.delivery import Delivery, Outgoing, Refused
from pipeline.processor import Output
from touchline.deadletter import MAX_ORIGINAL_BYTES

log = logging.getLogger(__name__)
# (index of the input, reason, at most this many bytes of its original) -> the letter's bytes
Letter = Callable[[int, str, int], bytes]


class Results(Protocol):
    """The events' results in the store, as emission needs them (pipeline/app.py)."""

    async def letter(self, lettered: list[tuple[Output, str]]) -> None:
        """Mark each output's event as dead-lettered with the reason; returns once stored."""

    async def unletter(self, outputs: list[Output]) -> None:
        """Take back the marks of these outputs' events (best effort)."""

    async def forget(self, outputs: list[Output]) -> None:
        """Forget the results of these outputs' events (best effort)."""


class LettersRefused(RuntimeError):
    """Kafka refused dead letters too: the batch can never be released."""


@dataclass(frozen=True)
class Topics:
    enriched: str
    merges: str  # merges and splits
    dead_letter: str


def outgoing(outputs: Sequence[Output], topics: Topics) -> list[Outgoing]:
    """Every message of the batch, each tagged with the index of the input that caused it."""
    out: list[Outgoing] = []
    for i, o in enumerate(outputs):
        out.extend(Outgoing(topics.merges, key, value, i) for key, value in o.merges)
        out.extend(Outgoing(topics.merges, key, value, i) for key, value in o.splits)
        if o.enriched is not None:
            out.append(Outgoing(topics.enriched, o.enriched[0], o.enriched[1], i))
        if o.dead_letter is not None:
            out.append(Outgoing(topics.dead_letter, None, o.dead_letter, i))
    return out


def refusal_reason(refused: Refused) -> str:
    """The reason a refused output's letter gives."""
    message = refused.message
    return (
        f"output to {message.topic} ({len(message.value)} bytes) refused by Kafka: {refused.reason}"
    )


async def emit(
    delivery: Delivery,
    outputs: Sequence[Output],
    topics: Topics,
    letter: Letter,
    results: Results,
) -> int:
    """Produce ``outputs`` and return once Kafka has confirmed each one or its input's dead
    letter; returns how many outputs Kafka refused. Raises :class:`LettersRefused` when a letter
    cannot be delivered even without its original, after forgetting the results of the events
    whose letters were confirmed (see the module's doc)."""
    refused = await delivery.deliver(outgoing(outputs, topics))
    if not refused:
        return 0
    sent = [(r.message.source, refusal_reason(r)) for r in refused]
    reasons = dict(reversed(sent))  # each input's first reason
    await results.letter([(outputs[i], why) for i, why in sorted(reasons.items())])
    confirmed, lost = await deliver_letters(delivery, sent, topics.dead_letter, letter)
    if lost:
        await results.forget([outputs[i] for i in sorted(confirmed)])
        await results.unletter([outputs[i] for i in sorted(reasons.keys() - confirmed)])
        # never acknowledge an input that left no trace: the batch stays uncommitted
        raise LettersRefused(f"dead letters refused by Kafka: {lost[0].reason}")
    return len(refused)


async def deliver_letters(
    delivery: Delivery, sent: list[tuple[int, str]], topic: str, letter: Letter
) -> tuple[set[int], list[Refused]]:
    """Deliver a letter for each (input index, reason); one refused for its size goes again
    alone with less of its original (:func:`fit`). Returns the indexes of the inputs with a
    confirmed letter, and the letters refused for good."""
    full = MAX_ORIGINAL_BYTES
    letters = [Outgoing(topic, None, letter(i, why, full), j) for j, (i, why) in enumerate(sent)]
    refused = {r.message.source: r for r in await delivery.deliver(letters)}
    lost: dict[int, Refused] = {}
    for j, r in refused.items():
        left = await fit(delivery, r, sent[j], letter) if r.for_size else r
        if left is not None:
            lost[j] = left
    confirmed = {i for j, (i, _) in enumerate(sent) if j not in lost}
    return confirmed, list(lost.values())


async def fit(
    delivery: Delivery, refused: Refused, cause: tuple[int, str], letter: Letter
) -> Refused | None:
    """Produce a refused letter alone, and while Kafka refuses it for its size, again with half as
    much of its input's original. None once one is confirmed, else the last refusal."""
    message, keep = refused.message, MAX_ORIGINAL_BYTES
    while True:
        (left,) = await delivery.deliver([message]) or (None,)
        if left is None:
            return None
        if not left.for_size or keep == 0:
            return left
        keep = min(keep, len(message.value)) // 2
        log.warning("a dead letter over the topic's limit goes again with %d bytes", keep)
        message = Outgoing(message.topic, None, letter(*cause, keep), message.source)
