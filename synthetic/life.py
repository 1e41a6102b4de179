"""One client's life, from the first visit to the studio and the CRM, and :func:`generate`, which
plays out one life after another."""

from __future__ import annotations

import gc
from operator import itemgetter

from synthetic import booking, contacts, crm, malformed, studio, web
from synthetic.config import DAY, FAMILY_TABLET_SHARE, FUNNEL_STEPS, HOUR, GeneratorConfig
from synthetic.truth import FIRST_NAMES, LAST_NAMES, Generated, Person, count_fragments
from synthetic.world import World

CONTACT_KINDS = tuple(contacts.KINDS)
CONTACT_WEIGHTS = tuple(contacts.KINDS.values())


def generate(config: GeneratorConfig) -> Generated:
    """Events of ``config.clients`` persons, sorted by time, and the truth behind them."""
    if config.clients < 0:
        raise ValueError("clients must be >= 0")
    if not 0.0 <= config.malformed_share < 1.0:
        raise ValueError("malformed_share must be in [0, 1)")
    if not 0.0 <= config.household_share <= 1.0:
        raise ValueError("household_share must be in [0, 1]")
    w = World(config)
    collecting = gc.isenabled()
    gc.disable()  # millions of young dicts, no cycles: the cyclic GC would only rescan them
    try:
        for i in range(config.clients):
            person_life(w, i)
        count_fragments(w.timed, w.truth)
        malformed.add_malformed(w)
        w.timed.sort(key=itemgetter(0, 1))
    finally:
        if collecting:
            gc.enable()
    w.truth.funnel = {step: len(w.funnel[step]) for step in FUNNEL_STEPS}
    w.truth.experiment = {
        variant: {
            "exposed": len(w.exposed.get(variant, ())),
            "clicked": len(w.clicked.get(variant, ())),
        }
        for variant, *_ in web.VARIANTS
    }
    return Generated([event for _, _, event in w.timed], w.truth)


def person_life(w: World, index: int) -> None:
    """Person ``index``: visits on one or two devices, contacts, perhaps a booking and then a
    life as a studio client, perhaps a CRM deal."""
    rng = w.rng
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    person = Person(
        person_id=f"p{index:06d}",
        cids=[w.cid()],
        email=f"{first}.{last}.{index}@mail.example".lower(),
        phone=f"+49151{index:08d}",  # 0151 + 8 digits: a valid German mobile number
        name=(first, last),
    )
    if w.config.household_share and rng.random() < w.config.household_share:
        person.phone = w.landline()
        if rng.random() < FAMILY_TABLET_SHARE:
            person.cids[0] = w.tablet()
    w.truth.persons[person.person_id] = person
    t = w.config.start_ms + int(rng.random() * w.config.days * DAY)
    if rng.random() < 0.2:  # an existing client of the studio: profile from the history sync
        person.historical = True
        person.studio_client_id = w.next_id("c")
        studio.profile(w, person, w.config.start_ms + rng.randrange(0, HOUR), historical=True)
    identified = person.historical
    booked = False
    for visit in range(1 + int(rng.random() * 3.5)):
        device = 0
        if visit > 0 and rng.random() < 0.2:  # a second device: new cookie
            person.cids.append(w.cid())
            device = len(person.cids) - 1
        cid = person.cids[device]
        t += rng.randrange(2 * HOUR, 4 * DAY) if visit else 0
        t, context = web.session(w, person, t, cid)
        if device and not identified:  # the second device becomes known through a form
            t = contacts.contact(w, person, t, "contact_web_form", cid, context)
        if rng.random() < 0.25:
            kind = rng.choices(CONTACT_KINDS, CONTACT_WEIGHTS)[0]
            t = contacts.contact(w, person, t, kind, cid, context)
            identified = True
        if not booked and rng.random() < 0.55:
            t, booked = booking.funnel(w, person, t, cid, context)
            identified = identified or booked
        elif rng.random() < 0.06:
            t = booking.event_booking(w, person, t, cid, context)
    if booked or (person.historical and rng.random() < 0.5):
        t = studio.studio_life(w, person, t)
        if rng.random() < 0.06:
            t = booking.event_booking(w, person, t + DAY, person.cids[0], None)
    if person.crm_contact_id is not None and rng.random() < 0.35:
        crm.deal(w, person, t + rng.randrange(DAY, 10 * DAY))
