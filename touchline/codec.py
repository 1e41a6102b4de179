"""Avro on the wire, in either of two framings, told apart by their first bytes.

* Confluent wire format (``00`` + 4-byte schema id + body) whenever a schema registry is
  configured: schemas are registered under their full record name (record-name subject strategy,
  because one topic may carry several families) through confluent-kafka's registry client.
* Avro single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body) otherwise,
  resolved against the schemas in ``schemas/``.

Decoding accepts both, so a topic can move from one framing to the other without a flag day.

Encoding runs a writer generated once per schema (:mod:`touchline.avro_writer`), over twice as
fast as ``fastavro.schemaless_writer`` on the enriched events; it accepts only data that
fits the schema exactly and hands anything else to fastavro, so the bytes (or the error) are
always fastavro's.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from touchline.avro_writer import Mismatch, compile_writer
from touchline.contracts import Contracts, plain

__all__ = ["Codec", "DecodeError", "Mismatch", "compile_writer", "schema_fingerprint"]

SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = b"\x00"


class DecodeError(ValueError):
    """The bytes are not an event Touchline can read; the message says why."""


def schema_fingerprint(parsed: Any) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


class Codec:
    def __init__(self, contracts: Contracts, registry_url: str | None = None) -> None:
        self.contracts = contracts
        self._by_fingerprint: dict[bytes, tuple[str, Any]] = {}
        self._header: dict[str, bytes] = {}
        for name, parsed in contracts.parsed.items():
            fp = schema_fingerprint(parsed)
            self._by_fingerprint[fp] = (name, parsed)
            self._header[name] = SINGLE_OBJECT_MAGIC + fp
        self._writers = {name: compile_writer(parsed) for name, parsed in contracts.parsed.items()}
        self._registry: Any = None
        self._by_id: dict[int, tuple[str, Any]] = {}
        if registry_url:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            self._registry = SchemaRegistryClient({"url": registry_url})
            self._header = {}

    @property
    def framing(self) -> str:
        return "confluent" if self._registry is not None else "single-object"

    def header(self, name: str) -> bytes:
        header = self._header.get(name)
        if header is None:
            header = self._register(name)
        return header

    def _register(self, name: str) -> bytes:
        from confluent_kafka.schema_registry import Schema

        if name not in self.contracts.parsed:
            raise KeyError(f"no schema named {name}")
        text = json.dumps(self.contracts.expanded[name])
        schema_id = int(self._registry.register_schema(name, Schema(text, "AVRO")))
        self._by_id[schema_id] = (name, self.contracts.parsed[name])
        header = CONFLUENT_MAGIC + struct.pack(">I", schema_id)
        self._header[name] = header
        return header

    def encode(self, name: str, datum: dict[str, Any]) -> bytes:
        header = self.header(name)
        out = bytearray(header)
        try:
            self._writers[name](out, datum)
            return bytes(out)
        except Exception:  # not an exact fit (or an unsupported type): fastavro decides
            pass
        buf = io.BytesIO()
        buf.write(header)
        fastavro.schemaless_writer(buf, self.contracts.parsed[name], datum)
        return buf.getvalue()

    def decode(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Return ``(schema full name, datum)`` or raise :class:`DecodeError`."""
        if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
            found = self._by_fingerprint.get(bytes(data[2:10]))
            if found is None:
                raise DecodeError(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
            offset = 10
        elif data[:1] == CONFLUENT_MAGIC and len(data) >= 5:
            found = self._writer_by_id(struct.unpack(">I", data[1:5])[0])
            offset = 5
        else:
            raise DecodeError("not Avro single-object or Confluent framed data")
        name, writer = found
        reader = self.contracts.parsed.get(name, writer)
        try:
            datum = fastavro.schemaless_reader(io.BytesIO(data[offset:]), writer, reader)
        except Exception as exc:  # fastavro raises many types on corrupt bodies
            raise DecodeError(f"corrupt Avro body for {name}: {exc}") from exc
        if not isinstance(datum, dict):
            raise DecodeError(f"{name} did not decode to a record")
        return name, datum

    def _writer_by_id(self, schema_id: int) -> tuple[str, Any]:
        found = self._by_id.get(schema_id)
        if found is not None:
            return found
        if self._registry is None:
            raise DecodeError(
                f"Confluent-framed data (schema id {schema_id}) but no schema registry configured"
            )
        try:
            schema = self._registry.get_schema(schema_id)
        except Exception as exc:
            raise DecodeError(f"schema id {schema_id} not found in the registry: {exc}") from exc
        raw = json.loads(schema.schema_str)
        name = raw["name"] if "." in raw["name"] else f"{raw.get('namespace', '')}.{raw['name']}"
        writer = fastavro.parse_schema(plain(raw))
        local = self.contracts.parsed.get(name)
        # The same schema as our contract: use our parsed object, so fastavro sees reader is
        # writer at once instead of comparing two big dicts on every read (half a decode's time).
        found = (name, local if local is not None and local == writer else writer)
        self._by_id[schema_id] = found
        return found
