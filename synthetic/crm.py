"""The CRM: a lead when a person first gets in touch, later perhaps a deal (won deals are
revenue)."""

from __future__ import annotations

from typing import Any

from synthetic.catalog import CURRENCY
from synthetic.config import DAY, HOUR, MINUTE
from synthetic.truth import Person
from synthetic.world import World


def lead(w: World, person: Person, t: int, ids: dict[str, Any], web: dict[str, Any] | None) -> None:
    """The CRM opens a contact and a lead for the person's first contact (made at ``t``)."""
    person.crm_contact_id = w.next_id("crm")
    crm_ids = {**ids, "external_ids": {"crm": person.crm_contact_id}}
    w.emit(
        person,
        "crm_lead",
        "crm",
        t + w.rng.randrange(MINUTE, HOUR),
        crm_ids,
        {
            "lead_id": w.next_id("lead"),
            "contact_id": person.crm_contact_id,
            "status": "open",
            "stage": "new",
            "created_at": t,
        },
        web,
    )


def deal(w: World, person: Person, t: int) -> None:
    """A deal with the person's CRM contact, closed (won or lost) or still open at ``t``."""
    rng = w.rng
    status = rng.choices(("won", "lost", "open"), (0.55, 0.25, 0.2))[0]
    amount = rng.choice((25_000, 49_000, 89_000, 120_000))
    w.emit(
        person,
        "crm_deal",
        "crm",
        t,
        {
            "cid": person.cids[0],
            "email": person.email,
            "external_ids": {"crm": person.crm_contact_id or ""},
        },
        {
            "deal_id": w.next_id("deal"),
            "contact_id": person.crm_contact_id,
            "amount_minor": amount,
            "currency": CURRENCY,
            "status": status,
            "stage": "closed" if status != "open" else "proposal",
            "created_at": t - rng.randrange(HOUR, 5 * DAY),
            "closed_at": t if status != "open" else None,
        },
    )
    if status == "won":
        person.revenue_minor += amount
