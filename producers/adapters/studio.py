"""Studio-system webhooks (seed 001): appointments, classes, memberships, contracts, orders and
client profiles, in the studio system's own camelCase names.

Native payload::

    {"id": "wh-123",                     # delivery id: retries resend it (-> stable event ids)
     "type": "appointment.scheduled",    # see TYPES
     "occurredAt": "2026-11-18T09:00:00Z",
     "accountId": "studio-1",            # unless the write key is bound to an account
     "client": {"id": "c-1", "email": ..., "phone": ..., "firstName": ..., "lastName": ...},
     "data": {...}}                      # the record, fields per type below

``order.placed`` gives one ``order_placed`` plus one ``ordered_product`` per item. Money is in
major units (``"amountPaid": 25.5``) and becomes minor units; ``currency`` is required for orders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from producers.adapters.native import (
    AdapterError,
    account,
    boolean,
    envelope,
    epoch_ms,
    integer,
    items,
    minor_units,
    obj,
    required_text,
    stable_event_id,
    text,
)

TITLE = "studio system (webhooks)"
SOURCE = "studio_system"
SYSTEM = "studio"

Fields = dict[str, Any]


def _appointment(d: Fields) -> Fields:
    start = epoch_ms(d, "startDateTime", "$.data", required=True)
    return {
        "appointment_id": required_text(d, "id", "$.data"),
        "location_id": text(d, "locationId", "$.data"),
        "location_name": text(d, "locationName", "$.data"),
        "staff_id": text(d, "staffId", "$.data"),
        "staff_name": text(d, "staffName", "$.data"),
        "start_at": start,
        "end_at": epoch_ms(d, "endDateTime", "$.data"),
        "duration_minutes": integer(d, "duration", "$.data"),
        "resources": [
            str(r) if not isinstance(r, dict) else str(r.get("name") or r.get("id") or "")
            for r in items(d.get("resources"), "$.data.resources")
        ],
        "service_id": text(d, "providerId", "$.data"),
        "service_name": text(d, "providerName", "$.data"),
        "cancellation_reason": text(d, "cancellationReason", "$.data"),
    }


def _class(d: Fields) -> Fields:
    return {
        "class_id": required_text(d, "classId", "$.data"),
        "class_name": text(d, "className", "$.data"),
        "start_at": epoch_ms(d, "startDateTime", "$.data"),
        "end_at": epoch_ms(d, "endDateTime", "$.data"),
        "location_id": text(d, "locationId", "$.data"),
        "location_name": text(d, "locationName", "$.data"),
        "staff_id": text(d, "staffId", "$.data"),
        "staff_name": text(d, "staffName", "$.data"),
        "item_id": text(d, "itemId", "$.data"),
        "item_name": text(d, "itemName", "$.data"),
        "cancellation_type": text(d, "cancellationType", "$.data"),
        "waitlist_max_size": integer(d, "maxWaitlistSize", "$.data"),
        "waitlist_position": integer(d, "waitlistPosition", "$.data"),
    }


def _membership(d: Fields) -> Fields:
    return {
        "membership_id": required_text(d, "membershipId", "$.data"),
        "membership_name": text(d, "membershipName", "$.data"),
        "location_id": text(d, "locationId", "$.data"),
        "location_name": text(d, "locationName", "$.data"),
    }


def _contract(d: Fields) -> Fields:
    return {
        "contract_id": required_text(d, "contractId", "$.data"),
        "contract_name": text(d, "contractName", "$.data"),
        "sales_staff_id": text(d, "salesRepId", "$.data"),
        "sales_staff_name": text(d, "salesRepName", "$.data"),
        "location_id": text(d, "locationId", "$.data"),
        "location_name": text(d, "locationName", "$.data"),
        "start_at": epoch_ms(d, "startDate", "$.data"),
        "end_at": epoch_ms(d, "endDate", "$.data"),
        "auto_renew": bool(boolean(d, "autoRenew", "$.data")),
        "amount_minor": minor_units(d, "totalValue", "$.data"),
        "currency": text(d, "currency", "$.data"),
    }


def _profile(d: Fields) -> Fields:
    return {
        "client_id": required_text(d, "id", "$.data"),
        "first_name": text(d, "firstName", "$.data"),
        "last_name": text(d, "lastName", "$.data"),
        "email": text(d, "email", "$.data"),
        "phone": text(d, "phone", "$.data"),
        "account_balance_minor": minor_units(d, "accountBalance", "$.data"),
        "currency": text(d, "currency", "$.data"),
        "active": boolean(d, "active", "$.data"),
        "first_appointment_date": epoch_ms(d, "firstAppointmentDate", "$.data"),
        "first_class_date": epoch_ms(d, "firstClassDate", "$.data"),
        "home_location_id": text(d, "homeLocationId", "$.data"),
        "home_location_name": text(d, "homeLocationName", "$.data"),
        "liability_released": boolean(d, "liabilityReleased", "$.data"),
        "visit_count": integer(d, "visitCount", "$.data"),
        "referred_by": text(d, "referredBy", "$.data"),
        "status": text(d, "status", "$.data"),
        "email_consent": boolean(d, "emailConsent", "$.data"),
    }


def _order_item(d: Fields, path: str) -> Fields:
    quantity = integer(d, "quantity", path)
    return {
        "item_id": required_text(d, "itemId", path),
        "item_type": required_text(d, "type", path),
        "name": text(d, "name", path),
        "quantity": 1 if quantity is None else quantity,
        "amount_paid_minor": minor_units(d, "amountPaid", path) or 0,
        "amount_discounted_minor": minor_units(d, "amountDiscounted", path) or 0,
        "recipient_client_id": text(d, "recipientClientId", path),
        "gift_card_barcode_id": text(d, "giftCardBarcodeId", path),
    }


SIMPLE: dict[str, tuple[str, Callable[[Fields], Fields]]] = {
    "appointment.scheduled": ("appointment_scheduled", _appointment),
    "appointment.confirmed": ("appointment_confirmed", _appointment),
    "appointment.arrived": ("appointment_arrived", _appointment),
    "appointment.cancelled": ("appointment_cancelled", _appointment),
    "appointment.no_show": ("appointment_no_show", _appointment),
    "class.booked": ("class_booked", _class),
    "class.signed_up": ("class_signed_up", _class),
    "class.cancelled": ("class_cancelled", _class),
    "class.waitlist_joined": ("class_waitlist_joined", _class),
    "membership.activated": ("membership_activated", _membership),
    "contract.created": ("contract_created", _contract),
    "client.updated": ("client_profile_updated", _profile),
    "client.synced": ("client_profile_synced", _profile),
}
TYPES = (*SIMPLE, "order.placed")


def convert(payload: Any, bound_account: str | None) -> list[dict[str, Any]]:
    hook = obj(payload, "$")
    kind = required_text(hook, "type", "$")
    if kind not in TYPES:
        raise AdapterError("$.type", f"must be one of: {', '.join(TYPES)}")
    delivery = required_text(hook, "id", "$")
    occurred = epoch_ms(hook, "occurredAt", "$", required=True)
    assert occurred is not None
    acc = account(hook, bound_account, "accountId")
    data = obj(hook.get("data"), "$.data")
    client = obj(hook.get("client") or {}, "$.client")
    client_ref = text(client, "id", "$.client")
    if kind in ("client.updated", "client.synced"):
        client = {**data, **client}
        client_ref = client_ref or text(data, "id", "$.data")
    ids = {
        "email": text(client, "email", "$.client"),
        "phone": text(client, "phone", "$.client"),
        "external_ids": {SYSTEM: client_ref} if client_ref else {},
    }
    location = text(data, "locationId", "$.data") or text(hook, "locationId", "$")

    def event(event_type: str, fields: Fields, n: int = 0) -> dict[str, Any]:
        return {
            "envelope": envelope(
                event_type=event_type,
                event_id=stable_event_id(SOURCE, acc, delivery, str(n)),
                occurred_at=occurred,
                source=SOURCE,
                account_id=acc,
                ids=ids,
                location_id=location,
            ),
            **fields,
        }

    if kind in SIMPLE:
        event_type, mapper = SIMPLE[kind]
        fields = mapper(data)
        if event_type == "client_profile_synced":
            fields["historical"] = True
        return [event(event_type, fields)]
    return _order(data, location, event)


def _order(
    data: Fields, location: str | None, event: Callable[[str, Fields, int], dict[str, Any]]
) -> list[dict[str, Any]]:
    """``order.placed``: the order, then one ``ordered_product`` per item (events 1..n)."""
    order_id = required_text(data, "orderId", "$.data")
    currency = required_text(data, "currency", "$.data")
    lines = [
        _order_item(obj(it, f"$.data.items[{i}]"), f"$.data.items[{i}]")
        for i, it in enumerate(items(data.get("items"), "$.data.items"))
    ]
    total = minor_units(data, "value", "$.data")
    if total is None:
        total = sum(line["amount_paid_minor"] for line in lines)
    placed = event(
        "order_placed",
        {
            "order_id": order_id,
            "sold_by": text(data, "soldBy", "$.data"),
            "location_id": location,
            "items": lines,
            "payment_reference_id": text(data, "paymentReferenceId", "$.data"),
            "total_minor": total,
            "currency": currency,
        },
        0,
    )
    products = [
        event("ordered_product", {"order_id": order_id, **line, "currency": currency}, n + 1)
        for n, line in enumerate(lines)
    ]
    return [placed, *products]
