"""The event contracts: the ``.avsc`` files under ``schemas/`` are the only definition of events.

Every family schema (``schemas/events/*.avsc``) is a record with an ``envelope`` field and two
custom attributes: ``touchline.topic`` (the Kafka topic of the family) and ``touchline.event_types``
(the ``event_type`` values it carries). Nothing here copies a field list: validation, defaults and
routing are all read off the schemas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import UnknownType

BOOKING_STEP = "touchline.events.BookingStep"
ENRICHED = "touchline.events.EnrichedEvent"
MERGE = "touchline.events.IdentityMerge"
SPLIT = "touchline.events.IdentitySplit"
DEAD_LETTER = "touchline.events.DeadLetter"


@dataclass(frozen=True)
class Family:
    """One family of events: its schema, topic and event types."""

    name: str  # full Avro name, e.g. touchline.events.BookingStep
    topic: str  # topic suffix, e.g. "booking"
    event_types: tuple[str, ...]
    schema: dict[str, Any]  # the raw JSON, with the custom attributes
    parsed: Any  # fastavro-parsed, self-contained


@dataclass(frozen=True)
class Contracts:
    families: dict[str, Family]  # by full name
    by_event_type: dict[str, Family]
    parsed: dict[str, Any]  # every named schema, parsed (logical types as plain), by full name
    raw: dict[str, dict[str, Any]]  # every schema file's JSON, by full name
    expanded: dict[str, dict[str, Any]]  # every schema's self-contained JSON, by full name

    def family_for(self, event_type: str) -> Family | None:
        return self.by_event_type.get(event_type)

    def schema(self, name: str) -> Any:
        return self.parsed[name]


def _full_name(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    ns = schema.get("namespace")
    return name if "." in name or not ns else f"{ns}.{name}"


def parse_all(raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Parse schemas that reference each other by full name into self-contained schemas."""
    out: dict[str, Any] = {}
    for name in raw:
        try:
            out[name] = fastavro.parse_schema(plain(expand(name, raw)))
        except (UnknownType, fastavro.schema.SchemaParseException) as exc:
            raise ValueError(f"schema {name} is invalid: {exc}") from exc
    return out


def plain(node: Any) -> Any:
    """Drop logical types: Touchline handles timestamps as epoch-ms ints and uuids as strings
    end to end, so fastavro must not turn them into datetime/UUID objects on read."""
    if isinstance(node, list):
        return [plain(n) for n in node]
    if isinstance(node, dict):
        return {k: plain(v) for k, v in node.items() if k != "logicalType"}
    return node


def expand(name: str, raw: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The schema's JSON with each named reference inlined at its first use."""
    result = _inline(raw[name], raw, set())
    assert isinstance(result, dict)
    return result


def _inline(node: Any, raw: dict[str, dict[str, Any]], seen: set[str]) -> Any:
    if isinstance(node, str):
        if node in raw and node not in seen:
            return _inline(raw[node], raw, seen)
        return node
    if isinstance(node, list):
        return [_inline(n, raw, seen) for n in node]
    if isinstance(node, dict):
        if node.get("type") in ("record", "enum", "fixed") and "name" in node:
            seen.add(_full_name(node))
        return {
            k: (_inline(v, raw, seen) if k in ("type", "items", "values", "fields") else v)
            for k, v in node.items()
        }
    return node


def load(schemas_dir: Path) -> Contracts:
    raw: dict[str, dict[str, Any]] = {}
    for path in sorted(schemas_dir.rglob("*.avsc")):
        try:
            schema = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON: {exc}") from exc
        raw[_full_name(schema)] = schema
    parsed = parse_all(raw)
    families: dict[str, Family] = {}
    by_type: dict[str, Family] = {}
    for name, schema in raw.items():
        if "touchline.topic" not in schema:
            continue
        fam = Family(
            name=name,
            topic=str(schema["touchline.topic"]),
            event_types=tuple(schema.get("touchline.event_types", ())),
            schema=schema,
            parsed=parsed[name],
        )
        families[name] = fam
        for event_type in fam.event_types:
            if event_type in by_type:
                raise ValueError(f"event type {event_type} is in two families")
            by_type[event_type] = fam
    return Contracts(
        families=families,
        by_event_type=by_type,
        parsed=parsed,
        raw=raw,
        expanded={name: expand(name, raw) for name in raw},
    )


@lru_cache(maxsize=4)
def load_cached(schemas_dir: Path) -> Contracts:
    return load(schemas_dir)


def family_topics(contracts: Contracts) -> list[str]:
    return sorted({f.topic for f in contracts.families.values()})
