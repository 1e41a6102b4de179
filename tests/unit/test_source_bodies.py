"""The OpenAPI request bodies of the booking-widget, studio and call-tracking routes are derived
from the adapters (the fields each reads, typed by the reader that parses them) and from the
contract's ``.avsc`` for the widget's line items: every field an adapter's own documentation names
is described, and what each route refuses without is required."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from producers.adapters import ADAPTERS
from tests.unit.test_adapters import CALL
from tests.unit.test_api import make_client

DOC_KEY = re.compile(r'"(\w+)":')
REQUIRED = {
    "booking-widget": ["event", "occurred_at"],
    "studio": ["data", "id", "occurredAt", "type"],
    "call-tracking": ["call_id", "start_time"],
}


def _body(name: str) -> dict[str, Any]:
    client, _ = make_client()
    spec = client.app.openapi()  # type: ignore[attr-defined]
    post = spec["paths"][f"/v1/sources/{name}"]["post"]
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert isinstance(schema, dict)
    return schema


def _names(schema: dict[str, Any]) -> Iterator[str]:
    for key, sub in schema.get("properties", {}).items():
        yield key
        yield from _names(sub)
    if "items" in schema:
        yield from _names(schema["items"])


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_source_body_describes_every_field_the_adapter_documents(name: str) -> None:
    body = _body(name)
    assert body["type"] == "object" and body["required"] == REQUIRED[name]
    documented = set(DOC_KEY.findall(ADAPTERS[name].doc))
    assert len(documented) > 8
    assert documented <= set(_names(body)), documented - set(_names(body))


def test_source_bodies_type_fields_by_their_reader_and_the_contract() -> None:
    studio = _body("studio")
    assert "order.placed" in studio["properties"]["type"]["enum"]
    data = studio["properties"]["data"]["properties"]
    assert "integer" in data["duration"]["type"] and "boolean" in data["autoRenew"]["type"]
    assert "major units" in data["totalValue"]["description"]
    assert "itemId" in data["items"]["items"]["properties"]
    call = _body("call-tracking")["properties"]
    assert set(CALL) <= set(call)  # the adapter tests' full call notification
    assert set(call["location"]["properties"]) == {"country", "region", "city"}
    assert "ISO-8601" in call["start_time"]["description"]
    widget = _body("booking-widget")["properties"]
    line = widget["appointments"]["items"]
    assert line["properties"]["store_id"]["description"] == "Id of the store (location)."
    assert line["additionalProperties"] is False  # the contract refuses unknown keys
    assert {"event_id", "event_title"} <= set(widget["events"]["items"]["properties"])
    assert {"account_id", "_ga", "utm_source", "gclid"} <= set(widget)
