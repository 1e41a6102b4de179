"""The request bodies of ``POST /v1/sources/<name>`` as JSON Schema, derived from the adapters
themselves rather than retyped: each adapter converts minimal sample payloads while every field it
reads is recorded, nested, with the reader of ``producers.adapters.native`` that parsed it (so its
type is the set of values that reader accepts); a top-level field is required when the adapter
refuses a sample without it. Types are never narrower than what the adapter accepts, so a body
the schema calls invalid is one the API refuses.

Fields read without a typed reader (``data``, ``location``, arrays of line items) keep their
nested properties and no type of their own; unknown fields are allowed (adapters ignore them)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from producers.adapters import Convert
from producers.adapters.native import AdapterError
from touchline.contracts import BOOKING_STEP, Contracts

EVENT_BOOKING = "touchline.events.EventBooking"

READERS: dict[str, dict[str, Any]] = {
    "text": {"type": ["string", "number", "null"]},
    "integer": {
        "type": ["integer", "number", "string", "null"],
        "description": "An integer (or its decimal text).",
    },
    "boolean": {
        "type": ["boolean", "integer", "string", "null"],
        "description": 'true or false (also 1/0, "yes"/"no").',
    },
    "epoch_ms": {
        "type": ["integer", "string", "null"],
        "description": "Epoch milliseconds, an ISO-8601 time with a UTC offset, or a date.",
    },
    "minor_units": {
        "type": ["number", "string", "null"],
        "description": 'A decimal amount in major units (25.5 or "25.50").',
    },
}
PROBE_ACCOUNT = "probe"  # as a write key bound to an account: account_id is then optional


class _Node:
    """One field as the adapter read it: its reader, or the fields read inside it."""

    def __init__(self) -> None:
        self.reader: str | None = None
        self.children: dict[str, _Node] = {}
        self.array = False


class _Recording(dict[str, Any]):
    def __init__(self, data: dict[str, Any], node: _Node) -> None:
        super().__init__(data)
        self._node = node

    def get(self, key: str, default: Any = None) -> Any:
        child = self._node.children.setdefault(key, _Node())
        reader = sys._getframe(1).f_code.co_name  # the native reader that asked, if any
        if reader in READERS:
            child.reader = reader
        return _wrap(super().get(key, default), child)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)


def _wrap(value: Any, node: _Node) -> Any:
    if isinstance(value, dict):
        return _Recording(value, node)
    if isinstance(value, list):
        node.array = True
        return [_wrap(v, node) for v in value]
    return value


def _schema(node: _Node) -> dict[str, Any]:
    if node.reader is not None:
        return dict(READERS[node.reader])
    out: dict[str, Any] = {}
    if node.children:
        out = {
            "properties": {k: _schema(c) for k, c in node.children.items()},
            "additionalProperties": True,
        }
    return {"items": out} if node.array else out


def _required(convert: Convert, sample: dict[str, Any]) -> set[str]:
    """The top-level fields without which the adapter refuses ``sample``."""
    out = set()
    for key in sample:
        try:
            convert({k: v for k, v in sample.items() if k != key}, PROBE_ACCOUNT)
        except AdapterError:
            out.add(key)
    return out


def derived_body(convert: Convert, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The schema of the payloads ``convert`` reads, from what it reads of ``samples``."""
    root = _Node()
    for sample in samples:
        convert(_Recording(sample, root), PROBE_ACCOUNT)
        with suppress(AdapterError):  # unbound, the adapter reads the payload's account field
            convert(_Recording(sample, root), None)
    required = sorted(set.intersection(*(_required(convert, s) for s in samples)))
    properties = {k: _schema(c) for k, c in root.children.items()}
    for key in required:
        if "type" in properties[key]:
            properties[key]["type"] = [t for t in properties[key]["type"] if t != "null"]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": True,
    }


def _line_items(contracts: Contracts, family: str, field: str) -> dict[str, Any]:
    """The widget passes its line items on as they are (scalars as text) into the contract's
    ``field`` of ``family``: their fields are that record's, from the ``.avsc``."""
    (record,) = [f for f in contracts.expanded[family]["fields"] if f["name"] == field]
    properties = {
        f["name"]: {**READERS["text"], "description": f.get("doc", "")}
        for f in record["type"]["items"]["fields"]
    }
    return {"properties": properties, "additionalProperties": False}  # the contract refuses others


def booking_widget_body(contracts: Contracts) -> dict[str, Any]:
    from producers.adapters import booking_widget

    push = {"occurred_at": 1}
    body = derived_body(
        booking_widget.convert,
        [
            {**push, "event": "appointment_booking_step_summary", "appointments": [{}]},
            {**push, "event": booking_widget.GROUP_EVENT_BOOKING, "events": [{}]},
        ],
    )
    for field, family in (("appointments", BOOKING_STEP), ("events", EVENT_BOOKING)):
        body["properties"][field]["items"] = _line_items(contracts, family, field)
    return body


def studio_body(_contracts: Contracts) -> dict[str, Any]:
    """One sample per kind of record (appointment, class, membership, contract, client, order)."""
    from producers.adapters import studio

    records = {
        "appointment.scheduled": {"id": "a", "startDateTime": 1, "resources": [{"name": "r"}]},
        "class.booked": {"classId": "c"},
        "membership.activated": {"membershipId": "m"},
        "contract.created": {"contractId": "c"},
        "client.updated": {"id": "c"},
        "order.placed": {
            "orderId": "o",
            "currency": "EUR",
            "items": [{"itemId": "i", "type": "t"}],
        },
    }
    hook = {"id": "wh", "occurredAt": 1, "client": {"id": "c"}}
    body = derived_body(
        studio.convert, [{**hook, "type": kind, "data": data} for kind, data in records.items()]
    )
    body["properties"]["type"]["enum"] = list(studio.TYPES)
    return body


def call_tracking_body(_contracts: Contracts) -> dict[str, Any]:
    from producers.adapters import call_tracking

    return derived_body(
        call_tracking.convert, [{"call_id": "c", "start_time": 1, "location": {"city": "x"}}]
    )


BODIES: dict[str, Callable[[Contracts], dict[str, Any]]] = {
    "booking-widget": booking_widget_body,
    "studio": studio_body,
    "call-tracking": call_tracking_body,
}
