"""Report query parameters: what each .sql declares (``{name:Type}``), their defaults, and parsing
the command line's strings into typed values. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from touchline.errors import TouchlineError
from touchline.settings import Settings, get_settings

PARAM = re.compile(r"\{(\w+):(\w+)\}")

# Report parameters whose default is a worker setting, so the reports and the worker share one
# definition (TOUCHLINE_SESSION_TIMEOUT_MINUTES, _LOOKBACK_DAYS, _MULTICHANNEL_MIN_CHANNELS):
# parameter name -> how to read it from the settings.
FROM_SETTINGS = {
    "session_timeout_minutes": lambda s: s.session_timeout_minutes,
    "lookback_days": lambda s: s.lookback_days,  # at most 365: the setting's own limit
    "min_channels": lambda s: s.multichannel_min_channels,
}
# Parameters that must be at least 1.
POSITIVE = frozenset({"session_timeout_minutes", "min_channels"})

# Defaults: whole history of every account, location and service; the FROM_SETTINGS ones are the
# settings' defaults here and the environment's settings when a query runs (``resolve``).
DEFAULTS: dict[str, Any] = {
    "account": "",
    "from": date(1970, 1, 1),
    "to": date(2149, 6, 6),
    "location": "",
    "service": "",
    "breakdown": "",
    "profiles": 0,
    "strict": 0,
    "window_ms": 7 * 86_400_000,
    "model": "",
    "by": "channel",
    **{
        name: read(Settings.model_construct())  # the fields' defaults, without the environment
        for name, read in FROM_SETTINGS.items()
    },
    "half_life_days": 7.0,
    "window_days": 14,
    "client": "",
    "events": "",
}
CHOICES: dict[str, tuple[str, ...]] = {
    "breakdown": ("", "store", "service", "resource", "channel", "campaign", "device"),
    "model": ("", "first", "last", "last_non_direct", "linear", "time_decay", "position"),
    "by": ("channel", "campaign", "location"),
}


def declared(sql: str) -> dict[str, str]:
    """``{name: ClickHouse type}`` of the parameters a query uses."""
    return {name: kind for name, kind in PARAM.findall(sql)}


def resolve(sql: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The query's parameters: given values (None = default), checked; unknown names ignored."""
    out: dict[str, Any] = {}
    for name, kind in declared(sql).items():
        value = given.get(name)
        if value is None and name in FROM_SETTINGS:
            value = FROM_SETTINGS[name](get_settings())
        if value is None:
            if name not in DEFAULTS:
                raise TouchlineError(f"parameter {name!r} is required")
            value = DEFAULTS[name]
        out[name] = coerce(name, kind, value)
    return out


def coerce(name: str, kind: str, value: Any) -> Any:
    try:
        if kind == "Date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if kind.startswith(("UInt", "Int")):
            number = int(value)
            if kind.startswith("UInt") and number < 0:
                raise ValueError("must not be negative")
            if name in POSITIVE and number < 1:
                raise ValueError("must be at least 1")
            return number
        if kind.startswith("Float"):
            real = float(value)
            if real <= 0:
                raise ValueError("must be positive")
            return real
    except ValueError as exc:
        raise TouchlineError(f"--{name.replace('_', '-')}: {value!r}: {exc}") from exc
    text = str(value)
    if name in CHOICES and text not in CHOICES[name]:
        raise TouchlineError(
            f"--{name.replace('_', '-')}: {text!r} is not one of "
            + ", ".join(c or "''" for c in CHOICES[name])
        )
    return text


def last_days(days: int, today: date) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today
