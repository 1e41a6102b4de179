"""The synthetic data generator: reproducible, contract-shaped, honest about its ground truth."""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from producers import generate_command
from producers.events import Prepared, prepare
from synthetic import (
    CHANNEL_NAMES,
    FUNNEL_STEPS,
    Generated,
    GeneratorConfig,
    booking_journeys,
    generate,
)
from synthetic.config import HOUSEHOLD
from touchline.contracts import load
from touchline.errors import TouchlineError
from touchline.settings import REPO_ROOT, Settings

CONTRACTS = load(REPO_ROOT / "schemas")


@cache
def sample(clients: int = 400, seed: int = 3, share: float = 0.05) -> Generated:
    return generate(GeneratorConfig(clients=clients, seed=seed, malformed_share=share))


def valid_events(generated: Generated) -> list[dict[str, Any]]:
    return [
        e for e in generated.events if e["envelope"]["event_id"] not in generated.truth.malformed
    ]


def test_same_arguments_give_the_same_bytes() -> None:
    config = GeneratorConfig(clients=150, seed=9, malformed_share=0.03)
    first = generate_command.jsonl(generate(config).events)
    second = generate_command.jsonl(generate(config).events)
    assert first == second
    assert first.count(b"\n") == len(generate(config).events) > 150


def test_different_seeds_differ() -> None:
    one = generate_command.jsonl(generate(GeneratorConfig(clients=100, seed=1)).events)
    two = generate_command.jsonl(generate(GeneratorConfig(clients=100, seed=2)).events)
    assert one != two


def test_events_are_sorted_by_time_and_ids_unique() -> None:
    events = valid_events(sample())
    times = [e["envelope"]["occurred_at"] for e in events]
    assert times == sorted(times)
    ids = [e["envelope"]["event_id"] for e in sample().events]
    assert len(ids) == len(set(ids))
    assert set(ids) == set(sample().truth.event_person)


def test_every_well_formed_event_passes_and_every_malformed_one_fails_prepare() -> None:
    generated = sample()
    wrongly: list[str] = []
    for event in generated.events:
        event_id = event["envelope"]["event_id"]
        result = prepare(CONTRACTS, event, received_at=1)
        if isinstance(result, Prepared) == (event_id in generated.truth.malformed):
            detail = "" if isinstance(result, Prepared) else "; ".join(map(str, result))
            wrongly.append(f"{event['envelope'].get('event_type')} {event_id}: {detail}")
    assert wrongly == []
    assert set(Counter(generated.truth.malformed.values())) == {
        "unknown_event_type",
        "missing_account_id",
        "bad_occurred_at",
        "email_not_a_string",
        "unknown_field",
        "unknown_source",
    }


@pytest.mark.parametrize("share", [0.0, 0.02, 0.1])
def test_malformed_share_is_roughly_honoured(share: float) -> None:
    generated = generate(GeneratorConfig(clients=300, seed=5, malformed_share=share))
    observed = len(generated.truth.malformed) / len(generated.events)
    assert abs(observed - share) < 0.005


def test_truth_funnel_equals_a_recount_from_the_events() -> None:
    generated = sample()
    persons: dict[str, set[str]] = defaultdict(set)
    for event in valid_events(generated):
        event_type = event["envelope"]["event_type"]
        if event_type in FUNNEL_STEPS:
            persons[event_type].add(generated.truth.event_person[event["envelope"]["event_id"]])
    recount = {step: len(persons[step]) for step in FUNNEL_STEPS}
    assert generated.truth.funnel == recount
    assert recount["appointment_booking_start"] > recount["appointment_booking_step_success"] > 0
    assert recount["appointment_booking_step_failed"] > 0


def test_truth_revenue_equals_orders_plus_won_deals() -> None:
    generated = sample()
    revenue: Counter[str] = Counter()
    for event in valid_events(generated):
        person = generated.truth.event_person[event["envelope"]["event_id"]]
        event_type = event["envelope"]["event_type"]
        if event_type == "order_placed":
            assert event["total_minor"] == sum(i["amount_paid_minor"] for i in event["items"])
            revenue[person] += event["total_minor"]
        elif event_type == "crm_deal" and event["status"] == "won":
            revenue[person] += event["amount_minor"]
    truth = {p: v.revenue_minor for p, v in generated.truth.persons.items() if v.revenue_minor}
    assert truth == dict(revenue)
    assert sum(truth.values()) > 0


