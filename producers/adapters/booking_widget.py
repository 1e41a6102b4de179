"""The booking widget's tag-manager data layer (seed 000), as deploy/web/touchline.js sends it.

Native payload: one ``dataLayer.push`` object::

    {"event": "appointment_booking_step_summary",      # or "event_booking"
     "appointments": [{"worker_id": 7, "store_id": "s1", ...}],   # appointment steps
     "events": [{"event_id": "g-1", "event_category": "...", "event_title": "..."}],  # group events
     "conversion_id": "...",                            # optional
     # added by the snippet:
     "touchline_event_id": "<uuid>", "occurred_at": 1795000000000, "account_id": "studio-1",
     "_ga": "GA1.2.147852369.3692587411" (or "cid"), "page_url", "landing_page", "referrer",
     "utm_source" ... "utm_content", "gclid", "fbclid", "yclid", "msclkid", "user_agent"}

Other data-layer keys (``gtm.uniqueEventId`` ...) are ignored. Ids the widget pushes as numbers
become strings. One push gives one event of family BookingStep or EventBooking.
"""

from __future__ import annotations

from typing import Any

from producers.adapters.native import (
    AdapterError,
    account,
    envelope,
    epoch_ms,
    items,
    obj,
    required_text,
    text,
    web_context,
)
from touchline.clientid import client_id_from_ga

TITLE = "booking widget (tag-manager data layer)"
SOURCE = "booking_widget"
APPOINTMENT_STEP_PREFIX = "appointment_booking"
GROUP_EVENT_BOOKING = "event_booking"


def _stringly(entry: Any, path: str) -> dict[str, Any]:
    """A data-layer line item with scalar values as strings (ids are often pushed as numbers)."""
    out: dict[str, Any] = {}
    for key, value in obj(entry, path).items():
        out[key] = text(entry, key, path) if value is not None else None
    return out


def convert(payload: Any, bound_account: str | None) -> list[dict[str, Any]]:
    push = obj(payload, "$")
    name = required_text(push, "event", "$")
    if name != GROUP_EVENT_BOOKING and not name.startswith(APPOINTMENT_STEP_PREFIX):
        raise AdapterError("$.event", f"{name!r} is not a booking widget event")
    occurred = epoch_ms(push, "occurred_at", "$", required=True)
    assert occurred is not None
    env = envelope(
        event_type=name,
        event_id=text(push, "touchline_event_id", "$"),
        occurred_at=occurred,
        source=SOURCE,
        account_id=account(push, bound_account),
        ids={
            "cid": (
                client_id_from_ga(text(push, "cid", "$"))
                or client_id_from_ga(text(push, "_ga", "$"))
            ),
            "session_id": text(push, "session_id", "$"),
        },
        location_id=text(push, "location_id", "$"),
        web=web_context(push, "$"),
    )
    event: dict[str, Any] = {"envelope": env, "conversion_id": text(push, "conversion_id", "$")}
    if name == GROUP_EVENT_BOOKING:
        # The seed's own text once spells the key "evetns"; accept that spelling too.
        key = "events" if "events" in push else "evetns"
        event["events"] = [
            _stringly(e, f"$.{key}[{i}]") for i, e in enumerate(items(push.get(key), f"$.{key}"))
        ]
    else:
        event["appointments"] = [
            _stringly(a, f"$.appointments[{i}]")
            for i, a in enumerate(items(push.get("appointments"), "$.appointments"))
        ]
    return [event]
