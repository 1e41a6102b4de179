"""Seeded synthetic data for the demo, tests and benchmarks. Pure and reproducible.

:func:`generate` plays out whole client lives for one booking business: web sessions from many
channels over days (paid search with gclid, paid social with fbclid, organic search and social,
email, referral, direct), A/B-tested booking CTAs, inbound contacts (forms, chats, callback
requests, tracked calls and emails), the nine-step booking funnel with drop-off, group-event
bookings, appointments and classes with cancellations, no-shows and waitlists, orders, memberships,
contracts, CRM leads and deals, feedback, and the studio system's client profiles (including the
2-year historical sync). One person shows up under several identifiers that the pipeline must
stitch: a web client id (sometimes two devices), then a phone number on a call, then an email and a
studio client id on the booking, appointment and profile.

Every event is contract-shaped JSON as ``POST /v1/events`` accepts it. A configurable share of
malformed events (wrong types, missing fields, unknown event types or fields) is mixed in. Beside
the events it returns the ground truth it planted: the person behind every event, each person's
identifiers, the booking funnel in distinct persons per step, revenue per person and which events
are malformed. Everything comes from one ``random.Random(seed)``: the same arguments give the same
events, byte for byte.
"""

from __future__ import annotations

import copy
import gc
import random
import uuid
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from touchline.contracts import BOOKING_STEP, load_cached
from touchline.settings import get_settings

# The nine widget steps, in order, as the BookingStep contract lists them.
FUNNEL_STEPS = list(load_cached(get_settings().schemas_dir).families[BOOKING_STEP].event_types)

# --- booking_journeys: the small booking-only data set of the walking skeleton -------------------

# The widget path without the optional profile step and the failure outcome.
STEPS = [s for s in FUNNEL_STEPS if not s.endswith(("_profiles", "_failed"))]
CONTINUE = [0.85, 0.8, 0.75, 0.7, 0.85, 0.95]
CAMPAIGNS = [
    ("google", "cpc", "spring_promo"),
    ("google", "organic", None),
    ("newsletter", "email", "november"),
    ("instagram", "social", "reels"),
    (None, None, None),
]
STORES = [("s1", "Mitte"), ("s2", "Kreuzberg")]
SERVICES = [("svc-cut", "Haircut"), ("svc-color", "Colouring"), ("svc-massage", "Massage")]
T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z


