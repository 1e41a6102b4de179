"""The codec's compiled Avro writer must write exactly what fastavro writes, for every schema."""

from __future__ import annotations

import io
import random
from typing import Any

import fastavro
import pytest

from producers.events import Prepared, prepare
from synthetic import GeneratorConfig, generate
from touchline.codec import Codec, Mismatch, compile_writer
from touchline.contracts import load
from touchline.settings import REPO_ROOT

CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
TEXTS = ["", "a", "Zürich ☕", "x" * 63, "y" * 64, "z" * 300, "日本語" * 30]
LONGS = [0, 1, -1, 63, 64, -64, -65, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 1_795_428_000_000]


def fastavro_bytes(schema: Any, datum: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, datum)
    return buf.getvalue()


def compiled_bytes(schema: Any, datum: Any) -> bytes:
    buf = bytearray()
    compile_writer(schema)(buf, datum)
    return bytes(buf)


def random_datum(schema: Any, rnd: random.Random, named: dict[str, Any]) -> Any:
    """A random datum that fits ``schema`` (a fastavro-parsed schema without logical types)."""
    if isinstance(schema, list):
        return random_datum(rnd.choice(schema), rnd, named)
    if isinstance(schema, str):
        if schema in named:
            return random_datum(named[schema], rnd, named)
        return {
            "null": lambda: None,
            "boolean": lambda: rnd.random() < 0.5,
            "int": lambda: rnd.choice([v for v in LONGS if -(2**31) <= v < 2**31]),
            "long": lambda: rnd.choice(LONGS),
            "float": lambda: rnd.choice([0.0, 1.5, -2.25]),
            "double": lambda: rnd.choice([0.0, 1e300, -3.5, 7]),
            "bytes": lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(80))),
            "string": lambda: rnd.choice(TEXTS),
        }[schema]()
    if "name" in schema:
        named[schema["name"]] = schema
    kind = schema["type"]
    if kind == "record":
        return {f["name"]: random_datum(f["type"], rnd, named) for f in schema["fields"]}
    if kind == "enum":
        return rnd.choice(schema["symbols"])
    if kind == "array":
        return [random_datum(schema["items"], rnd, named) for _ in range(rnd.randrange(4))]
    if kind == "map":
        return {
            rnd.choice(TEXTS) + str(i): random_datum(schema["values"], rnd, named)
            for i in range(rnd.randrange(4))
        }
    return random_datum(kind, rnd, named)


@pytest.mark.parametrize("name", sorted(CONTRACTS.parsed))
def test_random_data_of_every_schema_is_written_as_fastavro_writes_it(name: str) -> None:
    schema = CONTRACTS.parsed[name]
    rnd = random.Random(name)
    for _ in range(200):
        datum = random_datum(schema, rnd, {})
        assert compiled_bytes(schema, datum) == fastavro_bytes(schema, datum)


def test_generated_events_of_every_family_encode_as_with_fastavro() -> None:
    generated = generate(GeneratorConfig(clients=200, seed=11))
    families = set()
    for event in generated.events:
        prepared = prepare(CONTRACTS, event, received_at=1)
        if not isinstance(prepared, Prepared):
            continue
        name = prepared.family.name
        families.add(name)
        expected = fastavro_bytes(CONTRACTS.parsed[name], prepared.datum)
        assert compiled_bytes(CONTRACTS.parsed[name], prepared.datum) == expected  # no fallback
        assert CODEC.encode(name, prepared.datum) == CODEC.header(name) + expected
    assert len(families) >= 5


def test_missing_fields_take_the_schema_default() -> None:
    schema = fastavro.parse_schema(
        {
            "type": "record",
            "name": "R",
            "fields": [
                {"name": "s", "type": "string", "default": "dd"},
                {"name": "m", "type": {"type": "map", "values": "long"}, "default": {}},
                {"name": "o", "type": ["null", "string"], "default": None},
            ],
        }
    )
    assert compiled_bytes(schema, {}) == fastavro_bytes(schema, {})


BOOL = fastavro.parse_schema(
    {"type": "record", "name": "B", "fields": [{"name": "x", "type": "boolean"}]}
)
OPT_INT = fastavro.parse_schema(
    {"type": "record", "name": "I", "fields": [{"name": "x", "type": ["null", "int"]}]}
)


@pytest.mark.parametrize(
    ("schema", "datum"),
    [
        (BOOL, {"x": 1}),  # fastavro writes truthiness; the compiled writer refuses
        (BOOL, {"x": "yes"}),
        (OPT_INT, {"x": 2**40}),  # outside int: fastavro refuses the union
        (OPT_INT, {"x": True}),
        (OPT_INT, {"x": "1"}),
    ],
)
def test_inexact_data_is_refused_by_the_compiled_writer(schema: Any, datum: Any) -> None:
    with pytest.raises(Mismatch):
        compiled_bytes(schema, datum)


def test_the_codec_hands_inexact_data_to_fastavro() -> None:
    name = "touchline.events.DeadLetter"
    datum = {
        "failed_at": 1,
        "stage": "ingest",
        "reason": "r",
        "topic": None,
        "partition": None,
        "offset": None,
        "original": bytearray(b"raw"),  # fastavro accepts a bytearray, the compiled writer not
    }
    assert CODEC.decode(CODEC.encode(name, datum))[1]["original"] == b"raw"
    with pytest.raises((TypeError, ValueError)):
        CODEC.encode(name, {**datum, "failed_at": "yesterday"})