def test_experiment_truth_equals_a_recount() -> None:
    generated = sample()
    exposed: dict[str, set[str]] = defaultdict(set)
    cta_variant = {}
    for event in valid_events(generated):
        if event["envelope"]["event_type"] == "experiment_exposure":
            person = generated.truth.event_person[event["envelope"]["event_id"]]
            exposed[event["variant"]].add(person)
            cta_variant[event["cta_id"]] = event["variant"]
    assert {v: len(p) for v, p in exposed.items()} == {
        v: c["exposed"] for v, c in generated.truth.experiment.items()
    }
    assert len(cta_variant) == 2


def _identifiers(event: dict[str, Any]) -> list[str]:
    ids = event["envelope"]["ids"]
    found = [f"{k}:{ids[k]}" for k in ("cid", "email", "phone") if ids.get(k)]
    return found + [f"{k}:{v}" for k, v in ids.get("external_ids", {}).items()]


@pytest.mark.parametrize("households", [0.0, 0.3])
def test_identifiers_stitch_into_exactly_the_true_persons(households: float) -> None:
    """Union-find over the identifiers events share (but the household landlines the truth
    names shared) never joins two planted persons, and splits each person into exactly the
    fragments the truth announces (devices never identified, calls from a landline alone)."""
    generated = generate(
        GeneratorConfig(clients=400, seed=3, malformed_share=0.05, household_share=households)
    )
    shared = generated.truth.shared
    if households:  # each landline is given by a household of HOUSEHOLD persons (the last: <=)
        given = Counter(p.phone for p in generated.truth.persons.values() if p.phone)
        phones = [k for k in shared if k.startswith("phone:")]
        sizes = sorted(given[k.split(":", 1)[1]] for k in phones)
        assert len(phones) > 20 and sizes[1:] == [HOUSEHOLD] * (len(sizes) - 1)
        # and most of their family tablets by more of them than one web client id may link
        used = Counter(c for p in generated.truth.persons.values() for c in set(p.cids))
        tablets = [used[k.split(":", 1)[1]] for k in shared if k.startswith("cid:")]
        assert max(tablets) <= HOUSEHOLD and sum(n > 2 for n in tablets) > len(tablets) / 2
    else:
        assert not shared
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for event in valid_events(generated):
        own = [k for k in _identifiers(event) if k not in shared]
        keys = [f"event:{event['envelope']['event_id']}", *own]
        for key in keys[1:]:
            parent[find(key)] = find(keys[0])
    components: dict[str, set[str]] = defaultdict(set)
    for event_id, person in generated.truth.event_person.items():
        if event_id not in generated.truth.malformed:
            components[find(f"event:{event_id}")].add(person)
    assert all(len(persons) == 1 for persons in components.values())
    fragments = Counter(next(iter(persons)) for persons in components.values())
    assert fragments == {p: v.fragments for p, v in generated.truth.persons.items() if v.fragments}
    # Most people are one client; some stay split over an anonymous device (and on a family
    # tablet, each anonymous visit is nobody's but its own)
    tablet = {p for p, v in generated.truth.persons.items() if f"cid:{v.cids[0]}" in shared}
    alone = [n for p, n in fragments.items() if p not in tablet]
    assert sum(alone) < 1.3 * len(alone) and (not households or len(tablet) > 40)
    assert any(count > 1 for count in fragments.values())


def test_events_carry_only_their_persons_identifiers() -> None:
    generated = sample()
    for event in valid_events(generated):
        person = generated.truth.persons[
            generated.truth.event_person[event["envelope"]["event_id"]]
        ]
        ids = event["envelope"]["ids"]
        assert ids.get("cid") in (None, *person.cids)
        assert ids.get("email") in (None, person.email)
        assert ids.get("phone") in (None, person.phone)
        external = ids.get("external_ids", {})
        assert external.get("studio") in (None, person.studio_client_id)
        assert external.get("crm") in (None, person.crm_contact_id)


