"""Check a JSON-shaped event against its Avro schema and turn it into the Avro datum.

Pure: no I/O. Driven entirely by the schema's JSON, so the ``.avsc`` files stay the only definition
of every field. It is friendlier than Avro's JSON encoding on purpose, because browsers and webhooks
send plain JSON: union values are given bare (``"utm_source": "google"``, not
``{"string": "google"}``), missing fields take the schema default, and ``timestamp-millis`` fields
also accept ISO-8601 strings. Every problem is reported with its field path and a reason.

Every ``timestamp-millis`` value must lie in what ClickHouse ``DateTime64(3)`` stores,
1900-01-01T00:00:00Z .. 2299-12-31T23:59:59.999Z (:data:`MIN_TIMESTAMP_MS` ..
:data:`MAX_TIMESTAMP_MS`): nothing is accepted here that the sink would refuse later.
"""

from __future__ import annotations

import math
import re
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
# The range of ClickHouse DateTime64(3), in epoch milliseconds (UTC).
MIN_TIMESTAMP_MS = int(datetime(1900, 1, 1, tzinfo=UTC).timestamp() * 1000)
MAX_TIMESTAMP_MS = int(datetime(2300, 1, 1, tzinfo=UTC).timestamp() * 1000) - 1
_TIMESTAMP_RANGE = "is out of range: timestamps must be within 1900-01-01 .. 2299-12-31 (UTC)"
_TIMESTAMP_FORMAT = "must be epoch milliseconds or an ISO-8601 time"


@dataclass(frozen=True)
class FieldError:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def coerce(schema: Any, datum: Any, path: str = "") -> tuple[Any, list[FieldError]]:
    """Return ``(avro_datum, errors)``; the datum is only meaningful when ``errors`` is empty."""
    errors: list[FieldError] = []
    value = compiled(schema, path or "$")(datum, errors)
    return value, errors


# A coercer's paths are fixed when it is compiled: no path string is built for a valid datum.
# Below an array or a map the path holds a placeholder (``[*]``, ``.*``) that the array or map
# replaces with the index or key in the errors of that element.
Coercer = Callable[[Any, list[FieldError]], Any]
# Compiled: the coercer, and the types of the data it returns unchanged without errors (the
# caller can skip the call for them).
Compiled = tuple[Coercer, frozenset[type]]
# Schemas live as long as the process (they come from the contracts), so compile each once.
_COMPILED: dict[tuple[int, str], tuple[Any, Coercer]] = {}
_NONE = frozenset({type(None)})
_NOTHING: frozenset[type] = frozenset()
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def compiled(schema: Any, path: str = "$") -> Coercer:
    """The schema turned once into a tree of closures: no type dispatch per datum."""
    found = _COMPILED.get((id(schema), path))
    if found is not None and found[0] is schema:
        return found[1]
    fn = _compile(schema, path)[0]
    _COMPILED[(id(schema), path)] = (schema, fn)
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


def _rebase(errors: list[FieldError], start: int, placeholder: str, actual: str) -> None:
    """Put the real index or key in place of the placeholder in ``errors[start:]``."""
    cut = len(placeholder)
    for i in range(start, len(errors)):
        errors[i] = FieldError(actual + errors[i].path[cut:], errors[i].reason)


def _compile(schema: Any, path: str) -> Compiled:
    if isinstance(schema, list):
        return _compile_union(schema, path)
    if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
        return _compile(schema["type"], path)
    kind = _type_name(schema)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if kind == "record":
        return _compile_record(schema, path), _NOTHING
    if kind == "enum":
        return _compile_enum(schema, path), _NOTHING
    if kind == "array":
        return _compile_array(schema, path), _NOTHING
    if kind == "map":
        return _compile_map(schema, path), _NOTHING
    if logical == "timestamp-millis" and kind == "long":
        return _at(path, _timestamp), _NOTHING
    if logical == "uuid" and kind == "string":
        return _at(path, _uuid), _NOTHING
    if kind in _INT_RANGE:
        return _compile_int(kind, path), _NOTHING
    if kind in ("float", "double"):
        return _at(path, _number), _NOTHING
    if kind == "null":
        return _at(path, _null), _NONE
    if kind in _PRIMITIVE_CHECKS:
        return _compile_primitive(kind, path)

    def unsupported(datum: Any, errors: list[FieldError]) -> Any:
        return _bad(path, f"schema type {kind!r} is not supported", errors, datum)

    return unsupported, _NOTHING


def _at(path: str, check: Callable[[Any, str, list[FieldError]], Any]) -> Coercer:
    """A path-taking check bound to its (fixed) path."""

    def bound(datum: Any, errors: list[FieldError]) -> Any:
        return check(datum, path, errors)

    return bound


def _compile_record(schema: dict[str, Any], path: str) -> Coercer:
    fields: list[tuple[str, Coercer, frozenset[type], str, bool, Any]] = []
    for f in schema["fields"]:
        fn, passing = _compile(f["type"], f"{path}.{f['name']}")
        fields.append(
            (f["name"], fn, passing, f"{path}.{f['name']}", "default" in f, f.get("default"))
        )
    known = frozenset(name for name, *_ in fields)

    def record(datum: Any, errors: list[FieldError]) -> Any:
        if not isinstance(datum, dict):
            return _bad(path, "must be an object", errors, datum)
        out: dict[str, Any] = {}
        get = datum.get
        for name, fn, passing, field_path, has_default, default in fields:
            value = get(name, _MISSING)
            if type(value) in passing:
                out[name] = value
            elif value is _MISSING:
                if has_default:
                    out[name] = (
                        type(default)(default) if isinstance(default, list | dict) else default
                    )
                else:
                    errors.append(FieldError(field_path, "is required"))
            else:
                out[name] = fn(value, errors)
        if not known.issuperset(datum):
            for extra in sorted(set(datum) - known):
                errors.append(FieldError(f"{path}.{extra}", "is not a field of this event"))
        return out

    return record


