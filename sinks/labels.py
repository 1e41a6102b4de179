"""Human-readable names for what the reports print raw: booking-widget steps, channels, attribution
models; rates as percentages and seconds as durations.

Tables and HTML pages show these labels; JSON and CSV keep the raw names and fractions (they are
the data's keys and values, what scripts filter and compute on). A value without a label here (a
new channel, a campaign, a store id) is shown as it is. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sinks.reports import Section

# The booking widget's steps (the BookingStep contract's event types), as the client lives them.
STEPS = {
    "appointment_booking_start": "Opened the booking widget",
    "appointment_booking_step_profiles": "Signed in / profile",
    "appointment_booking_step_stores_and_services": "Chose store and service",
    "appointment_booking_step_resources": "Chose staff or room",
    "appointment_booking_step_available_appointments": "Looked at free times",
    "appointment_booking_step_summary": "Reviewed the summary",
    "appointment_booking": "Sent the booking",
    "appointment_booking_step_success": "Booking confirmed",
    "appointment_booking_step_failed": "Booking failed",
}
# pipeline/channels.py's channels (GA4's default channel grouping plus offline ones).
CHANNELS = {
    "direct": "Direct",
    "organic_search": "Organic search",
    "paid_search": "Paid search",
    "organic_social": "Organic social",
    "paid_social": "Paid social",
    "email": "Email",
    "referral": "Referral",
    "display": "Display ads",
    "affiliate": "Affiliates",
    "sms": "SMS",
    "phone_call": "Phone call",
    "crm_offline": "CRM (offline)",
    "ai_assistant": "AI assistant",
    "other": "Other",
    "(no touch)": "(no touch before converting)",
}
# The attribution models (sinks/sql/queries/attribution.sql).
MODELS = {
    "first": "First touch",
    "last": "Last touch",
    "last_non_direct": "Last non-direct touch",
    "linear": "Linear",
    "time_decay": "Time decay",
    "position": "Position (40/20/40)",
}
# Columns whose values are channels in every report; "key" and "breakdown" are channels only when
# the report runs --by / --breakdown channel.
CHANNEL_COLUMNS = frozenset({"channel", "first_touch_channel", "channels", "channels_before"})
STEP_COLUMNS = frozenset({"step"})


def is_rate(column: str) -> bool:
    """A column holding a fraction (0.25 = 25 %): conversion, share, rate, CTR, abandonment."""
    ends = ("_rate", "_share", "ctr", "abandonment", "csat", "waitlist_conversion")
    return column.endswith(ends) or column.startswith("conversion_from_")


def percent(value: Any) -> Any:
    return f"{value * 100:.1f} %" if isinstance(value, float) else value


def is_duration(column: str) -> bool:
    """A column of seconds (``ttc_median_s``, ``since_previous_s``)."""
    return column.endswith("_s")


def duration(value: Any) -> Any:
    """Seconds as the two largest units: ``45s``, ``5m 28s``, ``3h 02m``, ``8d 07h``."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    s = int(value)
    days, rest = divmod(abs(s), 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    sign = "-" if s < 0 else ""
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    return f"{sign}{minutes}m {seconds:02d}s" if minutes else f"{sign}{seconds}s"


def step(name: str) -> str:
    return STEPS.get(name, name)


def channel(name: str) -> str:
    return CHANNELS.get(name, name)


def _label(value: Any, table: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return table.get(value, value)
    if isinstance(value, list | tuple):
        return [_label(v, table) for v in value]
    return value


def readable(sections: Sequence[Section], params: Mapping[str, Any]) -> list[Section]:
    """The sections with step and channel values replaced by their labels (for people)."""
    channel_cols = set(CHANNEL_COLUMNS)
    if params.get("by") in (None, "channel"):
        channel_cols.add("key")
    if params.get("breakdown") == "channel":
        channel_cols.add("breakdown")
    out = []
    for s in sections:
        tables = [
            STEPS
            if c in STEP_COLUMNS
            else CHANNELS
            if c in channel_cols
            else MODELS
            if c == "model"
            else None
            for c in s.columns
        ]
        shown = [percent if is_rate(c) else duration if is_duration(c) else None for c in s.columns]
        if not any(tables) and not any(shown):
            out.append(s)
            continue
        rows = [
            tuple(
                f(v) if f is not None else v if t is None else _label(v, t)
                for v, t, f in zip(r, tables, shown, strict=True)
            )
            for r in s.rows
        ]
        out.append(replace(s, rows=rows))
    return out
