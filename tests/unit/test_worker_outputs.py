"""The worker's outputs, byte for byte, on a fixed input: making the worker cheaper must not
change one byte of what it emits (enriched events, merges, splits, dead letters, outcomes).

``DIGEST`` is the SHA-256 of the outputs of ``devtools.worker_outputs`` (200 generated clients
with seed 7, a journey that splits a shared phone, three undecodable records, redeliveries and
conflicting retries) through the processor over the in-memory store, with the clock fixed. It was
recorded from main at d5de3a6, before the worker's per-event work was cut. A change that is meant
to change the outputs (a new enrichment rule, a schema field, a settings default) updates it:
``PYTHONPATH=. python -m devtools.worker_outputs`` prints the digest and the counts to pin.
"""

from __future__ import annotations

from devtools.worker_outputs import memory_digest

DIGEST = "49508bcfa4bf6c7712a102e18cc7a6a4c71a7e25b1db1d6cef52c1e9f2320aa1"
COUNTS = {
    "enriched": 3484,
    "dead_letter": 3,
    "duplicate": 175,
    "conflicting_retry": 70,
    "merges": 48,
    "splits": 1,
}


def test_outputs_are_byte_identical_to_the_recorded_ones() -> None:
    digest, counts = memory_digest()
    assert counts == COUNTS  # the input still covers every kind of output
    assert digest == DIGEST, (
        "the worker's outputs changed; if on purpose, pin `python -m devtools.worker_outputs`"
    )
