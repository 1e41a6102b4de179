"""The worker's outputs, byte for byte, on a fixed input: making the worker cheaper must not
change one byte of what it emits (enriched events, merges, splits, dead letters, outcomes).

``DIGEST`` is the SHA-256 of the outputs of ``devtools.worker_outputs`` (200 generated clients
with seed 7, a journey that splits a shared phone, three undecodable records, redeliveries and
conflicting retries) through the processor over the in-memory store, with the clock fixed. It was
recorded from main at d5de3a6, before the worker's per-event work was cut. A change that is meant
to change the outputs (a new enrichment rule, a schema field, a settings default) updates it:
``PYTHONPATH=. python -m devtools.worker_outputs`` prints the digest and the counts to pin.
Re-pinned when splits became connected components (issue 10, item 4): the split journey's phone
now gives a claim of person 2's email and web client id and a release of the phone instead of
an unmerge, and person 2's visit and booking, resolved in the same batch before the split and
recorded after it, are stored with the client they were merged into (the claim maps them in
the reports); every other output is unchanged.
Re-pinned when an event resolved before a split is recorded where its identifiers went (split.lua
split_since): those two events and the profile that merged person 2 in, resolved in that batch
before the split, are now stored with person 2's split-off client; the other 3,729 outputs are
byte for byte the same (compared output by output with a8a9631).
Re-pinned when enriched events carried their source-system ids (``external_ids``, migration 020):
decoded output by output against 9dc1c6e, the 3,732 outputs are equal but for that field (817
enriched events carry ids).
"""

from __future__ import annotations

from devtools.worker_outputs import memory_digest

DIGEST = "4cd24c855043299994a194bb078605f5ea3fc9b020f9f1b80f6b5aa4fdcefd8d"
COUNTS = {
    "enriched": 3484,
    "dead_letter": 3,
    "duplicate": 175,
    "conflicting_retry": 70,
    "merges": 48,
    "splits": 2,
}


def test_outputs_are_byte_identical_to_the_recorded_ones() -> None:
    digest, counts = memory_digest()
    assert counts == COUNTS  # the input still covers every kind of output
    assert digest == DIGEST, (
        "the worker's outputs changed; if on purpose, pin `python -m devtools.worker_outputs`"
    )
