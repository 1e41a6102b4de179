"""An event the door lets through but the topic refuses (over the topic's ``max.message.bytes``,
which Kafka tells only in the delivery report): never answered 2xx, and it does not take the
events batched with it (Kafka refuses whole record batches over the limit). The request is
answered 207 naming it with the reason, its original bytes are on the dead-letter topic, and the
events beside it are in Kafka. An ingest that answered before Kafka confirmed would say 202 here
and lose it."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
import pytest

from producers.api import IngestConfig, create_app
from producers.events import now_ms
from tests.support import all_values, serve, set_max_message_bytes
from touchline import batch_bytes, topics
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.integration
TOPIC_LIMIT = 20_000  # bytes: below the door's limit (ingest_max_event_bytes, 256 KiB)


def page_view(n: int, title: str = "Home") -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": f"00000000-0000-4000-8000-{n:012d}",
            "event_type": "page_view",
            "occurred_at": now_ms() - 1000,
            "source": "web",
            "account_id": "acc-refusal",
            "ids": {"cid": f"{n}.42"},
            "web": {"page_url": "https://studio.example/"},
        },
        "page_title": title,
    }


def test_an_event_the_topic_refuses_is_not_acknowledged(live_settings: Settings) -> None:
    s = live_settings
    bootstrap = s.kafka_bootstrap or ""
    contracts = load_cached(s.schemas_dir)
    raw, dead = topics.raw(s, "web"), topics.dead_letter(s)
    topics.ensure(bootstrap, [raw, dead], 2)
    set_max_message_bytes(bootstrap, [raw], TOPIC_LIMIT)
    # what the producers size their batches by (a topic not created yet has no limit to read)
    assert batch_bytes.topic_limits(bootstrap, [raw, s.topic("nothing")]) == {raw: TOPIC_LIMIT}
    batch = [page_view(n) for n in range(10)]
    # ~60 KB that no compression shrinks below the topic's limit: through the door, over the topic
    batch[4] = page_view(4, title=base64.b64encode(os.urandom(45_000)).decode())
    app = create_app(s, contracts, Codec(contracts), bootstrap, config=IngestConfig())
    with serve(app) as url:
        response = httpx.post(f"{url}/v1/events", json=batch, timeout=60)
    assert response.status_code == 207, response.text
    body = response.json()
    assert [r["index"] for r in body["rejected"]] == [4], body
    assert "MSG_SIZE_TOO_LARGE" in str(body["rejected"][0]), body
    codec = Codec(contracts)
    stored = [codec.decode(v)[1]["envelope"]["event_id"] for v in all_values(bootstrap, raw, 2)]
    expected = [e["envelope"]["event_id"] for i, e in enumerate(batch) if i != 4]
    assert sorted(stored) == sorted(expected)
    letters = [codec.decode(v)[1] for v in all_values(bootstrap, dead, 2)]
    assert [(x["stage"], batch[4]["envelope"]["event_id"].encode() in x["original"])
            for x in letters] == [("ingest", True)]  # fmt: skip
