"""The people behind the events and the ground truth the generator planted: who did what, under
which identifiers, how many identity fragments a perfect stitcher ends with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    # identifiers several persons give (household landlines): they link no one
    shared: set[str] = field(default_factory=set)

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
            "shared": sorted(self.shared),
        }


@dataclass
class Generated:
    events: list[dict[str, Any]]
    truth: Truth


def count_fragments(timed: list[tuple[int, str, dict[str, Any]]], truth: Truth) -> None:
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
    for _, event_id, event in timed:
        ids = event["envelope"]["ids"]
        keys = [f"{k}:{ids[k]}" for k in ("cid", "email", "phone") if ids.get(k)]
        keys += [f"{k}:{v}" for k, v in ids.get("external_ids", {}).items()]
        keys = [k for k in keys if k not in truth.shared]
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
        owner = truth.event_person[event_id]
        roots.setdefault(owner, set()).add(find(key))
    for person_id, person in truth.persons.items():
        person.fragments = len(roots.get(person_id, ()))
