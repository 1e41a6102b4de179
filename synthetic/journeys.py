"""The small booking-only data set of the walking skeleton: visitors going through the booking
widget with drop-off at every step."""

from __future__ import annotations

import random
import uuid
from typing import Any

from synthetic.config import FUNNEL_STEPS, T0

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
        chosen = {
            "store_id": store[0],
            "store_name": store[1],
            "appointment_service_id": service[0],
            "appointment_service_name": service[1],
        }
        for n, step in enumerate(STEPS):
            envelope = {
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "event_type": step,
                "occurred_at": at + n * 20_000,
                "source": "booking_widget",
                "account_id": account_id,
                "ids": {"cid": cid},
                "web": web,
            }
            events.append({"envelope": envelope, "appointments": [] if n < 2 else [dict(chosen)]})
            if n < len(CONTINUE) and rng.random() > CONTINUE[n]:
                break
    return events
