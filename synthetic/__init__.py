"""Seeded synthetic data for the demo, tests and benchmarks. Pure and reproducible.

:func:`generate` plays out whole client lives for one booking business: web sessions from many
channels over days (:mod:`~synthetic.web`: paid search with gclid, paid social with fbclid, organic
search and social, email, referral, direct, and A/B-tested booking CTAs), inbound contacts
(:mod:`~synthetic.contacts`: forms, chats, callback requests, tracked calls and emails), the
nine-step booking funnel with drop-off and group-event bookings (:mod:`~synthetic.booking`),
appointments and classes with cancellations, no-shows and waitlists, memberships, contracts and the
studio system's client profiles including the 2-year historical sync (:mod:`~synthetic.studio`),
orders and feedback (:mod:`~synthetic.visits`), CRM leads and deals (:mod:`~synthetic.crm`). One
person (:mod:`~synthetic.truth`) shows up under several identifiers that the pipeline must
stitch: a web client id (sometimes two devices), then a phone number on a call, then an email and a
studio client id on the booking, appointment and profile.

Every event is contract-shaped JSON as ``POST /v1/events`` accepts it. A configurable share of
malformed events (:mod:`~synthetic.malformed`) is mixed in. Beside the events it returns the
ground truth it planted: the person behind every event, each person's identifiers, the booking
funnel in distinct persons per step, revenue per person and which events are malformed.
Everything comes from one ``random.Random(seed)`` (:mod:`~synthetic.world`): the same arguments
give the same events, byte for byte.

Not part of the runtime: no app imports this package except the ``touchline generate`` command,
and the core only from the demo (``tests/unit/test_import_graph.py``).
"""

from synthetic.config import FUNNEL_STEPS, T0, GeneratorConfig
from synthetic.journeys import booking_journeys
from synthetic.life import generate
from synthetic.truth import Generated, Person, Truth
from synthetic.web import CHANNEL_NAMES

__all__ = [
    "CHANNEL_NAMES",
    "FUNNEL_STEPS",
    "T0",
    "Generated",
    "GeneratorConfig",
    "Person",
    "Truth",
    "booking_journeys",
    "generate",
]
