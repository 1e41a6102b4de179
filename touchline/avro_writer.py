"""A schemaless Avro writer generated once per schema, for the codec's encode.

:func:`compile_writer` turns a fastavro-parsed schema into Python source, one function per named
type, each field's checks and bytes written inline (no call per field or per value), compiles it
once and returns the top function. Written out like this, an ``EnrichedEvent`` takes about 30 %
less time than with a writer made of one closure per field (12 µs against 17 measured), and less
than half of ``fastavro.schemaless_writer``'s (27 µs).

Strict where fastavro is lenient (an int for a boolean, a float for a long...): such data raises
:class:`Mismatch` instead, so a writer that succeeds wrote what fastavro would. Unions other than
``["null", X]``, fixed and anything else unusual raise too, leaving them to fastavro, which
:class:`touchline.codec.Codec` calls on any error; ``tests/unit/test_codec_writer.py`` compares
the bytes with fastavro's for random data of every schema.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

Writer = Callable[[bytearray, Any], None]
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


class Mismatch(TypeError):
    """The datum does not fit the schema exactly (the codec then falls back to fastavro)."""


def _fail(what: str) -> None:
    raise Mismatch(what)


def _write_long(buf: bytearray, n: int) -> None:
    n = (n << 1) ^ (n >> 63)  # zigzag
    while n > 0x7F:
        buf.append((n & 0x7F) | 0x80)
        n >>= 7
    buf.append(n)


def compile_writer(schema: Any) -> Writer:
    """The writer of ``schema`` (a fastavro-parsed schema; logical types are written as their
    underlying type, anything else goes to fastavro through :class:`Mismatch`)."""
    gen = _Source()
    top = gen.function_for(schema)
    namespace: dict[str, Any] = {
        **gen.constants,
        "Mismatch": Mismatch,
        "_fail": _fail,
        "_wl": _write_long,
        "_pack_f": struct.Struct("<f").pack,
        "_pack_d": struct.Struct("<d").pack,
        "LONG_MIN": LONG_MIN,
        "LONG_MAX": LONG_MAX,
        "INT_MIN": INT_MIN,
        "INT_MAX": INT_MAX,
    }
    exec(compile("\n".join(gen.lines), "<touchline avro writer>", "exec"), namespace)
    writer: Writer = namespace[top]
    return writer


class _Source:
    """The generated module: ``lines`` of source, ``constants`` it refers to by name."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, str] = {}  # schema name -> its function
        self.count = 0

    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def constant(self, value: Any) -> str:
        name = self.fresh("C")
        self.constants[name] = value
        return name

    def function_for(self, schema: Any) -> str:
        """The name of a function ``(buf, datum)`` writing ``schema``, generated if new."""
        if isinstance(schema, str) and schema in self.named:
            return self.named[schema]
        name = self.fresh("w")
        kind = schema.get("type") if isinstance(schema, dict) else None
        if kind in ("record", "enum") and "name" in schema:
            self.named[schema["name"]] = name  # before the body: a record may refer to itself
        body: list[str] = []
        if kind == "record":
            self.record_body(schema, body, "    ")
        elif kind == "enum":
            self.enum_body(schema["symbols"], body, "    ")
        else:
            self.emit(schema, "datum", body, "    ")
        self.lines += [f"def {name}(buf, datum):", "    append = buf.append", *body, ""]
        return name

    def emit(self, schema: Any, var: str, out: list[str], ind: str) -> None:
        """Append to ``out`` the statements writing the value in ``var``."""
        if isinstance(schema, list):
            self._union(schema, var, out, ind)
            return
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                _PRIMITIVES[schema](self, var, out, ind)
            elif schema in self.named:  # a named type defined earlier in the schema
                out.append(f"{ind}{self.named[schema]}(buf, {var})")
            else:
                out.append(f"{ind}_fail('left to fastavro')")
            return
        kind = schema.get("type")
        if kind in ("record", "enum"):
            out.append(f"{ind}{self.function_for(schema)}(buf, {var})")
        elif kind == "array":
            self._array(schema["items"], var, out, ind)
        elif kind == "map":
            self._map(schema["values"], var, out, ind)
        elif isinstance(kind, str) and kind in _PRIMITIVES:  # logical types: the underlying one
            _PRIMITIVES[kind](self, var, out, ind)
        else:
            out.append(f"{ind}_fail('left to fastavro')")

    def record_body(self, schema: dict[str, Any], out: list[str], ind: str) -> None:
        out += [f"{ind}if not isinstance(datum, dict):", f"{ind}    _fail('a record')"]
        out.append(f"{ind}get = datum.get")
        for field in schema["fields"]:
            value = self.fresh("v")
            default = field.get("default")
            fallback = "" if default is None else f", {self.constant(default)}"
            out.append(f"{ind}{value} = get({field['name']!r}{fallback})")
            self.emit(field["type"], value, out, ind)

    def enum_body(self, symbols: list[str], out: list[str], ind: str) -> None:
        index = self.constant({symbol: i for i, symbol in enumerate(symbols)})
        out += [
            f"{ind}if type(datum) is not str or datum not in {index}:",
            f"{ind}    _fail('not one of the symbols')",
            f"{ind}_wl(buf, {index}[datum])",
        ]

    def _union(self, branches: list[Any], var: str, out: list[str], ind: str) -> None:
        if len(branches) != 2 or "null" not in branches:
            out.append(f"{ind}_fail('left to fastavro')")
            return
        null_index = branches.index("null")
        out += [f"{ind}if {var} is None:", f"{ind}    append({null_index << 1})", f"{ind}else:"]
        out.append(f"{ind}    append({(1 - null_index) << 1})")
        self.emit(branches[1 - null_index], var, out, ind + "    ")

    def _array(self, items: Any, var: str, out: list[str], ind: str) -> None:
        item = self.fresh("i")
        out += [
            f"{ind}if type({var}) is not list:",
            f"{ind}    _fail('an array must be a list')",
            f"{ind}if {var}:",
            f"{ind}    _wl(buf, len({var}))",
            f"{ind}    for {item} in {var}:",
        ]
        self.emit(items, item, out, ind + "        ")
        out.append(f"{ind}append(0)")

    def _map(self, values: Any, var: str, out: list[str], ind: str) -> None:
        key, value = self.fresh("k"), self.fresh("m")
        out += [
            f"{ind}if type({var}) is not dict:",
            f"{ind}    _fail('a map must be a dict')",
            f"{ind}if {var}:",
            f"{ind}    _wl(buf, len({var}))",
            f"{ind}    for {key}, {value} in {var}.items():",
        ]
        _string(self, key, out, ind + "        ")
        self.emit(values, value, out, ind + "        ")
        out.append(f"{ind}append(0)")


