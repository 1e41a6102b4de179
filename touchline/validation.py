"""Check a JSON-shaped event against its Avro schema and turn it into the Avro datum.

Pure: no I/O. Driven entirely by the schema's JSON, so the ``.avsc`` files stay the only definition
of every field. It is friendlier than Avro's JSON encoding on purpose, because browsers and webhooks
send plain JSON: union values are given bare (``"utm_source": "google"``, not
``{"string": "google"}``), missing fields take the schema default, and ``timestamp-millis`` fields
also accept ISO-8601 strings. Every problem is reported with its field path and a reason.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_PRIMITIVE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "bytes": (bytes, str),
}
_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_MISSING = object()


@dataclass(frozen=True)
class FieldError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def coerce(schema: Any, datum: Any, path: str = "") -> tuple[Any, list[FieldError]]:
    """Return ``(avro_datum, errors)``; the datum is only meaningful when ``errors`` is empty."""
    errors: list[FieldError] = []
    value = compiled(schema)(datum, path or "$", errors)
    return value, errors


Coercer = Callable[[Any, str, list[FieldError]], Any]
# Schemas live as long as the process (they come from the contracts), so compile each once.
_COMPILED: dict[int, tuple[Any, Coercer]] = {}


def compiled(schema: Any) -> Coercer:
    """The schema turned once into a tree of closures: no type dispatch per datum."""
    found = _COMPILED.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    fn = _compile(schema)
    _COMPILED[id(schema)] = (schema, fn)
    return fn


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema.get("type"))


def _bad(path: str, reason: str, errors: list[FieldError], datum: Any) -> Any:
    errors.append(FieldError(path, reason))
    return datum


def _compile(schema: Any) -> Coercer:
    if isinstance(schema, list):
        return _compile_union(schema)
    if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
        return _compile(schema["type"])
    kind = _type_name(schema)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if kind == "record":
        return _compile_record(schema)
    if kind == "enum":
        return _compile_enum(schema)
    if kind == "array":
        return _compile_array(schema)
    if kind == "map":
        return _compile_map(schema)
    if logical == "timestamp-millis" and kind == "long":
        return _timestamp
    if logical == "uuid" and kind == "string":
        return _uuid
    if kind in _INT_RANGE:
        return _compile_int(kind)
    if kind in ("float", "double"):
        return _number
    if kind == "null":
        return _null
    if kind in _PRIMITIVE_CHECKS:
        return _compile_primitive(kind)

    def unsupported(datum: Any, path: str, errors: list[FieldError]) -> Any:
        return _bad(path, f"schema type {kind!r} is not supported", errors, datum)

    return unsupported


def _compile_record(schema: dict[str, Any]) -> Coercer:
    fields: list[tuple[str, Coercer, bool, Any]] = [
        (f["name"], _compile(f["type"]), "default" in f, f.get("default")) for f in schema["fields"]
    ]
    known = frozenset(name for name, *_ in fields)

    def record(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(datum, dict):
            return _bad(path, "must be an object", errors, datum)
        out: dict[str, Any] = {}
        for name, fn, has_default, default in fields:
            value = datum.get(name, _MISSING)
            if value is _MISSING:
                if has_default:
                    out[name] = (
                        type(default)(default) if isinstance(default, list | dict) else default
                    )
                else:
                    errors.append(FieldError(f"{path}.{name}", "is required"))
                continue
            out[name] = fn(value, f"{path}.{name}", errors)
        if not known.issuperset(datum):
            for extra in sorted(set(datum) - known):
                errors.append(FieldError(f"{path}.{extra}", "is not a field of this event"))
        return out

    return record


def _compile_enum(schema: dict[str, Any]) -> Coercer:
    symbols = frozenset(schema["symbols"])
    reason = "must be one of: " + ", ".join(schema["symbols"])

    def enum(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(datum, str) or datum not in symbols:
            errors.append(FieldError(path, reason))
        return datum

    return enum


def _compile_array(schema: dict[str, Any]) -> Coercer:
    item = _compile(schema["items"])

    def array(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(datum, list):
            return _bad(path, "must be an array", errors, datum)
        return [item(v, f"{path}[{i}]", errors) for i, v in enumerate(datum)]

    return array


def _compile_map(schema: dict[str, Any]) -> Coercer:
    value_fn = _compile(schema["values"])

    def mapping(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(datum, dict):
            return _bad(path, "must be an object", errors, datum)
        return {str(k): value_fn(v, f"{path}.{k}", errors) for k, v in datum.items()}

    return mapping


def _compile_int(kind: str) -> Coercer:
    low, high = _INT_RANGE[kind]
    reason = f"must be an integer ({kind})"

    def integer(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if type(datum) is not int or not low <= datum <= high:  # bool is not an int here
            return _bad(path, reason, errors, datum)
        return datum

    return integer


def _compile_primitive(kind: str) -> Coercer:
    expected = _PRIMITIVE_CHECKS[kind]
    reason = f"must be a {kind}"

    def primitive(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if not isinstance(datum, expected):
            return _bad(path, reason, errors, datum)
        if kind == "bytes" and isinstance(datum, str):
            return datum.encode()
        return datum

    return primitive


def _number(datum: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(datum, bool) or not isinstance(datum, int | float) or not math.isfinite(datum):
        return _bad(path, "must be a finite number", errors, datum)
    return float(datum)


def _null(datum: Any, path: str, errors: list[FieldError]) -> Any:
    if datum is not None:
        errors.append(FieldError(path, "must be null"))
    return None


def _uuid(datum: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(datum, str):
        return _bad(path, "must be a UUID string", errors, datum)
    try:
        return str(uuid.UUID(datum))
    except ValueError:
        return _bad(path, "must be a UUID", errors, datum)


def _compile_union(branches: list[Any]) -> Coercer:
    nullable = "null" in branches
    non_null = [b for b in branches if b != "null"]
    fns = [_compile(b) for b in non_null]
    if len(fns) == 1:
        only = fns[0]

        def optional(datum: Any, path: str, errors: list[FieldError]) -> Any:
            if datum is None and nullable:
                return None
            return only(datum, path, errors)

        return optional
    reason = "must be " + " or ".join(_type_name(b) for b in non_null)

    def union(datum: Any, path: str, errors: list[FieldError]) -> Any:
        if datum is None and nullable:
            return None
        for fn in fns:
            trial: list[FieldError] = []
            value = fn(datum, path, trial)
            if not trial:
                return value
        errors.append(FieldError(path, reason))
        return datum

    return union


def _timestamp(datum: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(datum, bool):
        return _bad(path, "must be epoch milliseconds or an ISO-8601 time", errors, datum)
    if isinstance(datum, int):
        return datum
    if isinstance(datum, str):
        try:
            parsed = datetime.fromisoformat(datum.replace("Z", "+00:00"))
        except ValueError:
            return _bad(path, "must be epoch milliseconds or an ISO-8601 time", errors, datum)
        if parsed.tzinfo is None:
            return _bad(path, "ISO-8601 time needs a UTC offset (Z or +hh:mm)", errors, datum)
        return int(parsed.astimezone(UTC).timestamp() * 1000)
    return _bad(path, "must be epoch milliseconds or an ISO-8601 time", errors, datum)