def booking_journeys(
    clients: int, seed: int, account_id: str = "demo-studio"
) -> list[dict[str, Any]]:
    """Contract-shaped booking-step events for ``clients`` visitors; drop-off at every step."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for i in range(clients):
        cid = f"{rng.randrange(10**8, 10**9)}.{rng.randrange(10**9, 10**10)}"
        source, medium, campaign = rng.choice(CAMPAIGNS)
        store = rng.choice(STORES)
        service = rng.choice(SERVICES)
        at = T0 + i * 60_000
        web = {
            "utm_source": source,
            "utm_medium": medium,
            "utm_campaign": campaign,
            "landing_page": "https://studio.example/book",
        }
        for n, step in enumerate(STEPS):
            appointments = (
                []
                if n < 2
                else [
                    {
                        "store_id": store[0],
                        "store_name": store[1],
                        "appointment_service_id": service[0],
                        "appointment_service_name": service[1],
                    }
                ]
            )
            events.append(
                {
                    "envelope": {
                        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "event_type": step,
                        "occurred_at": at + n * 20_000,
                        "source": "booking_widget",
                        "account_id": account_id,
                        "ids": {"cid": cid},
                        "web": web,
                    },
                    "appointments": appointments,
                }
            )
            if n < len(CONTINUE) and rng.random() > CONTINUE[n]:
                break
    return events


# --- generate: the full multichannel data set ----------------------------------------------------

# Probability of going on from each step to the next (start -> ... -> appointment_booking).
FUNNEL_CONTINUE = [0.82, 0.9, 0.8, 0.72, 0.78, 0.9]
BOOKING_FAILS = 0.07

SITE = "https://studio.example"
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY

# channel -> (weight, utm_source, utm_medium, campaigns, referrer, click id field)
Channel = tuple[float, str | None, str | None, tuple[str, ...], str | None, str | None]
CHANNELS: dict[str, Channel] = {
    "paid_search": (
        0.22,
        "google",
        "cpc",
        ("brand", "yoga_generic", "massage_berlin"),
        None,
        "gclid",
    ),
    "organic_search": (0.2, None, None, (), "https://www.google.com/", None),
    "paid_social": (
        0.12,
        "instagram",
        "paid_social",
        ("reels_spring", "stories_trial"),
        None,
        "fbclid",
    ),
    "organic_social": (0.08, None, None, (), "https://www.instagram.com/", None),
    "email": (0.1, "newsletter", "email", ("monthly", "winback"), None, None),
    "referral": (0.08, None, None, (), "https://www.yelp.com/biz/studio", None),
    "direct": (0.2, None, None, (), None, None),
}
CHANNEL_NAMES = list(CHANNELS)
CHANNEL_WEIGHTS = [c[0] for c in CHANNELS.values()]
TERMS = ("yoga studio", "massage near me", "physio berlin", "pilates class")
PAGES = (
    ("/", "Studio - Home"),
    ("/prices", "Prices"),
    ("/classes", "Class schedule"),
    ("/team", "Our team"),
    ("/book", "Book an appointment"),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
)
LOCATIONS = (("1", "Mitte"), ("2", "Kreuzberg"), ("3", "Prenzlauer Berg"))
STAFF = (
    ("st-1", "Ana Costa", "ana@studio.example"),
    ("st-2", "Ben Ito", "ben@studio.example"),
    ("st-3", "Cleo Marx", "cleo@studio.example"),
    ("st-4", "Dev Patel", "dev@studio.example"),
)
APPOINTMENT_SERVICES = (
    ("svc-physio", "Physiotherapy", 60, 8_900),
    ("svc-massage", "Massage", 45, 6_500),
    ("svc-pt", "Personal training", 60, 7_500),
)
CLASSES = (("Morning Yoga", 60), ("Pilates", 50), ("Spin", 45), ("Yin Yoga", 75))
PASSES = (("pass-day", "Day Pass"), ("pass-10", "10-Class Card"), ("pass-unl", "Unlimited"))
PRODUCTS = (
    ("p-mat", "Yoga mat", 3_990),
    ("p-bottle", "Bottle", 1_490),
    ("p-towel", "Towel", 1_990),
    ("p-gift", "Gift card 50", 5_000),
)
MEMBERSHIPS = (
    ("1001", "All Access Month-to-Month", 8_900),
    ("1002", "Off-Peak", 5_900),
    ("1003", "Annual All Access", 89_000),
)
GROUP_EVENTS = (
    ("ev-retreat", "retreat", "Weekend retreat"),
    ("ev-ws-breath", "workshop", "Breathwork workshop"),
    ("ev-course-pre", "course", "Prenatal course"),
)
FIRST_NAMES = (
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Eva",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Karla",
    "Leon",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Rosa",
    "Sami",
    "Tara",
    "Umut",
)
LAST_NAMES = (
    "Schmidt",
    "Novak",
    "Kowalski",
    "Ivanova",
    "Rossi",
    "Meyer",
    "Yilmaz",
    "Lee",
    "Garcia",
    "Berg",
    "Fischer",
    "Wagner",
)
EXPERIMENT = "exp-book-cta"
VARIANTS = (
    ("control", "cta-book-now", "Book now", 0.22),
    ("b", "cta-book-today", "Book your first session today", 0.3),
)
CANCELLATION_TYPES = (("late_cancel", 0.5), ("early_cancel", 0.4), ("no_show", 0.1))
CURRENCY = "EUR"
TRACKING_NUMBER = "+493055550100"

MALFORMED_KINDS = (
    "unknown_event_type",
    "missing_account_id",
    "bad_occurred_at",
    "email_not_a_string",
    "unknown_field",
    "unknown_source",
)


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``start_ms`` anchors the timeline; nothing reads the clock."""

    clients: int
    seed: int
    malformed_share: float = 0.0
    account_id: str = "demo-studio"
    start_ms: int = T0
    days: int = 60
    profiles_enabled: bool = True


@dataclass
class Person:
    """One real person and every identifier they show up under."""

    person_id: str
    cids: list[str] = field(default_factory=list)
    email: str | None = None
    phone: str | None = None
    name: tuple[str, str] = ("", "")
    studio_client_id: str | None = None
    crm_contact_id: str | None = None
    channels: list[str] = field(default_factory=list)
    revenue_minor: int = 0
    historical: bool = False
    # Identity fragments a perfect stitcher ends with (events linked by shared identifiers);
    # more than 1 when the person browsed on a device they never identified themselves on.
    fragments: int = 0

    def identifiers(self) -> dict[str, Any]:
        return {
            "cids": self.cids,
            "email": self.email,
            "phone": self.phone,
            "studio_client_id": self.studio_client_id,
            "crm_contact_id": self.crm_contact_id,
        }


