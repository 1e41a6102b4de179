"""The JSON Schema derived from the .avsc contracts: as lenient as validation, as strict as Avro."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest

from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from touchline.contracts import load_cached
from touchline.jsonschema import avro_to_json_schema, family_schema, request_body
from touchline.settings import Settings

CONTRACTS = load_cached(Settings().schemas_dir)
BODY = jsonschema_rs.validator_for(request_body(CONTRACTS, 500))


def test_primitives_unions_logical_types_and_defaults() -> None:
    record = {
        "type": "record",
        "name": "R",
        "namespace": "t",
        "fields": [
            {"name": "n", "type": "int"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "tag", "type": ["null", "string"], "default": None},
            {"name": "kind", "type": {"type": "enum", "name": "K", "symbols": ["a", "b"]}},
            {"name": "again", "type": ["null", "K"], "default": None},
            {"name": "m", "type": {"type": "map", "values": "double"}, "default": {}},
            {"name": "xs", "type": {"type": "array", "items": "t.K"}, "default": []},
        ],
    }
    schema = avro_to_json_schema(record)
    assert schema["required"] == ["n", "at", "kind"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["n"]["maximum"] == 2**31 - 1
    assert schema["properties"]["again"]["anyOf"][1]["enum"] == ["a", "b"]
    assert schema["properties"]["xs"]["items"]["enum"] == ["a", "b"]
    v = jsonschema_rs.validator_for(schema)
    assert v.is_valid({"n": 1, "at": 5, "kind": "a"})
    assert v.is_valid({"n": 1, "at": "2026-11-18T10:00:00+01:00", "kind": "b", "tag": None})
    assert not v.is_valid({"n": 1, "at": 5, "kind": "c"})
    assert not v.is_valid({"n": 2**31, "at": 5, "kind": "a"})
    assert not v.is_valid({"n": 1, "at": 5, "kind": "a", "extra": 1})
    assert not v.is_valid({"n": 1, "at": 5, "kind": "a", "m": {"x": "y"}})
    with pytest.raises(ValueError, match="unknown Avro type"):
        avro_to_json_schema({"type": "array", "items": "t.Nope"})


def test_each_family_names_its_event_types_and_the_server_fills_the_envelope() -> None:
    family = CONTRACTS.families["touchline.events.BookingStep"]
    schema = family_schema(CONTRACTS, family)
    envelope = schema["properties"]["envelope"]
    assert envelope["properties"]["event_type"]["enum"] == list(family.event_types)
    assert set(envelope["required"]) == {"event_type", "occurred_at", "source", "ids"}
    # Derived, not copied: every field of the Avro schema is there.
    assert set(schema["properties"]) == {f["name"] for f in family.schema["fields"]}


def test_every_event_validation_accepts_matches_the_request_body_schema() -> None:
    generated = generate(GeneratorConfig(clients=40, seed=3, malformed_share=0.0))
    accepted: list[Any] = [
        e for e in generated.events if isinstance(prepare(CONTRACTS, e, 1), Prepared)
    ]
    assert len(accepted) > 200
    families = {e["envelope"]["event_type"] for e in accepted}
    assert len(families) > 20
    for event in accepted:
        assert BODY.is_valid(event), event
    assert BODY.is_valid(accepted[:50])
    assert not BODY.is_valid([])
    assert not BODY.is_valid({"envelope": {"event_type": "teleport"}})