def _string(gen: _Source, var: str, out: list[str], ind: str) -> None:
    data = gen.fresh("b")
    out += [
        f"{ind}if not isinstance({var}, str):",
        f"{ind}    _fail('not a string')",
        f"{ind}{data} = {var}.encode()",
        f"{ind}if len({data}) < 64:",
        f"{ind}    append(len({data}) << 1)",
        f"{ind}else:",
        f"{ind}    _wl(buf, len({data}))",
        f"{ind}buf += {data}",
    ]


def _long(gen: _Source, var: str, out: list[str], ind: str, low: str, high: str) -> None:
    z = gen.fresh("z")
    out += [
        f"{ind}if type({var}) is not int or not {low} <= {var} <= {high}:",
        f"{ind}    _fail('not a long or int')",
        f"{ind}if 0 <= {var} < 64:",
        f"{ind}    append({var} << 1)",
        f"{ind}else:",  # zigzag varint, as _write_long
        f"{ind}    {z} = ({var} << 1) ^ ({var} >> 63)",
        f"{ind}    while {z} > 0x7F:",
        f"{ind}        append(({z} & 0x7F) | 0x80)",
        f"{ind}        {z} >>= 7",
        f"{ind}    append({z})",
    ]


def _boolean(gen: _Source, var: str, out: list[str], ind: str) -> None:
    out += [
        f"{ind}if {var} is True:",
        f"{ind}    append(1)",
        f"{ind}elif {var} is False:",
        f"{ind}    append(0)",
        f"{ind}else:",
        f"{ind}    _fail('not a boolean')",
    ]


def _number(pack: str) -> Callable[[_Source, str, list[str], str], None]:
    def number(gen: _Source, var: str, out: list[str], ind: str) -> None:
        out += [
            f"{ind}if type({var}) is not float and type({var}) is not int:",
            f"{ind}    _fail('not a number')",
            f"{ind}buf += {pack}({var})",
        ]

    return number


def _bytes(gen: _Source, var: str, out: list[str], ind: str) -> None:
    out += [
        f"{ind}if type({var}) is not bytes:",
        f"{ind}    _fail('bytes must be bytes')",
        f"{ind}_wl(buf, len({var}))",
        f"{ind}buf += {var}",
    ]


_PRIMITIVES: dict[str, Callable[[_Source, str, list[str], str], None]] = {
    "null": lambda gen, var, out, ind: out.extend(
        [f"{ind}if {var} is not None:", f"{ind}    _fail('not null')"]
    ),
    "boolean": _boolean,
    "int": lambda gen, var, out, ind: _long(gen, var, out, ind, "INT_MIN", "INT_MAX"),
    "long": lambda gen, var, out, ind: _long(gen, var, out, ind, "LONG_MIN", "LONG_MAX"),
    "float": _number("_pack_f"),
    "double": _number("_pack_d"),
    "bytes": _bytes,
    "string": _string,
}
