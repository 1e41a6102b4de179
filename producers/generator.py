"""Seeded synthetic booking journeys for the demo, tests and benchmarks. Pure and reproducible."""

from __future__ import annotations

import random
import uuid
from typing import Any

STEPS = [
    "appointment_booking_start",
    "appointment_booking_step_stores_and_services",
    "appointment_booking_step_resources",
    "appointment_booking_step_available_appointments",
    "appointment_booking_step_summary",
    "appointment_booking",
    "appointment_booking_step_success",
]
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
