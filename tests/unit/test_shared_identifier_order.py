"""Identity with shared identifiers must not depend on arrival order (issue 10, item 4). The rule:
clients are the connected components of events linked by identifiers that are not shared (an
identifier seen with more than ``identity_max_share`` distinct emails); a shared identifier links
nothing, and an event whose only identifiers are shared is a client of its own. Scenarios: three
studio profiles share the front-desk phone (max_share 2) with calls from that phone alone before,
between and after them; calls before any profile; a shared studio tablet (one web client id, the
bookings of three people) besides the phone. The event-time result must be those components,
and whatever the order the events arrive in, and however they are batched, the worker's steps
(over the in-memory store that mirrors the Lua scripts) must put the same events together and
every report must come out as in event time."""

from __future__ import annotations

import random
from functools import cache
from typing import Any

import pytest

from reference import event_time
from tests.split_scenarios import CODEC, MIN, T0, journeys, raw
from tests.unit.test_demo_reference import reports
from touchline.settings import Settings

SETTINGS = Settings(identity_max_share=2)
TABLET = "GA1.2.777.888"


def call(name: str, minute: int) -> tuple[str, bytes]:
    return raw(name, "InboundContact", "contact_call", T0 + minute * MIN,
               {"phone": "(030) 555-0100"}, source="call_tracking", contact_id=name)  # fmt: skip


def tablet(name: str, minute: int, email: str | None) -> tuple[str, bytes]:
    """A visit (no email) or a booking on the studio's tablet."""
    ids: dict[str, Any] = {"cid": TABLET, "email": email} if email else {"cid": TABLET}
    event = "appointment_booking_start" if email else "page_view"
    family = "BookingStep" if email else "WebTouch"
    return raw(name, family, event, T0 + minute * MIN, ids, source="web")


def desk_form(name: str, minute: int) -> tuple[str, bytes]:
    """A booking form on the studio's tablet with the front-desk phone (no email): once both
    prove shared nothing says whose it is, a client of its own."""
    ids = {"cid": TABLET, "phone": "(030) 555-0100"}
    return raw(name, "BookingStep", "appointment_booking_start", T0 + minute * MIN, ids,
               source="web")  # fmt: skip


def desk_call(name: str, minute: int) -> tuple[str, bytes]:
    """A tracked call from the front-desk phone during a visit on the studio's tablet."""
    return raw(name, "InboundContact", "contact_call", T0 + minute * MIN,
               {"phone": "(030) 555-0100", "cid": TABLET}, source="call_tracking",
               contact_id=name)  # fmt: skip


SCENARIOS = {
    "calls between profiles": lambda: [*journeys(), call("call-90", 90), call("call-200", 200)],
    "calls before any profile": lambda: [
        *journeys(),
        call("call-early", -30),
        call("call-earlier", -60),
        call("call-90", 90),
    ],
    "a shared tablet too": lambda: [
        *journeys(),
        call("call-90", 90),
        tablet("tablet-visit", 50, None),
        tablet("tablet-p2", 70, "two@x.de"),
        tablet("tablet-four", 130, "four@x.de"),
        tablet("tablet-five", 260, "five@x.de"),
        tablet("tablet-visit-late", 320, None),
        desk_form("desk-form", 100),
        desk_form("desk-form-late", 300),
        desk_call("desk-tablet-call", 140),
    ],
}


@cache
def named(scenario: str) -> tuple[list[bytes], dict[str, str], event_time.Stored]:
    """The scenario's raw records, the event names by id, and what event time stores."""
    events = SCENARIOS[scenario]()
    values = [value for _, value in events]
    names = {CODEC.decode(v)[1]["envelope"]["event_id"]: n for n, v in events}
    return values, names, event_time.process(values, SETTINGS)


def grouping(stored: event_time.Stored, names: dict[str, str]) -> list[list[str]]:
    """The events' names, grouped by the client the reports give them."""
    by: dict[str, list[str]] = {}
    for e in stored.canonical():
        by.setdefault(e["client_id"], []).append(names[e["event_id"]])
    return sorted(sorted(group) for group in by.values())


