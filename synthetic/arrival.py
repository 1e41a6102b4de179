"""When events reach Touchline, as opposed to when they happened. Pure.

Real sources do not deliver in event time: the booking widget and the website post within seconds,
studio-system webhooks come minutes late, call tracking logs a call after it ends, CRM exports
arrive hours later. :func:`arrival_order` replays generated events the way those sources would
deliver them, so the demo (and tests) exercise out-of-order arrival instead of a sorted timeline.
"""

from __future__ import annotations

import random
from typing import Any

from synthetic.config import HOUR, MINUTE

# source -> (least, most) delay in ms between occurred_at and arrival
DELAYS: dict[str, tuple[int, int]] = {
    "web": (0, 5_000),
    "booking_widget": (0, 5_000),
    "experiment": (0, 5_000),
    "feedback": (MINUTE, 2 * HOUR),
    "studio_system": (MINUTE, 15 * MINUTE),
    "call_tracking": (MINUTE, 30 * MINUTE),
    "crm": (HOUR, 12 * HOUR),
}
OTHER = (0, 10 * MINUTE)


def arrival_at(event: Any, rnd: random.Random) -> int:
    """A plausible arrival time of ``event`` (malformed events arrive when they happened, or at
    0 when they carry no usable time)."""
    envelope = event.get("envelope") if isinstance(event, dict) else None
    if not isinstance(envelope, dict):
        return 0
    at = envelope.get("occurred_at")
    if not isinstance(at, int) or isinstance(at, bool):
        return 0
    least, most = DELAYS.get(str(envelope.get("source")), OTHER)
    return at + rnd.randint(least, most)


def arrival_order(events: list[Any], seed: int) -> list[Any]:
    """``events`` in the order their sources would deliver them (seeded, reproducible)."""
    rnd = random.Random(seed)
    timed = [(arrival_at(e, rnd), i, e) for i, e in enumerate(events)]
    timed.sort(key=lambda t: (t[0], t[1]))
    return [e for _, _, e in timed]


def out_of_order(events: list[Any]) -> int:
    """How many events arrive after an event that happened later than they did."""
    latest, late = None, 0
    for e in events:
        envelope = e.get("envelope") if isinstance(e, dict) else None
        at = envelope.get("occurred_at") if isinstance(envelope, dict) else None
        if not isinstance(at, int):
            continue
        if latest is not None and at < latest:
            late += 1
        latest = at if latest is None else max(latest, at)
    return late
