"""The booking widget: the nine-step appointment funnel with drop-off and failures (a booked
appointment then lives on in the studio system), and group-event bookings."""

from __future__ import annotations

from typing import Any

from synthetic import studio
from synthetic.catalog import APPOINTMENT_SERVICES, LOCATIONS, STAFF
from synthetic.config import DAY, FUNNEL_STEPS, MINUTE
from synthetic.truth import Person
from synthetic.world import World

# Probability of going on from each step to the next (start -> ... -> appointment_booking).
FUNNEL_CONTINUE = [0.82, 0.9, 0.8, 0.72, 0.78, 0.9]
BOOKING_FAILS = 0.07
GROUP_EVENTS = (
    ("ev-retreat", "retreat", "Weekend retreat"),
    ("ev-ws-breath", "workshop", "Breathwork workshop"),
    ("ev-course-pre", "course", "Prenatal course"),
)


def funnel(w: World, person: Person, t: int, cid: str, web: dict[str, Any]) -> tuple[int, bool]:
    """The person goes through the widget until they drop off, fail or book (then the studio
    system schedules the appointment). Returns (time after, booked)."""
    rng = w.rng
    location = rng.choice(LOCATIONS)
    staff = rng.choice(STAFF)
    service = rng.choice(APPOINTMENT_SERVICES)
    conversion = w.next_id("conv")
    appointment = {
        "worker_id": staff[0],
        "resource_name": staff[1],
        "worker_email": staff[2],
        "appointment_service_id": service[0],
        "appointment_service_name": service[1],
        "store_id": location[0],
        "store_name": location[1],
    }
    steps = FUNNEL_STEPS[:7]
    if not w.config.profiles_enabled:
        steps = [s for s in steps if s != "appointment_booking_step_profiles"]
    ids: dict[str, Any] = {"cid": cid}
    for n, step in enumerate(steps):
        if step == "appointment_booking":
            ids = {"cid": cid, "email": person.email, "phone": person.phone}
        # the first three steps come before a service is chosen
        appointments = [appointment] if step not in steps[:3] else []
        body = {"conversion_id": conversion, "appointments": appointments}
        w.emit(person, step, "booking_widget", t, ids, body, web)
        t += rng.randrange(8_000, 90_000)
        if n < len(steps) - 1 and rng.random() > FUNNEL_CONTINUE[min(n, 5)]:
            return t, False
    failed = rng.random() < BOOKING_FAILS
    final = "appointment_booking_step_failed" if failed else "appointment_booking_step_success"
    body = {"conversion_id": conversion, "appointments": [appointment]}
    w.emit(person, final, "booking_widget", t, ids, body, web)
    if failed:
        return t + MINUTE, False
    if person.studio_client_id is None:
        person.studio_client_id = w.next_id("c")
    start = t + rng.randrange(1, 10) * DAY // 2
    at = t + rng.randrange(5_000, MINUTE)
    studio.appointment(w, person, at, start, location, staff, service, cid)
    return t + MINUTE, True


def event_booking(w: World, person: Person, t: int, cid: str, web: dict[str, Any] | None) -> int:
    """The person books one or two group events (retreat, workshop, course). Returns the time
    after."""
    rng = w.rng
    booked = rng.sample(GROUP_EVENTS, 1 + int(rng.random() < 0.25))
    w.emit(
        person,
        "event_booking",
        "booking_widget",
        t,
        {"cid": cid, "email": person.email},
        {
            "conversion_id": w.next_id("conv"),
            "events": [
                {"event_id": e[0], "event_category": e[1], "event_title": e[2]} for e in booked
            ],
        },
        web,
    )
    return t + MINUTE
