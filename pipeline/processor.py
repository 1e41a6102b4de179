"""One raw Kafka record in, an enriched event (or a dead letter) out. No Faust here, so the
whole path is testable without a broker; the Faust agent in ``pipeline.app`` only moves bytes."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from pipeline.store import ClientStore
from touchline.codec import Codec, DecodeError
from touchline.contracts import DEAD_LETTER, ENRICHED


@dataclass(frozen=True)
class Output:
    enriched: tuple[bytes, bytes] | None = None  # key, value
    dead_letter: bytes | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


class Processor:
    def __init__(self, codec: Codec, store: ClientStore) -> None:
        self.codec = codec
        self.store = store

    def dead_letter(
        self,
        stage: str,
        reason: str,
        original: bytes,
        topic: str | None,
        partition: int | None,
        offset: int | None,
    ) -> Output:
        record = {
            "failed_at": now_ms(),
            "stage": stage,
            "reason": reason[:2000],
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "original": bytes(original),
        }
        return Output(dead_letter=self.codec.encode(DEAD_LETTER, record))

    async def handle(
        self,
        value: bytes | None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
    ) -> Output:
        original = value or b""
        try:
            name, datum = self.codec.decode(original)
        except DecodeError as exc:
            return self.dead_letter("decode", str(exc), original, topic, partition, offset)
        family = self.codec.contracts.families.get(name)
        if family is None:
            return self.dead_letter(
                "validate", f"{name} is not an event family", original, topic, partition, offset
            )
        envelope = datum["envelope"]
        if envelope["event_type"] not in family.event_types:
            return self.dead_letter(
                "validate",
                f"event_type {envelope['event_type']!r} is not a {name}",
                original,
                topic,
                partition,
                offset,
            )
        try:
            enriched = await self.enrich(name, datum)
        except Exception as exc:  # a bad event must never stop the worker
            return self.dead_letter(
                "enrich", f"{type(exc).__name__}: {exc}", original, topic, partition, offset
            )
        key = enriched["client_id"].encode()
        return Output(enriched=(key, self.codec.encode(ENRICHED, enriched)))

    async def enrich(self, family: str, datum: dict[str, Any]) -> dict[str, Any]:
        envelope = datum["envelope"]
        ids = envelope["ids"]
        web = envelope.get("web") or {}
        client = ids.get("cid") or ids.get("email") or ids.get("phone") or envelope["event_id"]
        _, touch_seq = await self.store.touch(client, envelope["event_id"])
        payload = {k: v for k, v in datum.items() if k != "envelope"}
        lines = [
            {
                "store_id": a.get("store_id"),
                "store_name": a.get("store_name"),
                "service_id": a.get("appointment_service_id"),
                "service_name": a.get("appointment_service_name"),
                "resource_id": a.get("worker_id"),
                "resource_name": a.get("resource_name"),
                "category": None,
                "quantity": 1,
                "amount_minor": 0,
            }
            for a in datum.get("appointments", [])
        ]
        return {
            "event_id": envelope["event_id"],
            "event_type": envelope["event_type"],
            "family": family,
            "occurred_at": envelope["occurred_at"],
            "received_at": envelope["received_at"],
            "processed_at": now_ms(),
            "source": envelope["source"],
            "account_id": envelope["account_id"],
            "location_id": envelope.get("location_id"),
            "client_id": client,
            "cid": ids.get("cid"),
            "email": ids.get("email"),
            "phone": ids.get("phone"),
            "session_id": ids.get("session_id"),
            "session_seq": 0,
            "session_started_at": None,
            "landing_page": web.get("landing_page"),
            "time_on_site_ms": 0,
            "channel": (web.get("utm_medium") or "direct").lower(),
            "utm_source": web.get("utm_source"),
            "utm_medium": web.get("utm_medium"),
            "utm_campaign": web.get("utm_campaign"),
            "utm_term": web.get("utm_term"),
            "utm_content": web.get("utm_content"),
            "click_id_type": None,
            "referrer_host": None,
            "page_url": web.get("page_url"),
            "device_type": "unknown",
            "is_touch": False,
            "is_contact": False,
            "touch_seq": touch_seq,
            "multichannel": False,
            "channels_before": [],
            "revenue_minor": 0,
            "currency": None,
            "lines": lines,
            "attributes": {},
            "payload_json": json.dumps(payload, sort_keys=True, default=str),
        }
