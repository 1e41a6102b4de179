"""The worker's exactly-once state: which events it has applied, in about 26 bytes per event
instead of a key per event. Pure: the layout and its arithmetic; ``pipeline/lua/common.lua``
(``applied``, ``mark_applied``) reads and writes it in the same script calls that change cards.

Two parts, both under an account's key base (``<prefix>:{<account>}:``, :mod:`pipeline.keys`):

``seen:<generation>:<shard>`` (hash)  one field per applied event: 12 bytes of a hash of its
    ``event_id`` -> 6 bytes of a hash of its fingerprint (what the event said, so a *different*
    copy of an applied id is still told apart: a conflicting retry), both as raw bytes. The
    scripts get them as binary arguments beside their JSON ones (pipeline/store.py bins);
    entries of the layout before kept both as base64 text (16 and 8 characters, 6 bytes more)
    and are still found, so an upgrade forgets no applied event (they are gone once their
    generation's key expires, two windows later).
    ``generation`` = the worker clock's time // ``window``; an event is looked up in the current
    and the previous generation and written to the current one, and a generation's keys expire
    ``2 * window`` after they were created. So every applied event is recognised for **at least
    one window and at most two** (``worker_dedupe_days``). ``shard`` (the first byte of the hash,
    ``worker_dedupe_shards`` of them) keeps each hash small: Redis stores a hash of up to
    ``hash-max-listpack-entries`` (512 by default) short fields as one compact listpack (~26 B per
    event measured, ~96 B once a hash outgrows it), and a big one is never a single huge key.
``inflight:<event_id>``               the event's whole result (client, enrichment) from the moment
    it was applied until Kafka has confirmed the outputs built from it; the worker then deletes
    it (:meth:`pipeline.store.ClientStore.forget`). A redelivery in that interval (a crash before
    the outputs were confirmed) re-emits the same result byte for byte. Kept ``window`` at most.
``lettered:<event_id>``               the reason, when Kafka refused an output of the event and
    its outcome is a dead letter (pipeline/emission.py): a redelivery then emits the letter
    again instead of the result. Written before the letter, deleted after ``inflight:``.

Past the window an event id is new again (its copy would be applied a second time). An id that
is applied and confirmed, then delivered again, is dropped with outcome ``duplicate``: Kafka
already holds its output. 96 bits of hash make a false "already applied" about 1 in 10^13 even
for a billion events in one account's window.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Mark:
    """Where an event's entry lives (``seen:<generation>:<shard>`` / ``field``); ``before``: its
    field in the layout before (base64)."""

    shard: str
    field: bytes  # to the scripts as a binary argument (pipeline/store.py bins)
    before: str

    def lua(self) -> list[str]:
        return [self.shard, self.before]


@lru_cache(maxsize=8192)  # resolve and record both need it, one batch apart at most
def mark(event_id: str, shards: int) -> Mark:
    digest = hashlib.blake2b(event_id.encode(), digest_size=14).digest()
    shard = int.from_bytes(digest[:2], "big") % shards
    return Mark(format(shard, "x"), digest[2:], base64.b64encode(digest[2:]).decode())


def short_fingerprint(fingerprint: str) -> str:
    """What the entry keeps of an event's fingerprint (:func:`pipeline.processor.fingerprint`):
    6 bytes of its hash (:func:`short`), as hex: the scripts keep the bytes and answer with this."""
    return short(fingerprint).hex()


def same_fingerprint(kept: str, fingerprint: str) -> bool:
    """Whether an entry's fingerprint (hex, or base64 in the layout before) is ``fingerprint``'s."""
    mine = short(fingerprint)
    return kept in (mine.hex(), base64.b64encode(mine).decode())


def short(fingerprint: str) -> bytes:
    """The 6 bytes an entry keeps of an event's fingerprint."""
    return hashlib.blake2b(fingerprint.encode(), digest_size=6).digest()


def generation(now_ms: int, window_s: int) -> int:
    return now_ms // (window_s * 1000)


def entries(
    base: str, event_id: str, now_ms: int, window_s: int, shards: int
) -> list[tuple[str, bytes]]:
    """(key, field) where an applied ``event_id`` may be recorded now: the current generation and
    the one before, in either layout (for readers outside the scripts: the CLI, tests, benches)."""
    m = mark(event_id, shards)
    g = generation(now_ms, window_s)
    return [
        (f"{base}seen:{gen}:{m.shard}", name)
        for gen in (g, g - 1)
        for name in (m.field, m.before.encode())
    ]
