"""Reading native (source-system) payloads: typed getters that name the offending field, and the
pieces every adapter builds (envelope, web context, stable event ids). Pure, no I/O.

Adapters raise :class:`AdapterError` for input they cannot map; field names in the output are the
contract's (``schemas/``), and the contract itself is checked later by ``producers.events.prepare``.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Namespace of Touchline's deterministic event ids (uuid5): a source's retry of the same native
# record maps to the same event_id, which is the idempotency key downstream.
EVENT_ID_NAMESPACE = uuid.UUID("6f1c2a0e-4b7d-5c1e-9a3f-2d8e7b6c5a41")

WEB_FIELDS = (
    "page_url",
    "landing_page",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "gclid",
    "fbclid",
    "yclid",
    "msclkid",
    "user_agent",
    "ip",
)
# ASCII digits only: ``str.isdigit`` and ``\d`` also take "²" or "٣", which int() may refuse.
# At most 19 digits: every int64 fits, and int() never meets a 4300-digit string.
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
_DIGITS = re.compile(r"[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME_REASON = "must be an ISO-8601 time or epoch milliseconds"


class AdapterError(ValueError):
    """A native payload the adapter cannot map; ``field`` is the path in the native payload."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdapterError(path, "must be an object")
    return value


def items(value: Any, path: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AdapterError(path, "must be an array")
    return value


def text(d: dict[str, Any], key: str, path: str, required: bool = False) -> str | None:
    """A string field; numbers are accepted as their decimal text (ids often arrive as numbers)."""
    value = d.get(key)
    if isinstance(value, str):
        value = value.strip()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    elif value is not None:
        raise AdapterError(f"{path}.{key}", "must be a string")
    if not value:
        if required:
            raise AdapterError(f"{path}.{key}", "is required")
        return None
    return value


def required_text(d: dict[str, Any], key: str, path: str) -> str:
    value = text(d, key, path, required=True)
    assert value is not None
    return value


def integer(d: dict[str, Any], key: str, path: str) -> int | None:
    value = d.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AdapterError(f"{path}.{key}", "must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    raise AdapterError(f"{path}.{key}", "must be an integer")


def boolean(d: dict[str, Any], key: str, path: str) -> bool | None:
    value = d.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise AdapterError(f"{path}.{key}", "must be true or false")


def minor_units(d: dict[str, Any], key: str, path: str) -> int | None:
    """A money amount in major units (``25.5``, ``"25.50"``) as integer minor units (2550)."""
    value = d.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise AdapterError(f"{path}.{key}", "must be a decimal amount")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise AdapterError(f"{path}.{key}", "must be a decimal amount") from exc
    if not amount.is_finite() or abs(amount) > Decimal(10) ** 15:
        raise AdapterError(f"{path}.{key}", "must be a finite decimal amount")
    return int((amount * 100).quantize(Decimal(1)))


def epoch_ms(d: dict[str, Any], key: str, path: str, required: bool = False) -> int | None:
    """Epoch milliseconds, an ISO-8601 time with a UTC offset, or a date (midnight UTC)."""
    value = d.get(key)
    where = f"{path}.{key}"
    if value is None or value == "":
        if required:
            raise AdapterError(where, "is required")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value < 2**53:
            raise AdapterError(where, "must be epoch milliseconds")
        return value
    if isinstance(value, str):
        raw = value.strip()
        if _DIGITS.fullmatch(raw):
            return int(raw)
        try:
            if _DATE.fullmatch(raw):
                parsed = datetime.fromisoformat(raw).replace(tzinfo=UTC)
            else:
                parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise AdapterError(where, _TIME_REASON) from exc
        if parsed.tzinfo is None:
            raise AdapterError(where, "ISO-8601 time needs a UTC offset (Z or +hh:mm)")
        try:
            return int(parsed.astimezone(UTC).timestamp() * 1000)
        except (OverflowError, ValueError) as exc:  # year 1 or 9999 with an offset
            raise AdapterError(where, "is out of range for a time") from exc
    raise AdapterError(where, _TIME_REASON)


def account(payload: dict[str, Any], bound: str | None, key: str = "account_id") -> str:
    """The account: the write key's when it is bound to one, else the payload's ``account_id``."""
    if bound is not None:
        return bound
    value = text(payload, key, "$")
    if value is None:
        raise AdapterError(f"$.{key}", "is required (or use a write key bound to an account)")
    return value


def web_context(d: dict[str, Any], path: str) -> dict[str, Any] | None:
    web = {name: text(d, name, path) for name in WEB_FIELDS}
    return web if any(web.values()) else None


def stable_event_id(*parts: str) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, "\x1f".join(parts)))


def envelope(
    *,
    event_type: str,
    event_id: str | None,
    occurred_at: int,
    source: str,
    account_id: str,
    ids: dict[str, Any],
    location_id: str | None = None,
    web: dict[str, Any] | None = None,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": occurred_at,
        "source": source,
        "account_id": account_id,
        "location_id": location_id,
        "ids": {k: v for k, v in ids.items() if v not in (None, {}, "")},
        "web": web,
    }
    if event_id is not None:
        env["event_id"] = event_id
    return env
