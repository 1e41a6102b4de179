"""`POST /v1/admin/erasures` for real (issue 12): two people processed by the worker's processor
into real Redis and stored in ClickHouse (chDB); an admin key erases one of them through the
ingest API, wired like `touchline ingest` (the CLI composes the stores' sides); nothing of theirs
is left, the other person is untouched, and the suppression topic holds their hashes."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import redis
from fastapi.testclient import TestClient

from cli.main import _privacy_sides
from pipeline.processor import Output, Processor, processor_config
from pipeline.store import ClientStore
from producers.api import create_app
from producers.events import Prepared, prepare
from sinks import clickhouse, rows
from tests.support import read_topic
from touchline import privacy, topics
from touchline.codec import Codec
from touchline.contracts import ENRICHED, load_cached
from touchline.settings import Settings
from touchline.suppression import keyed_hash, topic_name

T0 = 1_735_689_600_000


def _event(email: str, phone: str, at: int) -> dict[str, Any]:
    return {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "page_view",
            "occurred_at": at,
            "source": "web",
            "account_id": "acc",
            "ids": {"email": email, "phone": phone, "cid": f"1.{at}"},
            "web": {"page_url": "https://studio.example/?utm_source=google&utm_medium=cpc"},
        }
    }


def _store(s: Settings) -> None:
    """Both people through the processor (Redis) and into ClickHouse, as worker and sink do."""
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts)
    raws = []
    for i, (email, phone) in enumerate(
        [("ann@example.com", "+4930111111"), ("bob@example.com", "+4930222222")] * 2
    ):
        p = prepare(contracts, _event(email, phone, T0 + i * 60_000), T0)
        assert isinstance(p, Prepared)
        raws.append((codec.encode(p.family.name, p.datum), None, None, None))
    store = ClientStore.from_settings(s.redis_url or "", s)

    async def process() -> list[Output]:
        try:
            return await Processor(codec, store, processor_config(s)).handle_batch(raws)
        finally:
            await store.close()

    outputs = asyncio.run(process())
    batch = []
    for out in outputs:
        assert out.enriched is not None
        name, datum = codec.decode(out.enriched[1])
        assert name == ENRICHED
        batch.append(rows.to_row(datum))
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    clickhouse.migrate(client, s.clickhouse_database)
    clickhouse.insert_events(client, s.clickhouse_database, batch)


def _emails(s: Settings) -> list[str]:
    client = clickhouse.connect(s.effective_clickhouse_dsn)
    sql = f"SELECT email FROM `{s.clickhouse_database}`.events ORDER BY email"
    return [r[0] for r in client.query(sql).result_rows]


def test_an_admin_key_erases_a_person_through_the_ingest_api(
    chdb_settings: Settings, live_settings: Settings
) -> None:
    s = live_settings.model_copy(
        update={
            "clickhouse_dsn": chdb_settings.clickhouse_dsn,
            "admin_keys": {"adm": "acc"},
            "ingest_write_keys": {"w": "acc"},
        }
    )
    topics.ready(s)
    _store(s)
    assert _emails(s) == ["ann@example.com"] * 2 + ["bob@example.com"] * 2
    privacy.compose(_privacy_sides)  # what `touchline ingest` gets from the CLI
    contracts = load_cached(s.schemas_dir)
    app = create_app(s, contracts, Codec(contracts), s.kafka_bootstrap or "")
    with TestClient(app) as api:
        body = {"account": "acc", "phone": "030 111111"}  # national format, region DE
        denied = api.post("/v1/admin/erasures", json=body, headers={"Authorization": "Bearer w"})
        assert denied.status_code == 403
        resp = api.post("/v1/admin/erasures", json=body, headers={"Authorization": "Bearer adm"})
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert result["verified"] and result["clients"] == 1
    assert result["counts"]["clickhouse.events"] == 2 and result["counts"]["redis.removed"] > 0
    assert _emails(s) == ["bob@example.com"] * 2
    r = redis.Redis.from_url(s.redis_url or "")
    try:
        dump = [k.decode() for k in r.scan_iter(match=f"{s.topic_prefix}:*", count=10_000)]
        # identifiers own no key of their own: they are fields of the ids:<shard> hashes
        fields = [f for k in dump if ":ids:" in k for f in r.hkeys(k)]
        dump += [f.decode() if isinstance(f, bytes) else str(f) for f in fields]
        assert not [k for k in dump if "ann@" in k or "111111" in k]
        assert [k for k in dump if "bob@" in k]
    finally:
        r.close()
    published = read_topic(
        s.kafka_bootstrap or "", topic_name(s.topic_prefix), result["suppressed"], timeout=20
    )
    hashes = {m.key().decode() for m in published}
    assert len(hashes) == result["suppressed"] >= 4  # email, phone, cid, client id
    assert keyed_hash(s.privacy_key, "acc", "phone:+4930111111") in hashes
    assert keyed_hash(s.privacy_key, "acc", "email:bob@example.com") not in hashes
