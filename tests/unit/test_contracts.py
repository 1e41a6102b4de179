"""The contracts in schemas/: every family loads, documents itself and round-trips on the wire."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from touchline.codec import Codec
from touchline.contracts import load
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)

BOOKING_STEPS = [
    "appointment_booking_start",
    "appointment_booking_step_profiles",
    "appointment_booking_step_stores_and_services",
    "appointment_booking_step_resources",
    "appointment_booking_step_available_appointments",
    "appointment_booking_step_summary",
    "appointment_booking",
    "appointment_booking_step_success",
    "appointment_booking_step_failed",
]

FAMILY_TOPICS = {
    "touchline.events.BookingStep": "booking",
    "touchline.events.EventBooking": "booking",
    "touchline.events.AppointmentEvent": "appointment",
    "touchline.events.ClassEvent": "class",
    "touchline.events.MembershipActivated": "membership",
    "touchline.events.ContractCreated": "membership",
    "touchline.events.OrderPlaced": "order",
    "touchline.events.OrderedProduct": "order",
    "touchline.events.ClientProfile": "client_profile",
    "touchline.events.InboundContact": "contact",
    "touchline.events.WebTouch": "web",
    "touchline.events.CrmDeal": "crm",
    "touchline.events.Feedback": "feedback",
    "touchline.events.ExperimentExposure": "experiment",
}


def envelope(event_type: str, **ids: Any) -> dict[str, Any]:
    return {
        "event_id": "0b8e6b4e-6a0e-4c1e-9a39-6c6a1c0e0a11",
        "event_type": event_type,
        "occurred_at": "2026-03-01T10:00:00Z",
        "received_at": 1_772_359_200_500,
        "source": "studio_system",
        "account_id": "acc-1",
        "ids": ids or {"cid": "147852369.3692587411"},
    }


# One realistic payload per family (JSON as a sender posts it; coerce turns it into the datum).
FIXTURES: dict[str, dict[str, Any]] = {
    "touchline.events.BookingStep": {
        "envelope": envelope("appointment_booking_step_summary"),
        "conversion_id": "conv-1",
        "appointments": [{"store_id": "s1", "store_name": "Mitte", "worker_id": "w1"}],
    },
    "touchline.events.EventBooking": {
        "envelope": envelope("event_booking"),
        "events": [
            {"event_id": "ev-9", "event_category": "workshop", "event_title": "Pottery"},
            {"event_id": "ev-10"},
        ],
    },
    "touchline.events.AppointmentEvent": {
        "envelope": envelope("appointment_cancelled", external_ids={"studio": "c-1"}),
        "appointment_id": "ap-1",
        "location_id": "1",
        "location_name": "Mitte",
        "staff_id": "st-4",
        "staff_name": "Ana",
        "start_at": "2026-03-02T09:00:00Z",
        "end_at": "2026-03-02T10:00:00+00:00",
        "duration_minutes": 60,
        "resources": ["room 2"],
        "service_id": "pr-1",
        "service_name": "Physio",
        "cancellation_reason": "ill",
    },
    "touchline.events.ClassEvent": {
        "envelope": envelope("class_waitlist_joined", external_ids={"studio": "c-1"}),
        "class_id": "cl-7",
        "class_name": "Morning Yoga",
        "start_at": 1_772_442_000_000,
        "end_at": 1_772_445_600_000,
        "waitlist_max_size": 5,
        "waitlist_position": 2,
        "cancellation_type": None,
    },
    "touchline.events.MembershipActivated": {
        "envelope": envelope("membership_activated", email="a@b.example"),
        "membership_id": "1001",
        "membership_name": "All Access Month-to-Month",
    },
    "touchline.events.ContractCreated": {
        "envelope": envelope("contract_created", external_ids={"studio": "c-1"}),
        "contract_id": "2002",
        "contract_name": "Annual",
        "sales_staff_id": "st-1",
        "sales_staff_name": "Bo",
        "start_at": "2026-03-01T00:00:00Z",
        "end_at": "2027-03-01T00:00:00Z",
        "auto_renew": True,
        "amount_minor": 59_900,
        "currency": "EUR",
    },
    "touchline.events.OrderPlaced": {
        "envelope": envelope("order_placed", external_ids={"studio": "c-1"}),
        "order_id": "o-1",
        "sold_by": "Bo",
        "items": [
            {
                "item_id": "p-1",
                "item_type": "product",
                "name": "Mat",
                "quantity": 2,
                "amount_paid_minor": 3_998,
                "amount_discounted_minor": 200,
                "gift_card_barcode_id": "GC-1",
            }
        ],
        "payment_reference_id": "pay-1",
        "total_minor": 3_998,
        "currency": "EUR",
    },
    "touchline.events.OrderedProduct": {
        "envelope": envelope("ordered_product", external_ids={"studio": "c-1"}),
        "order_id": "o-1",
        "item_id": "p-1",
        "item_type": "product",
        "quantity": 2,
        "amount_paid_minor": 3_998,
        "currency": "EUR",
    },
    "touchline.events.ClientProfile": {
        "envelope": envelope("client_profile_synced", email="A@B.example", phone="+49 30 1234"),
        "client_id": "c-1",
        "first_name": "Ann",
        "last_name": "Lee",
        "account_balance_minor": -1_500,
        "currency": "EUR",
        "active": True,
        "first_class_date": "2025-01-03T18:00:00Z",
        "visit_count": 12,
        "email_consent": False,
        "historical": True,
    },
    "touchline.events.InboundContact": {
        "envelope": envelope("contact_call", phone="+49301234"),
        "contact_id": "call-1",
        "caller_number": "+49301234",
        "called_number": "+49309999",
        "duration_seconds": 95,
        "talk_seconds": 80,
        "unique_call": True,
        "final_pbx_group": "front desk",
        "form_fields": {"message": "hi"},
        "cart_items": [{"item_id": "p-1", "price_minor": 1_999, "currency": "EUR"}],
        "geo": {"country": "DE", "city": "Berlin"},
        "first_contact": True,
    },
    "touchline.events.WebTouch": {
        "envelope": {
            **envelope("booking_cta_click"),
            "web": {"page_url": "https://s.example/#book", "utm_source": "google"},
        },
        "cta_id": "cta-book-now",
        "cta_text": "Book now",
        "hash": "book",
        "time_on_page_ms": 12_000,
    },
    "touchline.events.CrmDeal": {
        "envelope": envelope("crm_deal", external_ids={"crm": "4711"}),
        "deal_id": "d-1",
        "contact_id": "4711",
        "amount_minor": 120_000,
        "currency": "EUR",
        "status": "won",
        "closed_at": "2026-03-05T12:00:00Z",
    },
    "touchline.events.Feedback": {
        "envelope": envelope("feedback_nps"),
        "score": 9,
        "scale": 10,
        "comment": "great",
        "appointment_id": "ap-1",
    },
    "touchline.events.ExperimentExposure": {
        "envelope": envelope("experiment_exposure"),
        "experiment_id": "exp-cta",
        "variant": "b",
        "cta_id": "cta-book-today",
    },
}


def test_every_family_has_a_fixture_and_its_topic() -> None:
    assert set(CONTRACTS.families) == set(FIXTURES)
    assert {n: f.topic for n, f in CONTRACTS.families.items()} == FAMILY_TOPICS


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_family_round_trips_single_object(name: str) -> None:
    datum, errors = coerce(CONTRACTS.expanded[name], FIXTURES[name])
    assert errors == []
    data = CODEC.encode(name, datum)
    assert CODEC.decode(data) == (name, datum)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_fixture_event_type_belongs_to_its_family(name: str) -> None:
    family = CONTRACTS.family_for(FIXTURES[name]["envelope"]["event_type"])
    assert family is not None and family.name == name


def test_identity_merge_is_a_contract_without_topic() -> None:
    raw = CONTRACTS.raw["touchline.events.IdentityMerge"]
    assert "touchline.topic" not in raw
    datum = {
        "merged_at": 1,
        "account_id": "a",
        "from_client_id": "x",
        "to_client_id": "y",
        "reason": "email",
        "identifier_hash": None,
        "event_id": "0b8e6b4e-6a0e-4c1e-9a39-6c6a1c0e0a11",
    }
    assert CODEC.decode(CODEC.encode("touchline.events.IdentityMerge", datum))[1] == datum


def _records(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, list):
        for branch in node:
            yield from _records(branch, where)
    elif isinstance(node, dict):
        if node.get("type") == "record":
            yield where, node
            for field in node["fields"]:
                yield from _records(field["type"], f"{where}.{field['name']}")
        elif node.get("type") == "array":
            yield from _records(node["items"], where)
        elif node.get("type") == "map":
            yield from _records(node["values"], where)


@pytest.mark.parametrize("name", sorted(CONTRACTS.raw))
def test_every_record_and_field_has_a_doc(name: str) -> None:
    missing = []
    for where, record in _records(CONTRACTS.raw[name], name):
        if not str(record.get("doc", "")).strip():
            missing.append(where)
        missing += [
            f"{where}.{f['name']}" for f in record["fields"] if not str(f.get("doc", "")).strip()
        ]
    assert missing == []


def _has_float(node: Any) -> bool:
    if isinstance(node, str):
        return node in ("float", "double")
    if isinstance(node, list):
        return any(_has_float(n) for n in node)
    if isinstance(node, dict):
        return any(_has_float(node.get(k)) for k in ("type", "items", "values", "fields")) or any(
            _has_float(f) for f in node.get("fields", [])
        )
    return False


@pytest.mark.parametrize("name", sorted(CONTRACTS.families))
def test_families_follow_the_convention(name: str) -> None:
    raw = CONTRACTS.raw[name]
    assert raw["fields"][0] == {
        "name": "envelope",
        "type": "touchline.Envelope",
        "doc": raw["fields"][0]["doc"],
    }
    assert raw["touchline.event_types"], "a family lists its event types"
    assert not _has_float(raw), "money and counts are never float"
    for _, record in _records(raw, name):
        for field in record["fields"]:
            kind = field["type"]
            if isinstance(kind, list) and "null" in kind:
                assert kind[0] == "null" and field.get("default", "x") is None, field["name"]
            if isinstance(kind, dict) and kind.get("type") in ("array", "map"):
                assert "default" in field, field["name"]


def test_every_event_type_in_exactly_one_family() -> None:
    seen: dict[str, list[str]] = {}
    for name, family in CONTRACTS.families.items():
        for event_type in family.event_types:
            seen.setdefault(event_type, []).append(name)
    assert {t: names for t, names in seen.items() if len(names) != 1} == {}
    assert set(seen) == set(CONTRACTS.by_event_type)


def test_all_nine_booking_steps_present_in_order() -> None:
    assert list(CONTRACTS.families["touchline.events.BookingStep"].event_types) == BOOKING_STEPS
