"""Turn one JSON event into a validated contract datum, its family and its partition key. Pure."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from touchline.contracts import Contracts, Family
from touchline.validation import FieldError, coerce


@dataclass(frozen=True)
class Prepared:
    family: Family
    datum: dict[str, Any]
    key: bytes


def now_ms() -> int:
    return int(time.time() * 1000)


def partition_key(datum: dict[str, Any]) -> bytes:
    """The best client key, so one client's events keep their order within a partition."""
    ids = datum["envelope"]["ids"]
    for value in (ids.get("cid"), ids.get("email"), ids.get("phone")):
        if value:
            return str(value).strip().lower().encode()
    for system, value in sorted(ids.get("external_ids", {}).items()):
        return f"{system}:{value}".encode()
    return str(datum["envelope"]["event_id"]).encode()


def prepare(
    contracts: Contracts, event: Any, received_at: int | None = None
) -> Prepared | list[FieldError]:
    """Validate ``event`` against the family its ``envelope.event_type`` names.

    The server fills ``envelope.received_at``, and ``envelope.event_id`` when the sender gave none
    (senders that retry should send their own id: it is the idempotency key).
    """
    if not isinstance(event, dict):
        return [FieldError("$", "an event must be a JSON object")]
    envelope = event.get("envelope")
    if not isinstance(envelope, dict):
        return [FieldError("$.envelope", "is required and must be an object")]
    event_type = envelope.get("event_type")
    family = contracts.family_for(event_type) if isinstance(event_type, str) else None
    if family is None:
        return [FieldError("$.envelope.event_type", f"unknown event type {event_type!r}")]
    envelope = {**envelope, "received_at": received_at or now_ms()}
    if "event_id" not in envelope:
        envelope["event_id"] = str(uuid.uuid4())
    datum, errors = coerce(contracts.expanded[family.name], {**event, "envelope": envelope})
    if errors:
        return errors
    return Prepared(family=family, datum=datum, key=partition_key(datum))
