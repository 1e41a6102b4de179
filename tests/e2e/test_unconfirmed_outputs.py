"""No input is committed before Kafka confirmed what it caused, while the worker processes later
batches meanwhile (``TOUCHLINE_WORKER_BATCHES_IN_FLIGHT``, pipeline/inflight.py); and an output
Kafka refuses leaves its event exactly one outcome (pipeline/emission.py).

On the real broker, the enriched topic takes at most 100 kB per record batch, and the first event
carries 160 kB of incompressible text: its enriched output is refused. The padded event's visit
shares its landing page, so the outputs of the visit's other events are ~160 kB too.

1. With a dead-letter topic that takes no letter at all (100 bytes), their letters are refused
   too, so their batch's delivery fails while the batches after it deliver fine. Faust alone
   would commit past that input (it commits the first run of acknowledged offsets; see
   tests/unit/test_inflight.py): the worker must exit committing nothing at or past it. The
   topics' limits restored, a new worker delivers every event's output from what was left
   uncommitted.
2. With a dead-letter topic of 100 kB too, the worker goes on: the visit's events are
   dead-lettered with their originals, the padded one with as much of its original as fits, and
   no event is both dead-lettered and stored.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from pipeline.app import EXIT_UNDELIVERABLE
from producers.events import Prepared, prepare
from synthetic import booking_journeys
from tests.support import (
    all_values,
    drained,
    publish_raw,
    read_topic,
    set_max_message_bytes,
    touchline_process,
    wait_for,
)
from touchline import topics
from touchline.codec import Codec, DecodeError
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
LIMIT = 100_000
NO_LETTER = 100  # bytes: less than any dead letter, even without its original


def committed(s: Settings, topic: str) -> dict[int, int]:
    """The worker group's committed offset of each partition of ``topic`` (-1: none)."""
    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": s.worker_id})
    try:
        tps = [TopicPartition(topic, p) for p in range(s.topic_partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def padded_journeys(s: Settings, codec: Codec) -> tuple[set[str], Message]:
    """Publish the journeys, the first event padded to 160 kB; the sent ids and its message."""
    bootstrap = s.kafka_bootstrap or ""
    contracts = load_cached(s.schemas_dir)
    events = booking_journeys(clients=20, seed=5, account_id="acc-unconfirmed")
    events[0] = copy.deepcopy(events[0])  # a visitor's events share their web context
    web = events[0]["envelope"]["web"]
    web["landing_page"] += "?pad=" + secrets.token_hex(80_000)  # 160 kB, lz4 cannot shrink it
    prepared = [p for e in events if isinstance(p := prepare(contracts, e), Prepared)]
    sent = publish_raw(s, codec, prepared)
    raw = topics.raw(s, "booking")
    published = read_topic(bootstrap, raw, sum(p.family.topic == "booking" for p in prepared))
    (big,) = [m for m in published if len(m.value() or b"") > LIMIT]
    later = sum(1 for m in published if m.partition() == big.partition()
                and (m.offset() or 0) > (big.offset() or 0))  # fmt: skip
    assert later > 2 * s.worker_batch_size, "no batches after the refused one: nothing tested"
    return sent, big


def letter_key(codec: Codec, letter: dict[str, Any]) -> str:
    """The event id of a dead letter's original, or ``topic/partition/offset`` when only part of
    the original fit."""
    try:
        return str(codec.decode(letter["original"])[1]["envelope"]["event_id"])
    except (DecodeError, EOFError, ValueError):
        return f"{letter['topic']}/{letter['partition']}/{letter['offset']}"


def outcomes(s: Settings, codec: Codec) -> tuple[list[bytes], set[str], dict[str, Any]]:
    """The enriched topic's messages, the event ids stored, and the dead letters by event id.
    Read to the topic's end: outputs Kafka confirmed whose inputs were not committed are emitted
    again (the same bytes, pipeline/dedupe.py), so there may be more messages than events."""
    bootstrap = s.kafka_bootstrap or ""
    enriched = all_values(bootstrap, topics.enriched(s), s.topic_partitions)
    stored = {codec.decode(v)[1]["event_id"] for v in enriched}
    letters = [codec.decode(v)[1] for v in all_values(bootstrap, topics.dead_letter(s), 2)]
    lettered = {letter_key(codec, x): x for x in letters}
    assert len(lettered) == len(letters), "two letters of one event"
    return enriched, stored, lettered


def setup(live_settings: Settings, letter_limit: int) -> tuple[Settings, Codec]:
    s = live_settings.model_copy(update={"worker_batch_size": 10, "worker_batches_in_flight": 2})
    bootstrap = s.kafka_bootstrap or ""
    contracts = load_cached(s.schemas_dir)
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    set_max_message_bytes(bootstrap, [topics.enriched(s)], LIMIT)
    set_max_message_bytes(bootstrap, [topics.dead_letter(s)], letter_limit)
    return s, Codec(contracts, s.schema_registry_url)


def test_no_input_is_committed_at_or_past_one_whose_outputs_kafka_refused(
    live_settings: Settings, tmp_path: Path
) -> None:
    s, codec = setup(live_settings, NO_LETTER)
    bootstrap = s.kafka_bootstrap or ""
    sent, big = padded_journeys(s, codec)
    raw = topics.raw(s, "booking")
    log = tmp_path / "worker-1.log"
    with touchline_process(s, "worker", log=log) as worker:
        # The worker exits at the refusal (EX_SOFTWARE), committing nothing more.
        assert worker.wait(timeout=90) == EXIT_UNDELIVERABLE, log.read_text()[-3000:]
        assert "dead letters refused by Kafka" in log.read_text()
    time.sleep(2)  # any commit it had sent has landed
    offsets = committed(s, raw)
    assert offsets[big.partition() or 0] <= (big.offset() or 0), (
        f"committed {offsets} past offset {big.offset()} of partition {big.partition()}, "
        "whose outputs Kafka refused"
    )

    set_max_message_bytes(
        bootstrap, [topics.enriched(s), topics.dead_letter(s)], s.kafka_max_message_bytes
    )
    contracts = load_cached(s.schemas_dir)
    with touchline_process(s, "worker", log=tmp_path / "worker-2.log"):
        wait_for(lambda: drained(s, {s.worker_id: topics.all_raw(s, contracts)}), 120, "drain")
    enriched, stored, lettered = outcomes(s, codec)
    print(f"{len(enriched)} outputs for {len(sent)} events")
    assert not lettered, "the dead-letter topic took no letter, yet holds some"
    assert sent <= stored, sent - stored


def test_an_output_kafka_refuses_leaves_its_event_one_outcome_and_the_worker_going(
    live_settings: Settings, tmp_path: Path
) -> None:
    s, codec = setup(live_settings, LIMIT)
    sent, big = padded_journeys(s, codec)
    contracts = load_cached(s.schemas_dir)
    log = tmp_path / "worker.log"
    raw = {s.worker_id: topics.all_raw(s, contracts)}
    with touchline_process(s, "worker", log=log) as worker:
        wait_for(lambda: worker.poll() is not None or drained(s, raw), 120, "drain or exit")
        assert worker.poll() is None, log.read_text()[-3000:]
    enriched, stored, lettered = outcomes(s, codec)
    print(f"{len(enriched)} outputs for {len(sent)} events, {len(lettered)} dead-lettered")
    # Kafka refuses a whole record batch over the limit: outputs batched with the oversize one
    # would come back refused too and their inputs be dead-lettered (pipeline/app.py sizes the
    # producer's batches from the topics' limits). Only outputs over the limit are refused.
    sizes = [
        int(m.group(1))
        for x in lettered.values()
        if (m := re.search(r"\((\d+) bytes\)", x["reason"]))
    ]
    assert sizes and not [n for n in sizes if n <= LIMIT], (
        f"outputs of {sorted(sizes)} bytes refused"
    )
    big_id = codec.decode(big.value() or b"")[1]["envelope"]["event_id"]
    cut = lettered.pop(f"{big.topic()}/{big.partition()}/{big.offset()}")
    assert "original truncated to" in cut["reason"], cut["reason"]
    assert not [x for x in lettered.values() if "truncated" in x["reason"]]
    lettered[big_id] = cut
    both = stored & set(lettered)
    assert not both, f"{len(both)} events both stored and dead-lettered: {sorted(both)[:3]}"
    assert sent == stored | set(lettered), sent - stored - set(lettered)
    assert len(lettered) > 1  # the visit's other events, with their whole originals
