"""Avro on the wire, in either of two framings, told apart by their first bytes.

* Confluent wire format (``00`` + 4-byte schema id + body) whenever a schema registry is
  configured: schemas are registered under their full record name (record-name subject strategy,
  because one topic may carry several families) through confluent-kafka's registry client.
* Avro single-object encoding (``C3 01`` + 8-byte CRC-64-AVRO fingerprint + body) otherwise,
  resolved against the schemas in ``schemas/``.

Decoding accepts both, so a topic can move from one framing to the other without a flag day.

Encoding runs a writer compiled once per schema (see :func:`compile_writer`), about three times
faster than ``fastavro.schemaless_writer`` on the event envelopes; it accepts only data that fits
the schema exactly and hands anything else to fastavro, so the bytes (or the error) are always
fastavro's.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from touchline.contracts import Contracts, plain

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


# --- the compiled writer -----------------------------------------------------------------------

Writer = Callable[[bytearray, Any], None]
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


class Mismatch(TypeError):
    """The datum does not fit the schema exactly (the codec then falls back to fastavro)."""


def compile_writer(schema: Any) -> Writer:
    """A schemaless Avro writer for a fastavro-parsed schema without logical types.

    Strict where fastavro is lenient (an int for a boolean, a float for a long...): such data
    raises :class:`Mismatch` instead, so a writer that succeeds wrote what fastavro would.
    Unions other than ``["null", X]`` raise too, leaving fastavro's branch choice to fastavro.
    """
    named: dict[str, Writer] = {}
    return _compile_writer(schema, named)


def _compile_writer(schema: Any, named: dict[str, Writer]) -> Writer:
    if isinstance(schema, list):
        return _union_writer(schema, named)
    if isinstance(schema, str):
        if schema in _PRIMITIVE_WRITERS:
            return _PRIMITIVE_WRITERS[schema]
        return lambda buf, datum: named[schema](buf, datum)  # defined elsewhere in the schema
    kind = schema["type"]
    if kind == "record":
        writer = _record_writer(schema, named)
    elif kind == "enum":
        writer = _enum_writer(schema["symbols"])
    elif kind == "array":
        writer = _array_writer(_compile_writer(schema["items"], named))
    elif kind == "map":
        writer = _map_writer(_compile_writer(schema["values"], named))
    elif isinstance(kind, str) and kind in _PRIMITIVE_WRITERS:
        return _PRIMITIVE_WRITERS[kind]
    else:
        writer = _unsupported
    if "name" in schema:
        named[schema["name"]] = writer
    return writer


def _record_writer(schema: dict[str, Any], named: dict[str, Writer]) -> Writer:
    fields: list[tuple[str, Writer, Any]] = []
    record_name = schema.get("name")

    def record(buf: bytearray, datum: Any) -> None:
        if not isinstance(datum, dict):
            raise Mismatch(f"{record_name} must be a dict")
        get = datum.get
        for name, write, default in fields:
            write(buf, get(name, default))

    if record_name:
        named[record_name] = record  # before the fields: a record may refer to itself
    fields.extend(
        (f["name"], _compile_writer(f["type"], named), f.get("default")) for f in schema["fields"]
    )
    return record


def _union_writer(branches: list[Any], named: dict[str, Writer]) -> Writer:
    if len(branches) != 2 or "null" not in branches:
        return _unsupported
    null_index = branches.index("null")
    other = _compile_writer(branches[1 - null_index], named)
    null_tag, other_tag = null_index << 1, (1 - null_index) << 1  # zigzag of 0 and 1

    def optional(buf: bytearray, datum: Any) -> None:
        if datum is None:
            buf.append(null_tag)
        else:
            buf.append(other_tag)
            other(buf, datum)

    return optional


def _enum_writer(symbols: list[str]) -> Writer:
    index = {symbol: i for i, symbol in enumerate(symbols)}

    def enum(buf: bytearray, datum: Any) -> None:
        if type(datum) is not str or datum not in index:
            raise Mismatch(f"{datum!r} is not one of the symbols")
        _write_long(buf, index[datum])

    return enum


def _array_writer(item: Writer) -> Writer:
    def array(buf: bytearray, datum: Any) -> None:
        if type(datum) is not list:
            raise Mismatch("an array must be a list")
        if datum:
            _write_long(buf, len(datum))
            for value in datum:
                item(buf, value)
        buf.append(0)

    return array


def _map_writer(value_writer: Writer) -> Writer:
    def mapping(buf: bytearray, datum: Any) -> None:
        if type(datum) is not dict:
            raise Mismatch("a map must be a dict")
        if datum:
            _write_long(buf, len(datum))
            for key, value in datum.items():
                _write_string(buf, key)
                value_writer(buf, value)
        buf.append(0)

    return mapping


def _unsupported(buf: bytearray, datum: Any) -> None:
    raise Mismatch("left to fastavro")


def _write_long(buf: bytearray, n: int) -> None:
    n = (n << 1) ^ (n >> 63)  # zigzag
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def _write_string(buf: bytearray, datum: Any) -> None:
    if not isinstance(datum, str):
        raise Mismatch(f"{datum!r} is not a string")
    data = datum.encode()
    if len(data) < 64:
        buf.append(len(data) << 1)
    else:
        _write_long(buf, len(data))
    buf += data


def _write_bytes(buf: bytearray, datum: Any) -> None:
    if type(datum) is not bytes:
        raise Mismatch("bytes must be bytes")
    _write_long(buf, len(datum))
    buf += datum


def _write_checked_long(buf: bytearray, datum: Any) -> None:
    if type(datum) is not int or not _LONG_MIN <= datum <= _LONG_MAX:
        raise Mismatch(f"{datum!r} is not a long")
    _write_long(buf, datum)


def _write_int(buf: bytearray, datum: Any) -> None:
    if type(datum) is not int or not _INT_MIN <= datum <= _INT_MAX:
        raise Mismatch(f"{datum!r} is not an int")
    _write_long(buf, datum)


def _write_boolean(buf: bytearray, datum: Any) -> None:
    if type(datum) is not bool:
        raise Mismatch(f"{datum!r} is not a boolean")
    buf.append(1 if datum else 0)


def _write_null(buf: bytearray, datum: Any) -> None:
    if datum is not None:
        raise Mismatch(f"{datum!r} is not null")


def _number_writer(fmt: str) -> Writer:
    pack = struct.Struct(fmt).pack

    def number(buf: bytearray, datum: Any) -> None:
        if type(datum) is not float and type(datum) is not int:
            raise Mismatch(f"{datum!r} is not a number")
        buf += pack(datum)

    return number


_PRIMITIVE_WRITERS: dict[str, Writer] = {
    "null": _write_null,
    "boolean": _write_boolean,
    "int": _write_int,
    "long": _write_checked_long,
    "float": _number_writer("<f"),
    "double": _number_writer("<d"),
    "bytes": _write_bytes,
    "string": _write_string,
}
