"""Turn one JSON event into a validated contract datum, its family and its partition key. Pure.

Beyond the contract, ingest (API, adapters and ``touchline import``) enforces two limits here:

* **Event time**: ``envelope.occurred_at`` must be within ``[ingest_min_occurred_at,
  now + ingest_future_horizon_s]`` (default from 2000-01-01T00:00:00Z to 15 minutes ahead),
  see :func:`occurred_range`; outside it the event is refused whatever the horizon action.
* **Event size**: an event whose encoded Avro is over ``ingest_max_event_bytes`` (default 256 KiB)
  is refused, naming its largest string field, see :func:`too_large`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from touchline.clock import now_ms
from touchline.contracts import Contracts, Family
from touchline.identity import extract
from touchline.settings import default
from touchline.validation import FieldError, coerce


@dataclass(frozen=True)
class Prepared:
    family: Family
    datum: dict[str, Any]
    key: bytes


def parse_time_bound(value: str) -> int:
    """Epoch ms of a setting: epoch ms, or an ISO-8601 date or time (UTC unless offset given)."""
    raw = value.strip()
    if re.fullmatch(r"-?[0-9]{1,19}", raw):
        return int(raw)
    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def occurred_range(min_occurred_at: str, future_horizon_s: int, now: int) -> tuple[int, int]:
    """The valid ``envelope.occurred_at`` at ``now``: from the setting's bound to the horizon."""
    return parse_time_bound(min_occurred_at), now + future_horizon_s * 1000


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def check_occurred_at(datum: dict[str, Any], valid: tuple[int, int]) -> FieldError | None:
    """A refusal when the event's ``occurred_at`` is outside ``valid`` (inclusive bounds)."""
    occurred = datum["envelope"]["occurred_at"]
    low, high = valid
    if low <= occurred <= high:
        return None
    where = f"before {_iso(low)}" if occurred < low else "too far in the future"
    return FieldError(
        "$.envelope.occurred_at",
        f"is {where}: the valid event time range is {_iso(low)} .. {_iso(high)} "
        "(now + the future horizon)",
    )


def _strings(node: Any, path: str) -> Iterator[tuple[str, int]]:
    """``(path, UTF-8 size)`` of every string and bytes value below ``node`` (iteratively)."""
    stack = [(path, node)]
    while stack:
        here, value = stack.pop()
        if isinstance(value, str):
            yield here, len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, bytes):
            yield here, len(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                name = f"{here}.{k if len(str(k)) <= 64 else str(k)[:64] + '...'}"
                stack.append((name, v))
                yield f"{name} (the key)", len(str(k).encode("utf-8", "surrogatepass"))
        elif isinstance(value, list):
            stack.extend((f"{here}[{i}]", v) for i, v in enumerate(value))


def too_large(datum: dict[str, Any], size: int, limit: int) -> FieldError | None:
    """A refusal naming the largest string field when the encoded event is over ``limit``."""
    if size <= limit:
        return None
    path, largest = max(_strings(datum, "$"), key=lambda found: found[1], default=("$", 0))
    return FieldError(
        path,
        f"the event is {size} bytes encoded, over the {limit}-byte limit; "
        f"this field is its largest ({largest} bytes)",
    )


DEFAULT_PHONE_REGION: str = default("phone_region")


def partition_key(datum: dict[str, Any], phone_region: str = DEFAULT_PHONE_REGION) -> bytes:
    """The client's key, so one person's events keep their order within a partition: the first of
    web client id, email, phone, source-system id, normalised as the identity store names them
    (``GA1.2.111.222`` and ``111.222`` are one client id, ``(030) 555-0100`` is
    ``+49305550100``), so two spellings from two sources share a partition."""
    ids = extract(datum["envelope"]["ids"], phone_region)
    for value in (ids.cid, ids.email, ids.phone, *ids.external):
        if value:
            return value.encode()
    return str(datum["envelope"]["event_id"]).encode()


def prepare(
    contracts: Contracts,
    event: Any,
    received_at: int | None = None,
    occurred_within: tuple[int, int] | None = None,
    *,
    phone_region: str = DEFAULT_PHONE_REGION,
) -> Prepared | list[FieldError]:
    """Validate ``event`` against the family its ``envelope.event_type`` names.

    The server fills ``envelope.received_at``, and ``envelope.event_id`` when the sender gave none
    (senders that retry should send their own id: it is the idempotency key). With
    ``occurred_within`` (see :func:`occurred_range`), an ``occurred_at`` outside it is refused.
    ``phone_region`` (``TOUCHLINE_PHONE_REGION``) reads phone numbers without a country code for
    the partition key, as the worker does.
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
    if occurred_within is not None and (late := check_occurred_at(datum, occurred_within)):
        return [late]
    try:
        key = partition_key(datum, phone_region)
    except ValueError as exc:  # an identifier the identity store refuses (the worker would too)
        return [FieldError("$.envelope.ids.external_ids", str(exc))]
    return Prepared(family=family, datum=datum, key=key)
