"""No input is committed before Kafka confirmed what it caused, while the worker processes later
batches meanwhile (``TOUCHLINE_WORKER_BATCHES_IN_FLIGHT``, pipeline/inflight.py).

On the real broker, the enriched and dead-letter topics take at most 100 kB per record batch,
and the first event carries 160 kB of incompressible text: its enriched output is refused, and so
is its dead letter, so its batch's delivery fails, while the batches after it deliver fine. Faust
alone would commit past that input (it commits the first run of acknowledged offsets; see
tests/unit/test_inflight.py): the worker must exit committing nothing at or past it. The
topics' limits restored, a new worker delivers every event's output from what was left
uncommitted, except those of events the first worker dead-lettered (the padded event's visit
shares its landing page, so its other events' outputs are ~160 kB too; their letters fit) in a
batch whose delivery completed: every event ends stored or with a dead letter saying why.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

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
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.e2e
LIMIT = 100_000


def committed(s: Settings, topic: str) -> dict[int, int]:
    """The worker group's committed offset of each partition of ``topic`` (-1: none)."""
    consumer = Consumer({"bootstrap.servers": s.kafka_bootstrap, "group.id": s.worker_id})
    try:
        tps = [TopicPartition(topic, p) for p in range(s.topic_partitions)]
        return {tp.partition: tp.offset for tp in consumer.committed(tps, timeout=10)}
    finally:
        consumer.close()


def test_no_input_is_committed_at_or_past_one_whose_outputs_kafka_refused(
    live_settings: Settings, tmp_path: Path
) -> None:
    s = live_settings.model_copy(update={"worker_batch_size": 10, "worker_batches_in_flight": 2})
    bootstrap = s.kafka_bootstrap or ""
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    topics.ensure(bootstrap, topics.every(s, contracts), s.topic_partitions)
    narrow = [topics.enriched(s), topics.dead_letter(s)]
    set_max_message_bytes(bootstrap, narrow, LIMIT)
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

    log = tmp_path / "worker-1.log"
    with touchline_process(s, "worker", log=log) as worker:
        # The worker exits at the refusal (EX_SOFTWARE), committing nothing more.
        assert worker.wait(timeout=90) == EXIT_UNDELIVERABLE, log.read_text()[-3000:]
        assert "dead letters refused by Kafka" in log.read_text()
    time.sleep(2)  # any commit it had sent has landed
    # Kafka refuses a whole record batch over the limit: outputs batched with the oversize one
    # would come back refused too and their inputs be dead-lettered (pipeline/app.py sizes the
    # producer's batches from the topics' limits). Only outputs over the limit are refused.
    letters = [codec.decode(v)[1] for v in all_values(bootstrap, topics.dead_letter(s), 2)]
    sizes = [int(m.group(1)) for x in letters if (m := re.search(r"\((\d+) bytes\)", x["reason"]))]
    assert not [n for n in sizes if n <= LIMIT], f"outputs of {sorted(sizes)} bytes were refused"
    offsets = committed(s, raw)
    assert offsets[big.partition()] <= (big.offset() or 0), (
        f"committed {offsets} past offset {big.offset()} of partition {big.partition()}, "
        "whose outputs Kafka refused"
    )

    set_max_message_bytes(bootstrap, narrow, s.kafka_max_message_bytes)
    with touchline_process(s, "worker", log=tmp_path / "worker-2.log"):
        wait_for(lambda: drained(s, {s.worker_id: topics.all_raw(s, contracts)}), 120, "drain")
    # Read to the topic's end, not to len(sent) messages: outputs Kafka confirmed in the first
    # run whose inputs were not committed are emitted again (the same bytes, pipeline/dedupe.py),
    # so the topic may hold more messages than events and the first len(sent) may miss some.
    enriched = all_values(bootstrap, topics.enriched(s), s.topic_partitions)
    stored = {codec.decode(v)[1]["event_id"] for v in enriched}
    # The padded event's visit shares its landing page: the outputs of the visit's other events
    # are ~160 kB too. Those the first run dead-lettered (their small originals fit) in a batch
    # whose delivery completed are handled: not emitted again. Every event is stored or has a
    # dead letter saying why, and the padded one, whose letter could not fit, is stored.
    letters = [codec.decode(v)[1] for v in all_values(bootstrap, topics.dead_letter(s), 2)]
    lettered = {
        codec.decode(x["original"])[1]["envelope"]["event_id"]: x for x in letters if x["original"]
    }
    print(f"{len(enriched)} outputs for {len(sent)} events, {len(sent - stored)} dead-lettered")
    assert sent <= stored | set(lettered), sent - stored - set(lettered)
    assert all("refused by Kafka" in lettered[e]["reason"] for e in sent - stored)
    big_id = codec.decode(big.value())[1]["envelope"]["event_id"]
    assert big_id in stored and big_id not in lettered