def test_data_covers_every_event_type_and_channel() -> None:
    generated = sample(clients=1500, seed=1, share=0.0)
    seen = Counter(e["envelope"]["event_type"] for e in generated.events)
    assert set(CONTRACTS.by_event_type) - set(seen) == set()
    channels = {c for p in generated.truth.persons.values() for c in p.channels}
    assert channels == set(CHANNEL_NAMES)
    web = [e["envelope"].get("web") or {} for e in generated.events]
    assert any(w.get("gclid") for w in web) and any(w.get("fbclid") for w in web)
    assert any(len(p.cids) > 1 for p in generated.truth.persons.values())
    assert any(p.historical for p in generated.truth.persons.values())
    cancels = {e.get("cancellation_type") for e in generated.events}
    assert {"late_cancel", "early_cancel"} <= cancels


def test_money_is_integer_minor_units() -> None:
    for event in sample().events:
        for key, value in event.items():
            if key.endswith("_minor"):
                assert value is None or type(value) is int, key


def test_booking_journeys_still_gives_valid_booking_steps() -> None:
    events = booking_journeys(clients=20, seed=11, account_id="acc")
    assert events == booking_journeys(clients=20, seed=11, account_id="acc")
    assert sum(e["envelope"]["event_type"] == "appointment_booking_start" for e in events) == 20
    assert all(isinstance(prepare(CONTRACTS, e, received_at=1), Prepared) for e in events)


def test_generate_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="malformed_share"):
        generate(GeneratorConfig(clients=1, seed=1, malformed_share=1.0))
    with pytest.raises(ValueError, match="clients"):
        generate(GeneratorConfig(clients=-1, seed=1))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="touchline")
    generate_command.register(parser.add_subparsers(dest="command", required=True))
    return parser


def test_command_writes_reproducible_files_and_truth(tmp_path: Path) -> None:
    parser = _parser()
    outputs = []
    for run in ("a", "b"):
        args = parser.parse_args(
            ["generate", "--clients", "60", "--seed", "4", "--malformed-share", "0.05",
             "--out", str(tmp_path / f"{run}.jsonl"), "--truth", str(tmp_path / f"{run}.json")]
        )  # fmt: skip
        assert args.func(args, Settings()) == 0
        outputs.append(((tmp_path / f"{run}.jsonl").read_bytes(), (tmp_path / f"{run}.json")))
    assert outputs[0][0] == outputs[1][0]
    assert outputs[0][1].read_bytes() == outputs[1][1].read_bytes()
    lines = outputs[0][0].splitlines()
    truth = json.loads(outputs[0][1].read_text())
    assert truth["events"] == len(lines)
    assert set(truth["event_person"]) == {
        json.loads(line)["envelope"]["event_id"] for line in lines
    }
    assert truth["config"]["seed"] == 4 and truth["funnel"]["appointment_booking_start"] > 0
    assert all(line == json.dumps(json.loads(line), sort_keys=True, separators=(",", ":")).encode()
               for line in lines[:50])  # fmt: skip


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--clients", "-3", "--seed", "1", "--out", "x"],
        ["generate", "--clients", "3", "--seed", "1", "--malformed-share", "1.5", "--out", "x"],
        ["generate", "--clients", "three", "--seed", "1", "--out", "x"],
    ],
)
def test_command_rejects_bad_arguments(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(argv)


def test_command_needs_a_destination() -> None:
    args = _parser().parse_args(["generate", "--clients", "3", "--seed", "1"])
    with pytest.raises(TouchlineError, match="--out"):
        args.func(args, Settings())


def test_planted_phones_and_emails_survive_normalisation() -> None:
    from synthetic import GeneratorConfig, generate
    from touchline.normalize import normalize_email, normalize_phone

    persons = generate(GeneratorConfig(clients=300, seed=3)).truth.persons.values()
    assert all(normalize_phone(p.phone) for p in persons if p.phone)
    assert all(normalize_email(p.email) for p in persons if p.email)
