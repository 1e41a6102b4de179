"""CRM lead/deal export rows (seed 003): one row -> one ``crm_lead`` or ``crm_deal``.

A row is flat so that the same shape works as a JSON object, a JSON line or a CSV row (all values
may be strings; empty means absent)::

    type        lead | deal (required)
    id          the lead's or deal's id (required)
    lead_id     the lead a deal came from          contact_id  the CRM contact
    status      open | won | lost (default open)   stage       pipeline stage, free text
    amount      decimal, major units (25.50)       currency    ISO 4217
    created_at, closed_at, updated_at  ISO-8601 with offset, a date, or epoch ms
    cid or _ga  web analytics client id            email, phone
    utm_source, utm_medium, utm_campaign, utm_term, utm_content, referrer, landing_page
    account_id  unless the write key is bound to an account

The event's time is ``updated_at``, else ``closed_at``, else ``created_at``. Its id is derived
from (account, type, id, status, time), so exporting the same state twice is idempotent.
"""

from __future__ import annotations

from typing import Any

from producers.adapters.native import (
    AdapterError,
    account,
    envelope,
    epoch_ms,
    items,
    minor_units,
    obj,
    required_text,
    stable_event_id,
    text,
    web_context,
)
from touchline.clientid import client_id_from_ga

TITLE = "CRM (lead/deal export rows)"
SOURCE = "crm"
SYSTEM = "crm"
STATUSES = ("open", "won", "lost")


def row_to_event(row: Any, bound_account: str | None, path: str = "$") -> dict[str, Any]:
    r = obj(row, path)
    kind = required_text(r, "type", path).lower()
    if kind not in ("lead", "deal"):
        raise AdapterError(f"{path}.type", "must be lead or deal")
    record_id = required_text(r, "id", path)
    status = (text(r, "status", path) or "open").lower()
    if status not in STATUSES:
        raise AdapterError(f"{path}.status", f"must be one of: {', '.join(STATUSES)}")
    created = epoch_ms(r, "created_at", path)
    closed = epoch_ms(r, "closed_at", path)
    updated = epoch_ms(r, "updated_at", path)
    occurred = updated or closed or created
    if occurred is None:
        raise AdapterError(f"{path}.created_at", "is required (or updated_at / closed_at)")
    acc = account(r, bound_account)
    contact = text(r, "contact_id", path)
    amount = minor_units(r, "amount", path)
    currency = text(r, "currency", path)
    if amount and not currency:
        raise AdapterError(f"{path}.currency", "is required with an amount")
    web = web_context(r, path)
    if web is not None:
        web = {k: v for k, v in web.items() if k not in ("user_agent", "ip", "page_url")}
    return {
        "envelope": envelope(
            event_type=f"crm_{kind}",
            event_id=stable_event_id(SOURCE, acc, kind, record_id, status, str(occurred)),
            occurred_at=occurred,
            source=SOURCE,
            account_id=acc,
            ids={
                "cid": (
                    client_id_from_ga(text(r, "cid", path))
                    or client_id_from_ga(text(r, "_ga", path))
                ),
                "email": text(r, "email", path),
                "phone": text(r, "phone", path),
                "external_ids": {SYSTEM: contact} if contact else {},
            },
            web=web,
        ),
        "deal_id": record_id if kind == "deal" else None,
        "lead_id": record_id if kind == "lead" else text(r, "lead_id", path),
        "contact_id": contact,
        "amount_minor": amount or 0,
        "currency": currency,
        "status": status,
        "stage": text(r, "stage", path),
        "created_at": created,
        "closed_at": closed,
    }


def convert(payload: Any, bound_account: str | None) -> list[dict[str, Any]]:
    """One row object, or ``{"rows": [row, ...]}``."""
    body = obj(payload, "$")
    if "rows" in body:
        return [
            row_to_event(row, bound_account, f"$.rows[{i}]")
            for i, row in enumerate(items(body["rows"], "$.rows"))
        ]
    return [row_to_event(body, bound_account)]