@dataclass
class Truth:
    """What the generator planted, for tests and data-quality checks."""

    event_person: dict[str, str] = field(default_factory=dict)
    persons: dict[str, Person] = field(default_factory=dict)
    funnel: dict[str, int] = field(default_factory=dict)
    malformed: dict[str, str] = field(default_factory=dict)
    experiment: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_person": self.event_person,
            "persons": {
                pid: {
                    **p.identifiers(),
                    "channels": p.channels,
                    "revenue_minor": p.revenue_minor,
                    "historical": p.historical,
                    "fragments": p.fragments,
                }
                for pid, p in self.persons.items()
            },
            "identifiers": {pid: p.identifiers() for pid, p in self.persons.items()},
            "revenue_minor": {pid: p.revenue_minor for pid, p in self.persons.items()},
            "funnel": self.funnel,
            "malformed": self.malformed,
            "experiment": self.experiment,
        }


@dataclass
class Generated:
    events: list[dict[str, Any]]
    truth: Truth


def generate(config: GeneratorConfig) -> Generated:
    """Events of ``config.clients`` persons, sorted by time, and the truth behind them."""
    if config.clients < 0:
        raise ValueError("clients must be >= 0")
    if not 0.0 <= config.malformed_share < 1.0:
        raise ValueError("malformed_share must be in [0, 1)")
    world = _World(config)
    collecting = gc.isenabled()
    gc.disable()  # millions of young dicts, no cycles: the cyclic GC would only rescan them
    try:
        for i in range(config.clients):
            world.person_life(i)
        world.count_fragments()
        world.add_malformed()
        world.timed.sort(key=itemgetter(0, 1))
    finally:
        if collecting:
            gc.enable()
    world.truth.funnel = {step: len(world.funnel[step]) for step in FUNNEL_STEPS}
    world.truth.experiment = {
        variant: {"exposed": len(world.exposed[variant]), "clicked": len(world.clicked[variant])}
        for variant, *_ in VARIANTS
    }
    return Generated([event for _, _, event in world.timed], world.truth)


