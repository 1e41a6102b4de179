"""The reports computed again in plain Python, from their documented definitions (not from the
SQL), in event time: what every report query must equal. The tests check the SQL against it and
``touchline demo`` checks what it prints against it (:mod:`reference.event_time` runs the events
through the worker's steps in event-time order first). Ratios use ``round(x, 6)`` like the queries.

One module per report family: :mod:`reference.identity` (splits and merges),
:mod:`reference.touches` (sessions and touches), :mod:`reference.funnel`,
:mod:`reference.attribution`, :mod:`reference.cards`, :mod:`reference.studio`,
:mod:`reference.web`; :mod:`reference.selection` holds the filters they share.
"""

from reference.attribution import MODELS, attribution
from reference.cards import client_card, client_summary
from reference.funnel import booking_funnel, booking_outcomes, booking_visits, funnel_level
from reference.identity import canonical, canonical_map, split_owner
from reference.selection import BOOKING, DAY_MS, STEPS_ALL, Event
from reference.studio import appointments, class_cancellations, classes
from reference.touches import event_time_sessions, event_time_touches, own_channel
from reference.web import engagement, experiments, feedback

__all__ = [
    "BOOKING",
    "DAY_MS",
    "MODELS",
    "STEPS_ALL",
    "Event",
    "appointments",
    "attribution",
    "booking_funnel",
    "booking_outcomes",
    "booking_visits",
    "canonical",
    "canonical_map",
    "class_cancellations",
    "classes",
    "client_card",
    "client_summary",
    "engagement",
    "event_time_sessions",
    "event_time_touches",
    "experiments",
    "feedback",
    "funnel_level",
    "own_channel",
    "split_owner",
]
