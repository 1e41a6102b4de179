"""Inbound contacts: tracked calls and emails, chats, abandoned carts, web forms and callback
requests. They are where a web visitor gives a phone number or an email; the first one opens a CRM
lead."""

from __future__ import annotations

from typing import Any

from synthetic import crm
from synthetic.catalog import CURRENCY, PAGES, PRODUCTS, SITE
from synthetic.config import HOUR, MINUTE
from synthetic.truth import Person
from synthetic.world import World

TRACKING_NUMBER = "+493055550100"
# contact event type -> its weight among the contacts a visit may lead to
KINDS = {
    "contact_call": 0.45,
    "contact_web_form": 0.2,
    "contact_chat": 0.12,
    "contact_callback_request": 0.1,
    "contact_email": 0.08,
    "contact_cart": 0.05,
}


def contact(w: World, person: Person, t: int, kind: str, cid: str, web: dict[str, Any]) -> int:
    """A contact of type ``kind`` from the visitor on device ``cid``. Returns the time after."""
    rng = w.rng
    first = person.crm_contact_id is None
    body: dict[str, Any] = {"contact_id": w.next_id("ct"), "first_contact": first}
    ids: dict[str, Any] = {"cid": cid}
    source = "web"
    contact_web: dict[str, Any] | None = web
    name = f"{person.name[0]} {person.name[1]}"
    if kind == "contact_call":
        source = "call_tracking"
        ids, contact_web = _call(w, person, body, first, cid, web)
    elif kind == "contact_email":
        source = "call_tracking"
        body.update(email_subject=rng.choice(("Question about prices", "Gift card")))
        ids = {"cid": cid, "email": person.email}
    elif kind == "contact_chat":
        body.update(name=person.name[0], chat_transcript="Hi, do you have slots on Friday?")
        ids = {"cid": cid, "email": person.email}
    elif kind == "contact_cart":
        product = rng.choice(PRODUCTS)
        body.update(
            name=name,
            cart_items=[
                {
                    "item_id": product[0],
                    "name": product[1],
                    "quantity": 1,
                    "price_minor": product[2],
                    "currency": CURRENCY,
                }
            ],
        )
        ids = {"cid": cid, "email": person.email, "phone": person.phone}
    else:  # web form or callback request
        t, ids = _form(w, person, t, kind, body, name, cid, web)
    w.emit(person, kind, source, t, ids, body, contact_web)
    if first:
        crm.lead(w, person, t, ids, contact_web)
    return t + rng.randrange(MINUTE, HOUR)


def _call(
    w: World, person: Person, body: dict[str, Any], first: bool, cid: str, web: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fills a tracked call's fields into ``body``; returns its identifiers and web context."""
    rng = w.rng
    talk = 0 if rng.random() < 0.15 else rng.randrange(20, 600)
    body.update(
        caller_number=person.phone,
        called_number=TRACKING_NUMBER,
        duration_seconds=talk + rng.randrange(3, 30),
        talk_seconds=talk,
        unique_call=first,
        final_pbx_group=rng.choice(("front desk", "physio team", "sales")),
        call_page=f"{SITE}{rng.choice(PAGES)[0]}",
        recording_url=f"https://calls.example/rec/{rng.getrandbits(48):012x}.mp3",
        geo={"country": "DE", "region": "Berlin", "city": "Berlin"},
    )
    if person.historical and rng.random() < 0.5:  # offline call: only the number
        return {"phone": person.phone}, None
    return {"cid": cid, "phone": person.phone}, web


def _form(
    w: World,
    person: Person,
    t: int,
    kind: str,
    body: dict[str, Any],
    name: str,
    cid: str,
    web: dict[str, Any],
) -> tuple[int, dict[str, Any]]:
    """A callback request, or a web form (started, then submitted). Returns (time, ids)."""
    body.update(
        name=name,
        form_fields={"name": name, "phone": person.phone or "", "message": "Call me"},
    )
    ids: dict[str, Any] = {"cid": cid, "phone": person.phone}
    if kind == "contact_web_form":
        body["form_fields"]["email"] = person.email or ""
        ids["email"] = person.email
        w.emit(person, "form_start", "web", t, {"cid": cid}, {"form_id": "contact"}, web)
        t += w.rng.randrange(20_000, 3 * MINUTE)
        w.emit(person, "form_submit", "web", t, {"cid": cid}, {"form_id": "contact"}, web)
    return t, ids
