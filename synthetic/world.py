"""The generator's state while it plays out lives: one ``random.Random(seed)`` for every draw,
the events made so far and the truth they plant."""

from __future__ import annotations

import random
from typing import Any

from synthetic.config import FUNNEL_STEPS, HOUSEHOLD, GeneratorConfig
from synthetic.truth import Person, Truth


class World:
    """Every random draw goes through ``self.rng``; every event through :meth:`emit`."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        # (time, event id, event): malformed events may not carry a usable time of their own.
        self.timed: list[tuple[int, str, dict[str, Any]]] = []
        self.truth = Truth()
        self.funnel: dict[str, set[str]] = {step: set() for step in FUNNEL_STEPS}
        # A/B test variant -> persons exposed to it, persons who clicked its CTA
        self.exposed: dict[str, set[str]] = {}
        self.clicked: dict[str, set[str]] = {}
        self.counter = 0
        self.households = 0  # landlines handed out; the last one's members so far
        self.household_members = HOUSEHOLD

    def uuid(self) -> str:
        n = self.rng.getrandbits(128)
        n = (n & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def landline(self) -> str:
        """The landline of the household being filled (a new one every HOUSEHOLD persons), as
        the shared identifier the truth names."""
        if self.household_members == HOUSEHOLD:
            self.households += 1
            self.household_members = 0
        self.household_members += 1
        phone = f"+4930{5550000 + self.households:07d}"  # a Berlin landline
        self.truth.shared.add(f"phone:{phone}")
        return phone

    def tablet(self) -> str:
        """The web client id of the family tablet of the household being filled (the last
        :meth:`landline` handed out), as a shared identifier the truth names."""
        cid = f"{700_000_000 + self.households}.1790000000"
        self.truth.shared.add(f"cid:{cid}")
        return cid

    def cid(self) -> str:
        """A web client id as the ``_ga`` cookie carries it (random number . timestamp)."""
        return f"{self.rng.randrange(10**8, 10**9)}.{self.rng.randrange(10**9, 10**10)}"

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
        """A contract-shaped event of ``person`` at ``at``, recorded with its truth."""
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
