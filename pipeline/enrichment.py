"""What can be said of one event without any state: campaign, channel, device, line items,
revenue and flattened attributes. Pure; ``pipeline.processor`` adds the stateful part (client,
session, touch counters, multichannel) from the Redis store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson

from pipeline import sessions
from pipeline.channels import classify
from pipeline.devices import device_type
from pipeline.utm import Campaign, effective_campaign, referrer_host

BOOKING = "touchline.events.BookingStep"
EVENT_BOOKING = "touchline.events.EventBooking"
APPOINTMENT = "touchline.events.AppointmentEvent"
CLASS = "touchline.events.ClassEvent"
ORDER = "touchline.events.OrderPlaced"
ORDERED_PRODUCT = "touchline.events.OrderedProduct"
CONTACT = "touchline.events.InboundContact"
CRM = "touchline.events.CrmDeal"

# Sources whose events happen on the business's website and so take part in web sessions. CRM
# exports and call-tracking notifications carry the web context of the visit that led to them
# (cid, UTM) but are not themselves page activity.
WEB_SOURCES = frozenset({"web", "booking_widget", "experiment", "feedback"})

# Family fields kept as columns or lines elsewhere, not repeated in attributes.
_NOT_ATTRIBUTES = {"envelope", "appointments", "events", "items", "cart_items", "form_fields"}


@dataclass(frozen=True)
class Static:
    campaign: Campaign
    channel: str
    referrer_host: str | None
    device_type: str
    has_web: bool
    is_contact: bool
    is_lead: bool
    lines: list[dict[str, Any]]
    revenue_minor: int
    currency: str | None
    attributes: dict[str, str]
    payload_json: str
    name: str | None
    location: str | None
    landing_page: str | None

    @cached_property
    def campaign_key(self) -> str | None:
        """The campaign's :func:`pipeline.sessions.campaign_key` (sessions and hits both need
        it; worked out once per event)."""
        return sessions.campaign_key(self.campaign)


def _line(**values: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "store_id": None,
        "store_name": None,
        "service_id": None,
        "service_name": None,
        "resource_id": None,
        "resource_name": None,
        "category": None,
        "quantity": 1,
        "amount_minor": 0,
    }
    line.update(values)
    return line


def _booking_lines(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            store_id=a.get("store_id"),
            store_name=a.get("store_name"),
            service_id=a.get("appointment_service_id"),
            service_name=a.get("appointment_service_name"),
            resource_id=a.get("worker_id"),
            resource_name=a.get("resource_name"),
        )
        for a in d.get("appointments", [])
    ]


def _event_booking_lines(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            service_id=e.get("event_id"),
            service_name=e.get("event_title"),
            category=e.get("event_category"),
        )
        for e in d.get("events", [])
    ]


def _visit_line(service_id: Any, service_name: Any, d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            store_id=d.get("location_id"),
            store_name=d.get("location_name"),
            service_id=service_id,
            service_name=service_name,
            resource_id=d.get("staff_id"),
            resource_name=d.get("staff_name"),
        )
    ]


def _order_lines(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            store_id=d.get("location_id"),
            service_id=i.get("item_id"),
            service_name=i.get("name"),
            category=i.get("item_type"),
            quantity=int(i.get("quantity") or 1),
            amount_minor=int(i.get("amount_paid_minor") or 0),
        )
        for i in d.get("items", [])
    ]


def _ordered_product_lines(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            service_id=d.get("item_id"),
            service_name=d.get("name"),
            category=d.get("item_type"),
            quantity=int(d.get("quantity") or 1),
            amount_minor=int(d.get("amount_paid_minor") or 0),
        )
    ]


def _cart_lines(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _line(
            service_id=i.get("item_id"),
            service_name=i.get("name"),
            quantity=int(i.get("quantity") or 1),
            amount_minor=int(i.get("price_minor") or 0),
        )
        for i in d.get("cart_items", [])
    ]


# family -> the line items (store, service, resource, quantity, amount) of one of its events
_LINES: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    BOOKING: _booking_lines,
    EVENT_BOOKING: _event_booking_lines,
    APPOINTMENT: lambda d: _visit_line(d.get("service_id"), d.get("service_name"), d),
    CLASS: lambda d: _visit_line(d.get("class_id"), d.get("class_name"), d),
    ORDER: _order_lines,
    ORDERED_PRODUCT: _ordered_product_lines,
    CONTACT: _cart_lines,
}


def lines(family: str, d: dict[str, Any]) -> list[dict[str, Any]]:
    """The line items of an event of ``family``; none for families without any."""
    make = _LINES.get(family)
    return make(d) if make is not None else []


def revenue(family: str, d: dict[str, Any]) -> tuple[int, str | None]:
    """Revenue counted once: the order total (not its per-item events) and won CRM deals."""
    if family == ORDER:
        return int(d.get("total_minor") or 0), d.get("currency")
    if family == CRM and d.get("status") == "won":
        return int(d.get("amount_minor") or 0), d.get("currency")
    return 0, None


def attributes(d: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in d.items():
        if key in _NOT_ATTRIBUTES or value is None or isinstance(value, (list, dict)):
            continue
        out[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def location_of(family: str, d: dict[str, Any]) -> str | None:
    geo = d.get("geo") if family == CONTACT else None
    if not geo:
        return None
    parts = [geo.get("city"), geo.get("region"), geo.get("country")]
    return ", ".join(p for p in parts if p) or None


def static(
    family: str,
    datum: dict[str, Any],
    own_hosts: frozenset[str] = frozenset(),
    ai_as_referral: bool = False,
) -> Static:
    envelope = datum["envelope"]
    web = envelope.get("web")
    campaign = effective_campaign(web)
    host = referrer_host(web.get("referrer")) if web else None
    payload = {k: v for k, v in datum.items() if k != "envelope"}
    amount, currency = revenue(family, datum)
    return Static(
        campaign=campaign,
        channel=classify(
            campaign,
            host,
            source_system=envelope["source"],
            event_type=envelope["event_type"],
            own_hosts=own_hosts,
            referrer=web.get("referrer") if web else None,
            page_url=web.get("page_url") if web else None,
            ai_as_referral=ai_as_referral,
        ),
        referrer_host=host,
        device_type=device_type(web.get("user_agent")) if web else "unknown",
        has_web=web is not None and envelope["source"] in WEB_SOURCES,
        is_contact=family == CONTACT,
        is_lead=family == CRM and envelope["event_type"] == "crm_lead",
        lines=lines(family, datum),
        revenue_minor=amount,
        currency=currency,
        attributes=attributes(payload),
        payload_json=orjson.dumps(payload, default=str, option=orjson.OPT_SORT_KEYS).decode(),
        name=datum.get("name") if family == CONTACT else None,
        location=location_of(family, datum),
        landing_page=(web.get("landing_page") or web.get("page_url")) if web else None,
    )