class _World:
    """Plays out one person after another; every random draw goes through ``self.rng``."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        # (time, event id, event): malformed events may not carry a usable time of their own.
        self.timed: list[tuple[int, str, dict[str, Any]]] = []
        self.truth = Truth()
        self.funnel: dict[str, set[str]] = {step: set() for step in FUNNEL_STEPS}
        self.exposed: dict[str, set[str]] = {v[0]: set() for v in VARIANTS}
        self.clicked: dict[str, set[str]] = {v[0]: set() for v in VARIANTS}
        self.counter = 0

    # -- primitives --------------------------------------------------------------------------

    def uuid(self) -> str:
        n = self.rng.getrandbits(128)
        n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def emit(
        self,
        person: Person,
        event_type: str,
        source: str,
        at: int,
        ids: dict[str, Any],
        body: dict[str, Any],
        web: dict[str, Any] | None = None,
        location_id: str | None = None,
    ) -> dict[str, Any]:
        event_id = self.uuid()
        envelope: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "occurred_at": at,
            "source": source,
            "account_id": self.config.account_id,
            "ids": ids,
        }
        if web is not None:
            envelope["web"] = web
        if location_id is not None:
            envelope["location_id"] = location_id
        event = {"envelope": envelope, **body}
        self.timed.append((at, event_id, event))
        self.truth.event_person[event_id] = person.person_id
        if event_type in self.funnel:
            self.funnel[event_type].add(person.person_id)
        return event

    def cid(self) -> str:
        return f"{self.rng.randrange(10**8, 10**9)}.{self.rng.randrange(10**9, 10**10)}"

    # -- one life ----------------------------------------------------------------------------

    def person_life(self, index: int) -> None:
        rng = self.rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        person = Person(
            person_id=f"p{index:06d}",
            cids=[self.cid()],
            email=f"{first}.{last}.{index}@mail.example".lower(),
            phone=f"+49151{index:08d}",  # 0151 + 8 digits: a valid German mobile number
            name=(first, last),
        )
        self.truth.persons[person.person_id] = person
        t = self.config.start_ms + int(rng.random() * self.config.days * DAY)
        if rng.random() < 0.2:  # an existing client of the studio: profile from the history sync
            person.historical = True
            person.studio_client_id = self.next_id("c")
            self.profile(person, self.config.start_ms + rng.randrange(0, HOUR), historical=True)
        identified = person.historical
        booked = False
        for visit in range(1 + int(rng.random() * 3.5)):
            device = 0
            if visit > 0 and rng.random() < 0.2:  # a second device: new cookie
                person.cids.append(self.cid())
                device = len(person.cids) - 1
            t += rng.randrange(2 * HOUR, 4 * DAY) if visit else 0
            t, web = self.web_session(person, t, person.cids[device])
            if device and not identified:  # the second device becomes known through a form
                t = self.contact(person, t, "contact_web_form", person.cids[device], web)
            if rng.random() < 0.25:
                kind = rng.choices(
                    (
                        "contact_call",
                        "contact_web_form",
                        "contact_chat",
                        "contact_callback_request",
                        "contact_email",
                        "contact_cart",
                    ),
                    (0.45, 0.2, 0.12, 0.1, 0.08, 0.05),
                )[0]
                t = self.contact(person, t, kind, person.cids[device], web)
                identified = True
            if not booked and rng.random() < 0.55:
                t, booked = self.booking_funnel(person, t, person.cids[device], web)
                identified = identified or booked
            elif rng.random() < 0.06:
                t = self.event_booking(person, t, person.cids[device], web)
        if booked or (person.historical and rng.random() < 0.5):
            t = self.studio_life(person, t)
        if person.crm_contact_id is not None and rng.random() < 0.35:
            self.crm_deal(person, t + rng.randrange(DAY, 10 * DAY))

    def web_session(self, person: Person, t: int, cid: str) -> tuple[int, dict[str, Any]]:
        rng = self.rng
        channel = rng.choices(CHANNEL_NAMES, CHANNEL_WEIGHTS)[0]
        person.channels.append(channel)
        _, source, medium, campaigns, referrer, click_id = CHANNELS[channel]
        landing = rng.randrange(len(PAGES))
        landing_path = PAGES[landing][0]
        query = ""
        web: dict[str, Any] = {"user_agent": rng.choice(USER_AGENTS)}
        if source is not None:
            campaign = rng.choice(campaigns)
            web.update(utm_source=source, utm_medium=medium, utm_campaign=campaign)
            query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
            if channel == "paid_search":
                web["utm_term"] = rng.choice(TERMS)
            web["utm_content"] = f"v{rng.randrange(1, 4)}"
        if click_id is not None:
            web[click_id] = f"{click_id[:2].upper()}{rng.getrandbits(64):016x}"
            query += f"&{click_id}={web[click_id]}"
        if referrer is not None:
            web["referrer"] = referrer
        web["landing_page"] = f"{SITE}{landing_path}{query}"
        pages = 1 + int(rng.random() * 4)
        ids = {"cid": cid}
        for n in range(pages):
            path, title = PAGES[(landing + n) % len(PAGES)]
            page_web = {**web, "page_url": f"{SITE}{path}"}
            self.emit(
                person,
                "page_view",
                "web",
                t,
                ids,
                {"page_title": title, "time_on_page_ms": rng.randrange(3_000, 120_000)},
                page_web,
            )
            t += rng.randrange(10_000, 3 * MINUTE)
        if rng.random() < 0.45:  # the booking CTA is on every page; half the visitors see the test
            # Sticky assignment: a person always sees the same variant.
            variant, cta_id, cta_text, click_rate = VARIANTS[int(person.person_id[1:]) % 2]
            self.emit(
                person,
                "experiment_exposure",
                "experiment",
                t,
                ids,
                {"experiment_id": EXPERIMENT, "variant": variant, "cta_id": cta_id},
                web,
            )
            self.exposed[variant].add(person.person_id)
            if rng.random() < click_rate:
                t += rng.randrange(2_000, 40_000)
                self.emit(
                    person,
                    "booking_cta_click",
                    "web",
                    t,
                    ids,
                    {"cta_id": cta_id, "cta_text": cta_text, "hash": "book"},
                    {**web, "page_url": f"{SITE}/#book"},
                )
                self.clicked[variant].add(person.person_id)
        return t + rng.randrange(5_000, MINUTE), web

    def contact(self, person: Person, t: int, kind: str, cid: str, web: dict[str, Any]) -> int:
        rng = self.rng
        first = person.crm_contact_id is None
        body: dict[str, Any] = {"contact_id": self.next_id("ct"), "first_contact": first}
        ids: dict[str, Any] = {"cid": cid}
        source = "web"
        contact_web: dict[str, Any] | None = web
        name = f"{person.name[0]} {person.name[1]}"
        if kind == "contact_call":
            source = "call_tracking"
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
            ids = {"cid": cid, "phone": person.phone}
            if person.historical and rng.random() < 0.5:  # offline call: only the number
                ids = {"phone": person.phone}
                contact_web = None
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
            body.update(
                name=name,
                form_fields={"name": name, "phone": person.phone or "", "message": "Call me"},
            )
            ids = {"cid": cid, "phone": person.phone}
            if kind == "contact_web_form":
                body["form_fields"]["email"] = person.email or ""
                ids["email"] = person.email
                self.emit(person, "form_start", "web", t, {"cid": cid}, {"form_id": "contact"}, web)
                t += rng.randrange(20_000, 3 * MINUTE)
                self.emit(
                    person, "form_submit", "web", t, {"cid": cid}, {"form_id": "contact"}, web
                )
        self.emit(person, kind, source, t, ids, body, contact_web)
        if first:
            person.crm_contact_id = self.next_id("crm")
            crm_ids = {**ids, "external_ids": {"crm": person.crm_contact_id}}
            self.emit(
                person,
                "crm_lead",
                "crm",
                t + rng.randrange(MINUTE, HOUR),
                crm_ids,
                {
                    "lead_id": self.next_id("lead"),
                    "contact_id": person.crm_contact_id,
                    "status": "open",
                    "stage": "new",
                    "created_at": t,
                },
                contact_web,
            )
        return t + rng.randrange(MINUTE, HOUR)

    def booking_funnel(
        self, person: Person, t: int, cid: str, web: dict[str, Any]
    ) -> tuple[int, bool]:
        rng = self.rng
        location = rng.choice(LOCATIONS)
        staff = rng.choice(STAFF)
        service = rng.choice(APPOINTMENT_SERVICES)
        conversion = self.next_id("conv")
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
        if not self.config.profiles_enabled:
            steps = [s for s in steps if s != "appointment_booking_step_profiles"]
        ids: dict[str, Any] = {"cid": cid}
        for n, step in enumerate(steps):
            if step == "appointment_booking":
                ids = {"cid": cid, "email": person.email, "phone": person.phone}
            appointments = [appointment] if step not in steps[:3] else []
            self.emit(
                person,
                step,
                "booking_widget",
                t,
                ids,
                {"conversion_id": conversion, "appointments": appointments},
                web,
            )
            t += rng.randrange(8_000, 90_000)
            if n < len(steps) - 1 and rng.random() > FUNNEL_CONTINUE[min(n, 5)]:
                return t, False
        failed = rng.random() < BOOKING_FAILS
        final = "appointment_booking_step_failed" if failed else "appointment_booking_step_success"
        self.emit(
            person,
            final,
            "booking_widget",
            t,
            ids,
            {"conversion_id": conversion, "appointments": [appointment]},
            web,
        )
        if failed:
            return t + MINUTE, False
        if person.studio_client_id is None:
            person.studio_client_id = self.next_id("c")
        start = t + rng.randrange(1, 10) * DAY // 2
        at = t + rng.randrange(5_000, MINUTE)
        self.appointment(person, at, start, location, staff, service, cid)
        return t + MINUTE, True

    def appointment(
        self,
        person: Person,
        t: int,
        start: int,
        location: tuple[str, str],
        staff: tuple[str, str, str],
        service: tuple[str, str, int, int],
        cid: str,
    ) -> None:
        rng = self.rng
        ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
        body = {
            "appointment_id": self.next_id("ap"),
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
            self.emit(
                person, event_type, "studio_system", at, ids, {**body, **extra}, None, location[0]
            )

        emit("appointment_scheduled", t)
        if rng.random() < 0.12:
            at = start - rng.randrange(HOUR, DAY)
            if rng.random() < 0.5:  # cancelled on the website, then synced by the studio system
                self.emit(
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
            return
        if rng.random() < 0.85:
            emit("appointment_confirmed", t + rng.randrange(HOUR, DAY))
        if rng.random() < 0.09:
            emit("appointment_no_show", start + 15 * MINUTE)
            return
        emit("appointment_arrived", start - rng.randrange(0, 10 * MINUTE))
        if rng.random() < 0.7:
            self.order(person, start + service[2] * MINUTE, location, service)
        if rng.random() < 0.4:
            nps = rng.random() < 0.7
            score = (
                rng.choices(range(11), (1, 1, 1, 1, 2, 3, 4, 8, 14, 18, 16))[0]
                if nps
                else rng.choices(range(1, 6), (1, 2, 4, 8, 9))[0]
            )
            self.emit(
                person,
                "feedback_nps" if nps else "feedback_csat",
                "feedback",
                start + rng.randrange(2 * HOUR, 2 * DAY),
                {"email": person.email},
                {
                    "survey_id": "post-visit",
                    "score": score,
                    "scale": 10 if nps else 5,
                    "appointment_id": body["appointment_id"],
                    "comment": "Thank you!" if score >= 8 else None,
                },
            )

    def order(
        self, person: Person, t: int, location: tuple[str, str], service: tuple[str, str, int, int]
    ) -> None:
        rng = self.rng
        items: list[dict[str, Any]] = [self._item("service", service[0], service[1], service[3])]
        if rng.random() < 0.3:
            product = rng.choice(PRODUCTS)
            items.append(self._item("product", product[0], product[1], product[2]))
        total = sum(i["amount_paid_minor"] for i in items)
        order_id = self.next_id("o")
        ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
        staff = rng.choice(STAFF)[1]
        self.emit(
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
        for item in items:
            self.emit(
                person,
                "ordered_product",
                "studio_system",
                t,
                ids,
                {"order_id": order_id, **item, "currency": CURRENCY},
                None,
                location[0],
            )
        person.revenue_minor += total

    def _item(self, kind: str, item_id: str, name: str, price: int) -> dict[str, Any]:
        rng = self.rng
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
            "gift_card_barcode_id": f"GC{rng.randrange(10**7, 10**8)}"
            if rng.random() < 0.05
            else None,
        }

    def studio_life(self, person: Person, t: int) -> int:
        """After the first booking (or as an existing client): profile, classes, membership."""
        rng = self.rng
        if person.studio_client_id is None:
            person.studio_client_id = self.next_id("c")
        self.profile(person, t + rng.randrange(HOUR, DAY), historical=False)
        location = rng.choice(LOCATIONS)
        ids = {"email": person.email, "external_ids": {"studio": person.studio_client_id}}
        if rng.random() < 0.35:
            for _ in range(1 + int(rng.random() * 4)):
                t += rng.randrange(DAY, 7 * DAY)
                self.class_booking(person, t, ids, location)
        if rng.random() < 0.15:
            membership = rng.choice(MEMBERSHIPS)
            t += rng.randrange(HOUR, 3 * DAY)
            self.emit(
                person,
                "membership_activated",
                "studio_system",
                t,
                ids,
                {
                    "membership_id": membership[0],
                    "membership_name": membership[1],
                    "location_id": location[0],
                    "location_name": location[1],
                },
                None,
                location[0],
            )
            staff = rng.choice(STAFF)
            self.emit(
                person,
                "contract_created",
                "studio_system",
                t + 1_000,
                ids,
                {
                    "contract_id": str(rng.randrange(10**6, 10**7)),
                    "contract_name": membership[1],
                    "sales_staff_id": staff[0],
                    "sales_staff_name": staff[1],
                    "location_id": location[0],
                    "location_name": location[1],
                    "start_at": t,
                    "end_at": t + YEAR,
                    "auto_renew": rng.random() < 0.7,
                    "amount_minor": membership[2] * (1 if membership[0] == "1003" else 12),
                    "currency": CURRENCY,
                },
                None,
                location[0],
            )
        if rng.random() < 0.06:
            t = self.event_booking(person, t + DAY, person.cids[0], None)
        return t

    def class_booking(
        self, person: Person, t: int, ids: dict[str, Any], location: tuple[str, str]
    ) -> None:
        rng = self.rng
        name, minutes = rng.choice(CLASSES)
        staff = rng.choice(STAFF)
        item = rng.choice(PASSES)
        start = t + rng.randrange(1, 6) * DAY
        body = {
            "class_id": self.next_id("cl"),
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
        emit = self.emit
        if rng.random() < 0.12:
            emit(
                person,
                "class_waitlist_joined",
                "studio_system",
                t,
                ids,
                {**body, "waitlist_max_size": 10, "waitlist_position": rng.randrange(1, 11)},
                None,
                location[0],
            )
            if rng.random() < 0.5:
                return
            t += rng.randrange(HOUR, DAY)
        emit(person, "class_booked", "studio_system", t, ids, body, None, location[0])
        emit(person, "class_signed_up", "studio_system", t + 500, ids, body, None, location[0])
        if rng.random() < 0.18:
            kind = rng.choices(
                [c[0] for c in CANCELLATION_TYPES], [c[1] for c in CANCELLATION_TYPES]
            )[0]
            at = start - (rng.randrange(HOUR, 12 * HOUR) if kind == "late_cancel" else DAY)
            if kind == "no_show":
                at = start + 15 * MINUTE
            emit(
                person,
                "class_cancelled",
                "studio_system",
                max(at, t + 1_000),
                ids,
                {**body, "cancellation_type": kind},
                None,
                location[0],
            )

    def event_booking(self, person: Person, t: int, cid: str, web: dict[str, Any] | None) -> int:
        rng = self.rng
        booked = rng.sample(GROUP_EVENTS, 1 + int(rng.random() < 0.25))
        self.emit(
            person,
            "event_booking",
            "booking_widget",
            t,
            {"cid": cid, "email": person.email},
            {
                "conversion_id": self.next_id("conv"),
                "events": [
                    {"event_id": e[0], "event_category": e[1], "event_title": e[2]} for e in booked
                ],
            },
            web,
        )
        return t + MINUTE

    def profile(self, person: Person, t: int, historical: bool) -> None:
        rng = self.rng
        home = rng.choice(LOCATIONS)
        past = self.config.start_ms - rng.randrange(30 * DAY, 2 * YEAR)
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
        self.emit(person, event_type, "studio_system", t, ids, body)

    def crm_deal(self, person: Person, t: int) -> None:
        rng = self.rng
        status = rng.choices(("won", "lost", "open"), (0.55, 0.25, 0.2))[0]
        amount = rng.choice((25_000, 49_000, 89_000, 120_000))
        self.emit(
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
                "deal_id": self.next_id("deal"),
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

    # -- malformed ---------------------------------------------------------------------------

    def count_fragments(self) -> None:
        """Union-find over the identifiers the (well-formed) events share, per person."""
        parent: dict[str, str] = {}

        def find(key: str) -> str:
            root = key
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[key] != root:
                parent[key], key = root, parent[key]
            return root

        first_key: list[tuple[str, str]] = []
        for _, event_id, event in self.timed:
            ids = event["envelope"]["ids"]
            keys = [f"{k}:{ids[k]}" for k in ("cid", "email", "phone") if ids.get(k)]
            keys += [f"{k}:{v}" for k, v in ids.get("external_ids", {}).items()]
            if not keys:
                keys = [f"event:{event_id}"]
            root = find(keys[0])
            for key in keys[1:]:
                other = find(key)
                if other != root:
                    parent[other] = root
            first_key.append((event_id, keys[0]))
        roots: dict[str, set[str]] = {}
        for event_id, key in first_key:
            owner = self.truth.event_person[event_id]
            roots.setdefault(owner, set()).add(find(key))
        for person_id, person in self.truth.persons.items():
            person.fragments = len(roots.get(person_id, ()))

    def add_malformed(self) -> None:
        share = self.config.malformed_share
        valid = len(self.timed)
        if share <= 0 or valid == 0:
            return
        rng = self.rng
        count = round(share * valid / (1 - share))
        for _ in range(count):
            at, base_id, base = self.timed[rng.randrange(valid)]
            event = copy.deepcopy(base)
            envelope = event["envelope"]
            event_id = self.uuid()
            envelope["event_id"] = event_id
            kind = rng.choice(MALFORMED_KINDS)
            if kind == "unknown_event_type":
                envelope["event_type"] = envelope["event_type"] + "_v0"
            elif kind == "missing_account_id":
                del envelope["account_id"]
            elif kind == "bad_occurred_at":
                envelope["occurred_at"] = "yesterday"
            elif kind == "email_not_a_string":
                envelope["ids"] = {**envelope["ids"], "email": 4711}
            elif kind == "unknown_field":
                event["utm_sorce"] = "google"
            else:
                envelope["source"] = "fax_machine"
            self.timed.append((at, event_id, event))
            self.truth.malformed[event_id] = kind
            self.truth.event_person[event_id] = self.truth.event_person[base_id]
