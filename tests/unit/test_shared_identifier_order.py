"""A shared phone must not make identity depend on arrival order (issue 10, item 4): three studio
profiles share the front-desk phone (max_share 2), calls come from that phone alone before and
after it proves shared. Whatever the order the events arrive in, and however they are batched,
the worker's steps (over the in-memory store that mirrors the Lua scripts) must put the same
events together, and every report must come out as in event time."""

from __future__ import annotations

import random

import pytest

from reference import event_time
from tests.split_scenarios import MIN, T0, journeys, raw
from tests.unit.test_demo_reference import reports
from touchline.settings import Settings

SETTINGS = Settings(identity_max_share=2)


def events() -> list[tuple[str, bytes]]:
    calls = [
        raw(name, "InboundContact", "contact_call", T0 + minute * MIN,
            {"phone": "(030) 555-0100"}, source="call_tracking", contact_id=name)
        for name, minute in (("call-before-p2", 90), ("call-before-p3", 200))
    ]  # fmt: skip
    return [*journeys(), *calls]


def grouping(stored: event_time.Stored, names: dict[str, str]) -> list[list[str]]:
    """The events' names, grouped by the client the reports give them."""
    by: dict[str, list[str]] = {}
    for e in stored.canonical():
        by.setdefault(e["client_id"], []).append(names[e["event_id"]])
    return sorted(sorted(group) for group in by.values())


@pytest.fixture(scope="module")
def named() -> tuple[list[bytes], dict[str, str]]:
    from tests.split_scenarios import CODEC

    values = [value for _, value in events()]
    ids = {CODEC.decode(v)[1]["envelope"]["event_id"]: n for n, v in events()}
    return values, ids


def test_calls_from_a_shared_phone_alone_belong_to_no_profile(
    named: tuple[list[bytes], dict[str, str]],
) -> None:
    values, names = named
    stored = event_time.process(values, SETTINGS)
    assert "lookup" in {s["kind"] for s in stored.splits}
    groups = grouping(stored, names)
    assert ["call-before-p2"] in groups and ["call-before-p3"] in groups
    assert ["desk-call"] in groups
    assert ["p1-profile"] in groups  # the calls left profile 1 when the phone proved shared


@pytest.mark.parametrize("seed", range(40))
def test_any_arrival_order_and_batching_gives_the_identity_and_reports_of_event_time(
    named: tuple[list[bytes], dict[str, str]], seed: int
) -> None:
    values, names = named
    in_time = event_time.process(values, SETTINGS)
    rnd = random.Random(seed)
    first, *rest = values  # profile 1: the phone has an owner before any call arrives
    rnd.shuffle(rest)
    order = [first, *rest]
    batches = [rnd.randint(1, 4) for _ in range(len(order))]
    arrived = event_time.process(order, SETTINGS, in_event_time=False, batches=batches)
    assert grouping(arrived, names) == grouping(in_time, names)
    assert reports(arrived) == reports(in_time)
