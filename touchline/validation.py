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
    value = _coerce(schema, datum, path or "$", errors)
    return value, errors


def _type_name(schema: Any) -> str:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, list):
        return "union"
    return str(schema.get("type"))


def _coerce(schema: Any, datum: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(schema, list):
        return _union(schema, datum, path, errors)
    if isinstance(schema, dict) and isinstance(schema.get("type"), dict | list):
        return _coerce(schema["type"], datum, path, errors)
    kind = _type_name(schema)
    logical = schema.get("logicalType") if isinstance(schema, dict) else None
    if kind == "record":
        return _record(schema, datum, path, errors)
    if kind == "enum":
        if not isinstance(datum, str) or datum not in schema["symbols"]:
            allowed = ", ".join(schema["symbols"])
            errors.append(FieldError(path, f"must be one of: {allowed}"))
        return datum
    if kind == "array":
        if not isinstance(datum, list):
            errors.append(FieldError(path, "must be an array"))
            return datum
        return [_coerce(schema["items"], v, f"{path}[{i}]", errors) for i, v in enumerate(datum)]
    if kind == "map":
        if not isinstance(datum, dict):
            errors.append(FieldError(path, "must be an object"))
            return datum
        return {
            str(k): _coerce(schema["values"], v, f"{path}.{k}", errors) for k, v in datum.items()
        }
    if logical == "timestamp-millis" and kind == "long":
        return _timestamp(datum, path, errors)
    if logical == "uuid" and kind == "string":
        try:
            return (
                str(uuid.UUID(str(datum)))
                if isinstance(datum, str)
                else _bad(path, "must be a UUID string", errors, datum)
            )
        except ValueError:
            return _bad(path, "must be a UUID", errors, datum)
    if kind in _INT_RANGE:
        low, high = _INT_RANGE[kind]
        if isinstance(datum, bool) or not isinstance(datum, int) or not low <= datum <= high:
            return _bad(path, f"must be an integer ({kind})", errors, datum)
        return datum
    if kind in ("float", "double"):
        if (
            isinstance(datum, bool)
            or not isinstance(datum, int | float)
            or not math.isfinite(datum)
        ):
            return _bad(path, "must be a finite number", errors, datum)
        return float(datum)
    if kind == "null":
        if datum is not None:
            errors.append(FieldError(path, "must be null"))
        return None
    if kind in _PRIMITIVE_CHECKS:
        if not isinstance(datum, _PRIMITIVE_CHECKS[kind]):
            return _bad(path, f"must be a {kind}", errors, datum)
        if kind == "bytes" and isinstance(datum, str):
            return datum.encode()
        return datum
    errors.append(FieldError(path, f"schema type {kind!r} is not supported"))
    return datum


def _bad(path: str, reason: str, errors: list[FieldError], datum: Any) -> Any:
    errors.append(FieldError(path, reason))
    return datum


def _record(schema: dict[str, Any], datum: Any, path: str, errors: list[FieldError]) -> Any:
    if not isinstance(datum, dict):
        return _bad(path, "must be an object", errors, datum)
    out: dict[str, Any] = {}
    known = set()
    for field in schema["fields"]:
        name = field["name"]
        known.add(name)
        sub = f"{path}.{name}"
        value = datum.get(name, _MISSING)
        if value is _MISSING:
            if "default" in field:
                out[name] = _default(field["type"], field["default"])
                continue
            errors.append(FieldError(sub, "is required"))
            continue
        out[name] = _coerce(field["type"], value, sub, errors)
    for extra in sorted(set(datum) - known):
        errors.append(FieldError(f"{path}.{extra}", "is not a field of this event"))
    return out


def _default(schema: Any, default: Any) -> Any:
    # Avro defaults are JSON; for the types our schemas use, the JSON form is the datum.
    if isinstance(default, list | dict):
        return type(default)(default)
    return default


def _union(branches: list[Any], datum: Any, path: str, errors: list[FieldError]) -> Any:
    if datum is None and "null" in branches:
        return None
    for branch in branches:
        if branch == "null":
            continue
        trial: list[FieldError] = []
        value = _coerce(branch, datum, path, trial)
        if not trial:
            return value
    non_null = [b for b in branches if b != "null"]
    if len(non_null) == 1:
        return _coerce(non_null[0], datum, path, errors)
    names = " or ".join(_type_name(b) for b in non_null)
    errors.append(FieldError(path, f"must be {names}"))
    return datum


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
