"""JSON Schema of the events the ingest API takes, derived at runtime from the ``.avsc`` contracts.

The Avro schemas stay the one definition of every field: this module only translates them, with
the leniency of :mod:`touchline.validation` (union values bare, ``timestamp-millis`` as an integer
or an ISO-8601 string, fields with a default optional). The envelope fields the server fills
(``received_at``, ``event_id``, ``account_id`` with a bound write key) are optional, and each
family's ``envelope.event_type`` is the enum of its ``touchline.event_types``, so exactly one family
matches an event. The result is JSON Schema 2020-12 as OpenAPI 3.1 embeds it.
"""

from __future__ import annotations

from typing import Any

from touchline.contracts import Contracts, Family

SERVER_FILLED = frozenset({"received_at", "event_id", "account_id"})
_PRIMITIVES: dict[str, dict[str, Any]] = {
    "null": {"type": "null"},
    "boolean": {"type": "boolean"},
    "int": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    "long": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
    "float": {"type": "number"},
    "double": {"type": "number"},
    "string": {"type": "string"},
    "bytes": {"type": "string"},
}
_TIMESTAMP: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}],
    "description": "epoch milliseconds, or ISO-8601 with a UTC offset",
}


def _full_name(node: dict[str, Any], namespace: str | None) -> tuple[str, str | None]:
    name = str(node["name"])
    ns = node.get("namespace", namespace)
    return (name if "." in name or not ns else f"{ns}.{name}"), ns


class _Deriver:
    """Walks an Avro schema; named types met once are reused by full or short name."""

    def __init__(self, raw: dict[str, dict[str, Any]]) -> None:
        self.named: dict[str, tuple[dict[str, Any], str | None]] = {
            name: (schema, schema.get("namespace")) for name, schema in raw.items()
        }

    def derive(self, node: Any, namespace: str | None = None) -> dict[str, Any]:
        if isinstance(node, list):
            return {"anyOf": [self.derive(branch, namespace) for branch in node]}
        if isinstance(node, str):
            return self._reference(node, namespace)
        kind = node.get("type")
        if isinstance(kind, list | dict):
            return self.derive(kind, namespace)
        if kind == "long" and node.get("logicalType") == "timestamp-millis":
            return dict(_TIMESTAMP)
        if kind in ("record", "enum", "fixed"):
            full, ns = _full_name(node, namespace)
            self.named[full] = (node, ns)
            self.named.setdefault(full.rsplit(".", 1)[-1], (node, ns))
            return self._named(node, ns)
        if kind == "array":
            return {"type": "array", "items": self.derive(node["items"], namespace)}
        if kind == "map":
            values = self.derive(node["values"], namespace)
            return {"type": "object", "additionalProperties": values}
        return self._reference(str(kind), namespace)

    def _reference(self, name: str, namespace: str | None) -> dict[str, Any]:
        if name in _PRIMITIVES:
            return dict(_PRIMITIVES[name])
        found = self.named.get(f"{namespace}.{name}") or self.named.get(name)
        if found is None:
            raise ValueError(f"unknown Avro type {name!r}")
        return self._named(*found)

    def _named(self, node: dict[str, Any], namespace: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"title": str(node["name"])}
        if node.get("doc"):
            out["description"] = node["doc"]
        if node["type"] == "enum":
            return {**out, "type": "string", "enum": list(node["symbols"])}
        if node["type"] == "fixed":
            return {**out, "type": "string"}
        properties = {}
        for f in node["fields"]:
            properties[f["name"]] = self.derive(f["type"], namespace)
            if f.get("doc"):
                properties[f["name"]]["description"] = f["doc"]
        required = [f["name"] for f in node["fields"] if "default" not in f]
        return {
            **out,
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": False,
        }


def avro_to_json_schema(schema: Any, raw: dict[str, dict[str, Any]] | None = None) -> Any:
    """The JSON Schema of data :func:`touchline.validation.coerce` accepts for ``schema``;
    ``raw``: named schemas (by full name) that ``schema`` may reference."""
    return _Deriver(raw or {}).derive(schema)


def family_schema(contracts: Contracts, family: Family) -> dict[str, Any]:
    """One family's event as the API takes it (server-filled envelope fields optional)."""
    schema = avro_to_json_schema(contracts.raw[family.name], contracts.raw)
    envelope = schema["properties"]["envelope"]
    envelope["required"] = [f for f in envelope["required"] if f not in SERVER_FILLED]
    envelope["properties"]["event_type"] = {"type": "string", "enum": list(family.event_types)}
    assert isinstance(schema, dict)
    return schema


def request_body(contracts: Contracts, max_batch_events: int) -> dict[str, Any]:
    """``POST /v1/events``: one event of any family, or a batch of them."""
    event = {
        "oneOf": [
            family_schema(contracts, family)
            for _, family in sorted(contracts.families.items())
            if family.event_types
        ]
    }
    batch = {"type": "array", "items": event, "minItems": 1, "maxItems": max_batch_events}
    return {"oneOf": [event, batch]}
