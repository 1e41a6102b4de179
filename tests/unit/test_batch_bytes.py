"""touchline/batch_bytes.py: the producers' batches stay under the topics' limit."""

from __future__ import annotations

from touchline.batch_bytes import LIBRDKAFKA_BATCH_BYTES, batch_bytes


def test_a_batch_stays_under_the_topic_limit_with_room_for_framing() -> None:
    assert batch_bytes(100_000) == 95_000
    assert batch_bytes(20) == 19


def test_a_large_limit_keeps_librdkafka_s_own_batch_size() -> None:
    assert batch_bytes(2_097_152) == LIBRDKAFKA_BATCH_BYTES


def test_a_batch_holds_at_least_one_byte() -> None:
    assert batch_bytes(0) == 1