def components(stored: event_time.Stored, names: dict[str, str]) -> list[list[str]]:
    """The rule, computed from the events alone: an identifier (phone, web client id) seen with
    more than max_share distinct emails is shared; events linked by the others are one client."""
    events = {e["event_id"]: e for e in stored.events}
    ids = {
        event_id: {f"{kind}:{e[kind]}" for kind in ("email", "phone", "cid") if e[kind]}
        for event_id, e in events.items()
    }
    emails: dict[str, set[str]] = {}
    for found in ids.values():
        for k in found:
            emails.setdefault(k, set()).update(i for i in found if i.startswith("email:"))
    shared = {k for k, seen in emails.items() if not k.startswith("email:")
              and len(seen) > SETTINGS.identity_max_share}  # fmt: skip
    parent = {event_id: event_id for event_id in ids}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    first: dict[str, str] = {}
    for event_id, found in ids.items():
        for k in found - shared:
            parent[root(event_id)] = root(first.setdefault(k, event_id))
    groups: dict[str, list[str]] = {}
    for event_id in ids:
        groups.setdefault(root(event_id), []).append(names[event_id])
    return sorted(sorted(g) for g in groups.values())


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_event_time_gives_the_components_of_the_identifiers_that_are_not_shared(
    scenario: str,
) -> None:
    _, names, in_time = named(scenario)
    assert grouping(in_time, names) == components(in_time, names)
    assert "claim" in {s["kind"] for s in in_time.splits}  # the rule was put to work
    assert len(grouping(in_time, names)) >= 6


def test_calls_from_a_shared_phone_alone_belong_to_no_profile() -> None:
    _, names, stored = named("calls between profiles")
    assert "lookup" in {s["kind"] for s in stored.splits}
    groups = grouping(stored, names)
    assert ["call-90"] in groups and ["call-200"] in groups
    assert ["desk-call"] in groups
    assert ["p1-profile"] in groups  # the calls left profile 1 when the phone proved shared


def arrived(scenario: str, seed: int, profile_1_first: bool) -> event_time.Stored:
    """The scenario's events in a shuffled order (profile 1 first, or anywhere), in random
    batches (one resolve and one record call per batch, as the worker does)."""
    values, _, _ = named(scenario)
    rnd = random.Random(seed)
    first, *rest = values  # profile 1
    rnd.shuffle(rest)
    order = [first, *rest]
    if not profile_1_first:
        rnd.shuffle(order)
    batches = [rnd.randint(1, 4) for _ in range(len(order))]
    return event_time.process(order, SETTINGS, in_event_time=False, batches=batches)


@pytest.mark.parametrize("seed", range(40))
def test_any_arrival_order_and_batching_gives_the_identity_and_reports_of_event_time(
    seed: int,
) -> None:
    """Profile 1 first (the phone has an owner before any call arrives), the rest shuffled."""
    _, names, in_time = named("calls between profiles")
    got = arrived("calls between profiles", seed, profile_1_first=True)
    assert grouping(got, names) == grouping(in_time, names)
    assert reports(got) == reports(in_time)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_any_arrival_order_of_any_scenario_gives_the_identity_and_reports_of_event_time(
    scenario: str, seed: int
) -> None:
    """Every event shuffled: a call or another profile may come before profile 1."""
    _, names, in_time = named(scenario)
    got = arrived(scenario, seed, profile_1_first=False)
    assert grouping(got, names) == grouping(in_time, names)
    assert reports(got) == reports(in_time)


def test_events_with_the_shared_tablet_and_the_shared_phone_alone_belong_to_no_one() -> None:
    """Before the phone and the tablet proved shared (a form, a call) or after (a later form):
    each is a client of its own in the reports."""
    _, names, stored = named("a shared tablet too")
    groups = grouping(stored, names)
    assert {"desk-form", "desk-form-late", "desk-tablet-call"} <= {g[0] for g in groups}
    assert ["desk-form"] in groups and ["desk-form-late"] in groups
    assert ["desk-tablet-call"] in groups
