"""What every reference report shares: the stored event as a dict, the funnel's steps, and the
filters the report parameters apply (account, date range, location, service). Pure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sinks.parameters import DEFAULTS
from synthetic import FUNNEL_STEPS

DAY_MS = 86_400_000
BOOKING = "touchline.events.BookingStep"
STEPS_ALL = FUNNEL_STEPS[:8]  # the widget steps up to success (failed is not a funnel step)
Event = dict[str, Any]


def day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def in_range(e: Event, start: date, end: date) -> bool:
    return start <= day(e["occurred_at"]) <= end


def location_ok(e: Event, location: str) -> bool:
    return (
        not location
        or (e["location_id"] or "") == location
        or any(x["store_id"] == location for x in e["lines"])
    )


def service_ok(e: Event, service: str) -> bool:
    return not service or any(x["service_id"] == service for x in e["lines"])


def param(p: dict[str, Any], name: str) -> int:
    """A parameter, else the query's default (the worker's setting)."""
    return int(p.get(name, DEFAULTS[name]))


def filtered(events: list[Event], p: dict[str, Any], family: str | None = None) -> list[Event]:
    return [
        e
        for e in events
        if (family is None or e["family"] == family)
        and (not p["account"] or e["account_id"] == p["account"])
        and in_range(e, p["from"], p["to"])
    ]


def rate(a: int, b: int) -> float:
    return round(a / b, 6) if b else 0


def envelope_location_ok(e: Event, location: str) -> bool:
    return not location or (e["location_id"] or "") == location
