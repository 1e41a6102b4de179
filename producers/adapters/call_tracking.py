"""The call-tracking system's call notification (seed 004): one tracked call -> ``contact_call``.

Native payload::

    {"call_id": "c-981", "start_time": "2026-11-18T10:15:00+03:00", "account_id": "studio-1",
     "caller_number": "+7 916 123-45-67", "called_number": "+74951234567",
     "duration": 95, "talk_duration": 80, "recording_url": "https://...",
     "is_unique": true, "final_group": "Sales", "call_page": "https://studio.example/prices",
     "client_id": "GA1.2.147852369.3692587411",   # _ga cookie or bare client id, if known
     "name": "Anna", "email": "...", "location": {"country": "RU", "region": "...", "city": "..."},
     "utm_source" ... "utm_content", "landing_page", "referrer", "user_agent"}

The caller's number is also the event's ``ids.phone`` so the call is stitched to the client.
"""

from __future__ import annotations

from typing import Any

from producers.adapters.native import (
    account,
    boolean,
    envelope,
    epoch_ms,
    integer,
    obj,
    required_text,
    stable_event_id,
    text,
    web_context,
)
from touchline.clientid import client_id_from_ga

TITLE = "call tracking (call notification)"
SOURCE = "call_tracking"


def convert(payload: Any, bound_account: str | None) -> list[dict[str, Any]]:
    call = obj(payload, "$")
    call_id = required_text(call, "call_id", "$")
    occurred = epoch_ms(call, "start_time", "$", required=True)
    assert occurred is not None
    acc = account(call, bound_account)
    caller = text(call, "caller_number", "$")
    geo_in = call.get("location")
    geo = None
    if geo_in is not None:
        where = obj(geo_in, "$.location")
        geo = {k: text(where, k, "$.location") for k in ("country", "region", "city")}
    return [
        {
            "envelope": envelope(
                event_type="contact_call",
                event_id=stable_event_id(SOURCE, acc, call_id),
                occurred_at=occurred,
                source=SOURCE,
                account_id=acc,
                ids={
                    "cid": client_id_from_ga(text(call, "client_id", "$")),
                    "phone": caller,
                    "email": text(call, "email", "$"),
                },
                location_id=text(call, "location_id", "$"),
                web=web_context(call, "$"),
            ),
            "contact_id": call_id,
            "name": text(call, "name", "$"),
            "caller_number": caller,
            "called_number": text(call, "called_number", "$"),
            "recording_url": text(call, "recording_url", "$"),
            "duration_seconds": integer(call, "duration", "$"),
            "talk_seconds": integer(call, "talk_duration", "$"),
            "unique_call": boolean(call, "is_unique", "$"),
            "final_pbx_group": text(call, "final_group", "$"),
            "call_page": text(call, "call_page", "$"),
            "geo": geo,
        }
    ]
