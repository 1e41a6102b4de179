"""The studio system: client profiles (and the 2-year historical sync), appointments with
cancellations, no-shows and visits, classes with waitlists and cancellations, memberships and
contracts; orders and feedback are in :mod:`synthetic.visits`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from synthetic import visits
from synthetic.catalog import CURRENCY, LOCATIONS, SITE, STAFF
from synthetic.config import DAY, HOUR, MINUTE, YEAR
from synthetic.truth import Person
from synthetic.world import World

CLASSES = (("Morning Yoga", 60), ("Pilates", 50), ("Spin", 45), ("Yin Yoga", 75))
PASSES = (("pass-day", "Day Pass"), ("pass-10", "10-Class Card"), ("pass-unl", "Unlimited"))
MEMBERSHIPS = (
    ("1001", "All Access Month-to-Month", 8_900),
    ("1002", "Off-Peak", 5_900),
    ("1003", "Annual All Access", 89_000),
)
# class cancellation type -> its weight
CANCELLATION_TYPES = {"late_cancel": 0.5, "early_cancel": 0.4, "no_show": 0.1}
KINDS, WEIGHTS = tuple(CANCELLATION_TYPES), tuple(CANCELLATION_TYPES.values())


def appointment(
    w: World,
    person: Person,
    t: int,
    start: int,
    location: tuple[str, str],
    staff: tuple[str, str, str],
    service: tuple[str, str, int, int],
    cid: str,
) -> None:
    """An appointment scheduled at ``t`` for ``start``: cancelled, missed or visited (then
    perhaps an order and feedback)."""
    rng = w.rng
    ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
    appointment_id = w.next_id("ap")
    body = {
        "appointment_id": appointment_id,
        "location_id": location[0],
        "location_name": location[1],
        "staff_id": staff[0],
        "staff_name": staff[1],
        "start_at": start,
        "end_at": start + service[2] * MINUTE,
        "duration_minutes": service[2],
        "resources": ["room 1"] if rng.random() < 0.5 else [],
        "service_id": service[0],
        "service_name": service[1],
    }

    def emit(event_type: str, at: int, **extra: Any) -> None:
        w.emit(person, event_type, "studio_system", at, ids, {**body, **extra}, None, location[0])

    emit("appointment_scheduled", t)
    if rng.random() < 0.12:
        _cancel(w, person, start, cid, body, emit)
        return
    if rng.random() < 0.85:
        emit("appointment_confirmed", t + rng.randrange(HOUR, DAY))
    if rng.random() < 0.09:
        emit("appointment_no_show", start + 15 * MINUTE)
        return
    emit("appointment_arrived", start - rng.randrange(0, 10 * MINUTE))
    if rng.random() < 0.7:
        visits.order(w, person, start + service[2] * MINUTE, location, service)
    if rng.random() < 0.4:
        visits.feedback(w, person, start, appointment_id)


def _cancel(
    w: World,
    person: Person,
    start: int,
    cid: str,
    body: dict[str, Any],
    emit: Callable[..., None],
) -> None:
    """The appointment is cancelled an hour to a day ahead, sometimes first on the website."""
    rng = w.rng
    at = start - rng.randrange(HOUR, DAY)
    if rng.random() < 0.5:  # cancelled on the website, then synced by the studio system
        w.emit(
            person,
            "booking_cancel",
            "web",
            at - MINUTE,
            {"cid": cid, "email": person.email},
            {"page_title": "My bookings", "hash": body["appointment_id"]},
            {"page_url": f"{SITE}/account/bookings#{body['appointment_id']}"},
        )
    reason = rng.choice(("ill", "schedule conflict", "other"))
    emit("appointment_cancelled", at, cancellation_reason=reason)


def studio_life(w: World, person: Person, t: int) -> int:
    """After the first booking (or as an existing client): profile, classes, membership."""
    rng = w.rng
    if person.studio_client_id is None:
        person.studio_client_id = w.next_id("c")
    profile(w, person, t + rng.randrange(HOUR, DAY), historical=False)
    location = rng.choice(LOCATIONS)
    ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
    if rng.random() < 0.35:
        for _ in range(1 + int(rng.random() * 4)):
            t += rng.randrange(DAY, 7 * DAY)
            class_booking(w, person, t, ids, location)
    if rng.random() < 0.15:
        t = membership(w, person, t, ids, location)
    return t


def membership(
    w: World, person: Person, t: int, ids: dict[str, Any], location: tuple[str, str]
) -> int:
    """A membership activated, and the contract behind it. Returns the activation time."""
    rng = w.rng
    chosen = rng.choice(MEMBERSHIPS)
    t += rng.randrange(HOUR, 3 * DAY)
    w.emit(
        person,
        "membership_activated",
        "studio_system",
        t,
        ids,
        {
            "membership_id": chosen[0],
            "membership_name": chosen[1],
            "location_id": location[0],
            "location_name": location[1],
        },
        None,
        location[0],
    )
    staff = rng.choice(STAFF)
    w.emit(
        person,
        "contract_created",
        "studio_system",
        t + 1_000,
        ids,
        {
            "contract_id": str(rng.randrange(10**6, 10**7)),
            "contract_name": chosen[1],
            "sales_staff_id": staff[0],
            "sales_staff_name": staff[1],
            "location_id": location[0],
            "location_name": location[1],
            "start_at": t,
            "end_at": t + YEAR,
            "auto_renew": rng.random() < 0.7,
            "amount_minor": chosen[2] * (1 if chosen[0] == "1003" else 12),
            "currency": CURRENCY,
        },
        None,
        location[0],
    )
    return t


def class_booking(
    w: World, person: Person, t: int, ids: dict[str, Any], location: tuple[str, str]
) -> None:
    """A class booked (perhaps after the waitlist), perhaps cancelled or missed."""
    rng = w.rng
    name, minutes = rng.choice(CLASSES)
    staff = rng.choice(STAFF)
    item = rng.choice(PASSES)
    start = t + rng.randrange(1, 6) * DAY
    body = {
        "class_id": w.next_id("cl"),
        "class_name": name,
        "start_at": start,
        "end_at": start + minutes * MINUTE,
        "location_id": location[0],
        "location_name": location[1],
        "staff_id": staff[0],
        "staff_name": staff[1],
        "item_id": item[0],
        "item_name": item[1],
    }

    def emit(event_type: str, at: int, event: dict[str, Any]) -> None:
        w.emit(person, event_type, "studio_system", at, ids, event, None, location[0])

    if rng.random() < 0.12:
        waitlist = {"waitlist_max_size": 10, "waitlist_position": rng.randrange(1, 11)}
        emit("class_waitlist_joined", t, {**body, **waitlist})
        if rng.random() < 0.5:
            return
        t += rng.randrange(HOUR, DAY)
    emit("class_booked", t, body)
    emit("class_signed_up", t + 500, body)
    if rng.random() < 0.18:
        kind = rng.choices(KINDS, WEIGHTS)[0]
        at = start - (rng.randrange(HOUR, 12 * HOUR) if kind == "late_cancel" else DAY)
        if kind == "no_show":
            at = start + 15 * MINUTE
        emit("class_cancelled", max(at, t + 1_000), {**body, "cancellation_type": kind})


def profile(w: World, person: Person, t: int, historical: bool) -> None:
    """The studio system's client profile: new (updated) or from the historical sync."""
    rng = w.rng
    home = rng.choice(LOCATIONS)
    past = w.config.start_ms - rng.randrange(30 * DAY, 2 * YEAR)
    body = {
        "client_id": person.studio_client_id,
        "first_name": person.name[0],
        "last_name": person.name[1],
        "email": person.email,
        "phone": person.phone,
        "account_balance_minor": rng.choice((0, 0, 0, -1_500, 2_000)),
        "currency": CURRENCY,
        "active": True,
        "first_appointment_date": past if historical else t,
        "first_class_date": past + DAY if historical and rng.random() < 0.5 else None,
        "home_location_id": home[0],
        "home_location_name": home[1],
        "liability_released": rng.random() < 0.8,
        "visit_count": rng.randrange(2, 60) if historical else 1,
        "referred_by": rng.choice((None, None, "friend", "Google", "Instagram")),
        "status": "Active" if historical else "Non-Member",
        "email_consent": rng.random() < 0.6,
        "historical": historical,
    }
    ids = {
        "email": person.email,
        "phone": person.phone,
        "external_ids": {"studio": person.studio_client_id},
    }
    event_type = "client_profile_synced" if historical else "client_profile_updated"
    w.emit(person, event_type, "studio_system", t, ids, body)
