"""After a visit to the studio: an order at the desk (the service, perhaps a product) and a
feedback survey (NPS or CSAT)."""

from __future__ import annotations

from typing import Any

from synthetic.catalog import CURRENCY, PRODUCTS, STAFF
from synthetic.config import DAY, HOUR
from synthetic.truth import Person
from synthetic.world import World


def order(
    w: World, person: Person, t: int, location: tuple[str, str], service: tuple[str, str, int, int]
) -> None:
    """An order placed at ``t`` and one event per item; its total counts as revenue."""
    rng = w.rng
    items: list[dict[str, Any]] = [item(w, "service", service[0], service[1], service[3])]
    if rng.random() < 0.3:
        product = rng.choice(PRODUCTS)
        items.append(item(w, "product", product[0], product[1], product[2]))
    total = sum(i["amount_paid_minor"] for i in items)
    order_id = w.next_id("o")
    ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
    staff = rng.choice(STAFF)[1]
    w.emit(
        person,
        "order_placed",
        "studio_system",
        t,
        ids,
        {
            "order_id": order_id,
            "sold_by": staff,
            "location_id": location[0],
            "items": items,
            "payment_reference_id": f"pay-{rng.getrandbits(40):010x}",
            "total_minor": total,
            "currency": CURRENCY,
        },
        None,
        location[0],
    )
    for each in items:
        body = {"order_id": order_id, **each, "currency": CURRENCY}
        w.emit(person, "ordered_product", "studio_system", t, ids, body, None, location[0])
    person.revenue_minor += total


def item(w: World, kind: str, item_id: str, name: str, price: int) -> dict[str, Any]:
    """One order line: quantity, sometimes a discount, rarely paid with a gift card."""
    rng = w.rng
    quantity = 1 if kind == "service" or rng.random() < 0.8 else 2
    discount = (price * quantity) // 10 if rng.random() < 0.2 else 0
    return {
        "item_id": item_id,
        "item_type": kind,
        "name": name,
        "quantity": quantity,
        "amount_paid_minor": price * quantity - discount,
        "amount_discounted_minor": discount,
        "recipient_client_id": None,
        "gift_card_barcode_id": f"GC{rng.randrange(10**7, 10**8)}" if rng.random() < 0.05 else None,
    }


def feedback(w: World, person: Person, start: int, appointment_id: str) -> None:
    """A post-visit survey answered hours to two days after the appointment at ``start``."""
    rng = w.rng
    nps = rng.random() < 0.7
    score = (
        rng.choices(range(11), (1, 1, 1, 1, 2, 3, 4, 8, 14, 18, 16))[0]
        if nps
        else rng.choices(range(1, 6), (1, 2, 4, 8, 9))[0]
    )
    w.emit(
        person,
        "feedback_nps" if nps else "feedback_csat",
        "feedback",
        start + rng.randrange(2 * HOUR, 2 * DAY),
        {"email": person.email},
        {
            "survey_id": "post-visit",
            "score": score,
            "scale": 10 if nps else 5,
            "appointment_id": appointment_id,
            "comment": "Thank you!" if score >= 8 else None,
        },
    )
