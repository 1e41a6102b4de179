"""The one dead-letter builder: every stage (ingest, import, worker, sink) refuses input through it.

A dead letter keeps the input's original bytes with the stage and the reason, so nothing refused is
ever silently lost. A dead letter must itself fit in a Kafka message: an original larger than
``MAX_ORIGINAL_BYTES`` keeps its first ``MAX_ORIGINAL_BYTES`` bytes, and the reason says how large
it was and its SHA-256, so the whole input can still be matched against the sender's copy.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from touchline.clock import now_ms
from touchline.contracts import DEAD_LETTER

# Well under the 1 MiB a default Kafka topic takes, with room for the record's other fields.
MAX_ORIGINAL_BYTES = 512 * 1024
MAX_REASON_CHARS = 2000


class Encoder(Protocol):
    def encode(self, name: str, datum: dict[str, object]) -> bytes: ...


def datum(
    stage: str,
    reason: str,
    original: bytes,
    *,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    failed_at: int | None = None,
    max_original: int = MAX_ORIGINAL_BYTES,
) -> dict[str, object]:
    """The ``DeadLetter`` record for ``original`` refused at ``stage`` for ``reason``."""
    original = bytes(original)
    if len(original) > max_original:
        digest = hashlib.sha256(original).hexdigest()
        note = f" [original truncated to {max_original} of {len(original)} bytes; sha256 {digest}]"
        reason = reason[: MAX_REASON_CHARS - len(note)] + note
        original = original[:max_original]
    return {
        "failed_at": now_ms() if failed_at is None else failed_at,
        "stage": stage,
        "reason": reason[:MAX_REASON_CHARS],
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "original": original,
    }


def encode(codec: Encoder, stage: str, reason: str, original: bytes, **where: Any) -> bytes:
    """The dead letter as Avro bytes, ready to produce to the dead-letter topic; ``where`` takes
    the keyword arguments of :func:`datum` (topic, partition, offset, failed_at)."""
    return codec.encode(DEAD_LETTER, datum(stage, reason, original, **where))