def _compile_enum(schema: dict[str, Any], path: str) -> Coercer:
    symbols = frozenset(schema["symbols"])
    reason = "must be one of: " + ", ".join(schema["symbols"])

    def enum(datum: Any, errors: list[FieldError]) -> Any:
        if not isinstance(datum, str) or datum not in symbols:
            errors.append(FieldError(path, reason))
        return datum

    return enum


def _compile_array(schema: dict[str, Any], path: str) -> Coercer:
    placeholder = f"{path}[*]"
    item = _compile(schema["items"], placeholder)[0]

    def array(datum: Any, errors: list[FieldError]) -> Any:
        if not isinstance(datum, list):
            return _bad(path, "must be an array", errors, datum)
        start = len(errors)
        out = [item(v, errors) for v in datum]
        if len(errors) == start:
            return out
        del errors[start:]  # again, one item at a time, to put each index in its errors' paths
        out = []
        for i, v in enumerate(datum):
            before = len(errors)
            out.append(item(v, errors))
            _rebase(errors, before, placeholder, f"{path}[{i}]")
        return out

    return array


def _compile_map(schema: dict[str, Any], path: str) -> Coercer:
    placeholder = f"{path}.*"
    value_fn = _compile(schema["values"], placeholder)[0]

    def mapping(datum: Any, errors: list[FieldError]) -> Any:
        if not isinstance(datum, dict):
            return _bad(path, "must be an object", errors, datum)
        out: dict[str, Any] = {}
        for k, v in datum.items():
            before = len(errors)
            out[str(k)] = value_fn(v, errors)
            if len(errors) != before:
                _rebase(errors, before, placeholder, f"{path}.{k}")
        return out

    return mapping


def _compile_int(kind: str, path: str) -> Coercer:
    low, high = _INT_RANGE[kind]
    reason = f"must be an integer ({kind})"

    def integer(datum: Any, errors: list[FieldError]) -> Any:
        if type(datum) is not int or not low <= datum <= high:  # bool is not an int here
            return _bad(path, reason, errors, datum)
        return datum

    return integer


def _compile_primitive(kind: str, path: str) -> Compiled:
    expected = _PRIMITIVE_CHECKS[kind]
    reason = f"must be a {kind}"

    def primitive(datum: Any, errors: list[FieldError]) -> Any:
        if not isinstance(datum, expected):
            return _bad(path, reason, errors, datum)
        if kind == "bytes" and isinstance(datum, str):
            return datum.encode()
        return datum

    unchanged = {"string": str, "boolean": bool, "bytes": bytes}[kind]
    return primitive, frozenset({unchanged})


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
    if _CANONICAL_UUID.fullmatch(datum):
        return datum  # already what str(uuid.UUID(datum)) would give
    try:
        return str(uuid.UUID(datum))
    except ValueError:
        return _bad(path, "must be a UUID", errors, datum)


def _compile_union(branches: list[Any], path: str) -> Compiled:
    nullable = "null" in branches
    non_null = [b for b in branches if b != "null"]
    compiled_branches = [_compile(b, path) for b in non_null]
    fns = [fn for fn, _ in compiled_branches]
    if len(fns) == 1:
        only, passing = compiled_branches[0]

        def optional(datum: Any, errors: list[FieldError]) -> Any:
            if datum is None and nullable:
                return None
            return only(datum, errors)

        return optional, (passing | _NONE) if nullable else passing
    reason = "must be " + " or ".join(_type_name(b) for b in non_null)

    def union(datum: Any, errors: list[FieldError]) -> Any:
        if datum is None and nullable:
            return None
        for fn in fns:
            trial: list[FieldError] = []
            value = fn(datum, trial)
            if not trial:
                return value
        errors.append(FieldError(path, reason))
        return datum

    return union, _NOTHING


def _timestamp(datum: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(datum, bool):
        return _bad(path, _TIMESTAMP_FORMAT, errors, datum)
    if isinstance(datum, int):
        if not MIN_TIMESTAMP_MS <= datum <= MAX_TIMESTAMP_MS:
            return _bad(path, _TIMESTAMP_RANGE, errors, datum)
        return datum
    if isinstance(datum, str):
        try:
            parsed = datetime.fromisoformat(datum.replace("Z", "+00:00"))
        except ValueError:
            return _bad(path, _TIMESTAMP_FORMAT, errors, datum)
        if parsed.tzinfo is None:
            return _bad(path, "ISO-8601 time needs a UTC offset (Z or +hh:mm)", errors, datum)
        try:  # year 1 or 9999 with an offset leaves datetime's range in UTC
            millis = int(parsed.astimezone(UTC).timestamp() * 1000)
        except (OverflowError, ValueError):
            return _bad(path, _TIMESTAMP_RANGE, errors, datum)
        if not MIN_TIMESTAMP_MS <= millis <= MAX_TIMESTAMP_MS:
            return _bad(path, _TIMESTAMP_RANGE, errors, datum)
        return millis
    return _bad(path, _TIMESTAMP_FORMAT, errors, datum)
