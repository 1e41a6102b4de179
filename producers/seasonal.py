"""Weeks of seasonal booking traffic with planted anomalies, and the truth of what was planted.
Pure and seeded (one ``random.Random(seed)``).

Each account's traffic follows an hour-of-day shape (quiet nights, a morning ramp, a lunch dip,
busy afternoons) times a weekday factor (weekends quieter) times a day-to-day factor (lognormal,
``day_noise``); arrivals within an hour are Poisson. Streams per account, at ``scale`` x these
peak hourly rates: booking-widget visits (``appointment_booking_start``, and for a third of them
the ``appointment_booking`` step 2.5 minutes later and success or failure 5 seconds after it),
web page views, tracked calls, web-form contacts, and from the studio system appointment
scheduling, cancellations and no-shows. The accounts' default scales (1.5 and 1.2) give 90 and 72
visits an hour at peak.

After the first ``warmup_weeks`` (the detector's baseline needs them) each account gets, on
distinct weekdays at business hours: a 60 % drop in booking-widget visits for 3 hours (a UI update
that loses visitors: 60 % of the visits starting in the window send nothing), the booking widget
silent for 2 hours (a tag removed in a deploy: no widget event at all), and a spike (bot traffic:
booking starts x3 for 2 hours, starts only). :class:`Planted` records each one with the series it
must move and the series it may move.

Events are contract-shaped as ``POST /v1/events`` takes them (envelope + family fields).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
T0 = 1_788_739_200_000  # 2026-09-07T00:00:00Z, a Monday

# Share of the peak rate in each UTC hour of the day.
DAY_SHAPE = (
    0.02, 0.01, 0.01, 0.01, 0.02, 0.04, 0.1, 0.3, 0.6, 0.85, 1.0, 0.95,
    0.75, 0.8, 0.95, 1.0, 0.9, 0.8, 0.7, 0.55, 0.4, 0.25, 0.12, 0.05,
)  # fmt: skip
WEEK_SHAPE = (1.0, 1.0, 0.95, 1.0, 0.9, 0.7, 0.45)  # Monday .. Sunday
# Peak hourly rates at scale 1: stream -> (events per hour, source, event type).
PEAK = {
    "visit": (60.0, "booking_widget", "appointment_booking_start"),
    "page": (10.0, "web", "page_view"),
    "call": (12.0, "call_tracking", "contact_call"),
    "contact": (8.0, "web", "contact_web_form"),
    "scheduled": (8.0, "studio_system", "appointment_scheduled"),
    "cancel": (4.0, "studio_system", "appointment_cancelled"),
    "no_show": (2.0, "studio_system", "appointment_no_show"),
}
FUNNEL = (  # step after the start, probability of reaching it from the start, delay (ms)
    ("appointment_booking", 0.34, 150_000),
)
SUCCESS = 0.9
LOCATIONS = ("loc-1", "loc-2")


@dataclass(frozen=True)
class Planted:
    kind: str  # drop | silence | spike
    account: str
    start_ms: int
    end_ms: int
    source: str
    primary: str  # the series the detector must flag (silence: the source-silence signal)
    affected: tuple[str, ...]  # series this anomaly may move (an alert there is not false)


@dataclass(frozen=True)
class SeasonalConfig:
    accounts: tuple[tuple[str, float], ...] = (("studio-chain", 1.5), ("salon", 1.2))
    weeks: int = 6
    warmup_weeks: int = 2
    seed: int = 11
    day_noise: float = 0.08
    start_ms: int = T0
    plants: tuple[str, ...] = ("drop", "silence", "spike", "drop", "silence", "spike")


@dataclass
class Seasonal:
    events: list[dict[str, Any]] = field(default_factory=list)
    truth: list[Planted] = field(default_factory=list)
    end_ms: int = 0


WIDGET_SERIES = ("events:booking_widget", "booking_starts", "booking_successes", "conversion_rate")
EFFECTS = {  # kind -> (hours, primary series, affected series)
    "drop": (3, "booking_starts", WIDGET_SERIES),
    "silence": (2, "silence:booking_widget", WIDGET_SERIES),
    "spike": (2, "booking_starts", WIDGET_SERIES),
}


def generate(config: SeasonalConfig) -> Seasonal:
    rng = random.Random(config.seed)
    out = Seasonal(end_ms=config.start_ms + config.weeks * WEEK_MS)
    for account, scale in config.accounts:
        plants = _plan(rng, config, account)
        events = _traffic(rng, config, account, scale, plants)
        out.events.extend(events)
        out.truth.extend(plants)
    out.events.sort(key=lambda e: (e["envelope"]["occurred_at"], e["envelope"]["event_id"]))
    return out


def _plan(rng: random.Random, config: SeasonalConfig, account: str) -> list[Planted]:
    days = [
        d
        for d in range(config.warmup_weeks * 7, config.weeks * 7)
        if d % 7 < 5  # weekdays
    ]
    chosen = sorted(rng.sample(days, len(config.plants)))
    plants = []
    for kind, day in zip(config.plants, chosen, strict=True):
        hours, primary, affected = EFFECTS[kind]
        start = config.start_ms + day * DAY_MS + rng.randint(10, 14) * HOUR_MS
        start += rng.randrange(0, 60) * 60_000
        plants.append(
            Planted(
                kind, account, start, start + hours * HOUR_MS, "booking_widget", primary, affected
            )
        )
    return plants


def _poisson_times(rng: random.Random, rate_per_hour: float, start_ms: int) -> list[int]:
    times: list[int] = []
    t = 0.0
    while rate_per_hour > 0:
        t += rng.expovariate(rate_per_hour)
        if t >= 1.0:
            return times
        times.append(start_ms + int(t * HOUR_MS))
    return times


def _traffic(
    rng: random.Random, config: SeasonalConfig, account: str, scale: float, plants: list[Planted]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    make = _Maker(rng, account)
    for day in range(config.weeks * 7):
        factor = math.exp(rng.gauss(0.0, config.day_noise)) * WEEK_SHAPE[day % 7]
        for hour in range(24):
            start = config.start_ms + day * DAY_MS + hour * HOUR_MS
            level = scale * factor * DAY_SHAPE[hour]
            for stream, (peak, source, event_type) in PEAK.items():
                for at in _poisson_times(rng, peak * level, start):
                    if stream == "visit":
                        events.extend(_visit(rng, make, at, plants))
                    else:
                        events.append(make.event(event_type, source, at))
    for p in plants:
        if p.kind == "spike":
            for hour in range((p.end_ms - p.start_ms) // HOUR_MS):
                hour_start = p.start_ms + hour * HOUR_MS
                level = scale * WEEK_SHAPE[(hour_start - config.start_ms) // DAY_MS % 7]
                level *= DAY_SHAPE[hour_start // HOUR_MS % 24]
                for at in _poisson_times(rng, 2 * PEAK["visit"][0] * level, hour_start):
                    events.append(make.event("appointment_booking_start", "booking_widget", at))
    silences = [p for p in plants if p.kind == "silence"]
    return [
        e
        for e in events
        if not any(
            e["envelope"]["source"] == p.source
            and p.start_ms <= e["envelope"]["occurred_at"] < p.end_ms
            for p in silences
        )
    ]


def _visit(
    rng: random.Random, make: _Maker, at: int, plants: list[Planted]
) -> list[dict[str, Any]]:
    lost = any(p.kind == "drop" and p.start_ms <= at < p.end_ms for p in plants)
    if lost and rng.random() < 0.6:
        return []
    cid = f"{rng.randrange(10**8, 10**9)}.{rng.randrange(10**9, 10**10)}"
    out = [make.event("appointment_booking_start", "booking_widget", at, cid)]
    for step, p, delay in FUNNEL:
        if rng.random() > p:
            return out
        at += delay
        out.append(make.event(step, "booking_widget", at, cid))
    final = (
        "appointment_booking_step_success"
        if rng.random() < SUCCESS
        else "appointment_booking_step_failed"
    )
    out.append(make.event(final, "booking_widget", at + 5_000, cid))
    return out


def _uuid4(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (as uuid.UUID(int=..., version=4))."""
    h = f"{(bits & ~(0xF000 << 64) | (0x4000 << 64)) & ~(0xC000 << 48) | (0x8000 << 48):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class _Maker:
    def __init__(self, rng: random.Random, account: str) -> None:
        self.rng = rng
        self.account = account
        self.counter = 0

    def event(
        self, event_type: str, source: str, at: int, cid: str | None = None
    ) -> dict[str, Any]:
        self.counter += 1
        ids: dict[str, Any] = {"cid": cid} if cid else {}
        body: dict[str, Any] = {}
        if source == "studio_system":
            ids = {"external_ids": {"studio": f"c-{self.rng.randrange(10**6)}"}}
            body = {"appointment_id": f"a-{self.counter}", "start_at": at + DAY_MS}
        elif event_type.startswith("contact_"):
            ids = {"phone": f"+4930{self.rng.randrange(10**7, 10**8)}"}
            body = {"contact_id": f"k-{self.counter}"}
        envelope = {
            "event_id": _uuid4(self.rng.getrandbits(128)),
            "event_type": event_type,
            "occurred_at": at,
            "source": source,
            "account_id": self.account,
            "location_id": LOCATIONS[self.counter % len(LOCATIONS)],
            "ids": ids,
        }
        return {"envelope": envelope, **body}
