"""The Confluent wire format against the real local schema registry (Apicurio, ccompat API)."""

from __future__ import annotations

import pytest

from touchline.codec import CONFLUENT_MAGIC, Codec
from touchline.contracts import load
from touchline.services.stack import Endpoints
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

pytestmark = pytest.mark.integration
NAME = "touchline.events.BookingStep"


def test_registry_round_trip_with_a_fresh_reader(services: Endpoints) -> None:
    if services.schema_registry_url is None:
        pytest.skip("no schema registry in this environment (TOUCHLINE_LOCAL_REGISTRY=false)")
    contracts = load(REPO_ROOT / "schemas")
    datum, errors = coerce(
        contracts.expanded[NAME],
        {
            "envelope": {
                "event_id": "0b8e6b4e-6a0e-4c1e-9a39-6c6a1c0e0a11",
                "event_type": "appointment_booking",
                "occurred_at": 1,
                "received_at": 2,
                "source": "booking_widget",
                "account_id": "a",
                "ids": {"email": "a@b.de"},
            }
        },
    )
    assert errors == []
    data = Codec(contracts, services.schema_registry_url).encode(NAME, datum)
    assert data[:1] == CONFLUENT_MAGIC
    # A reader that never registered anything resolves the writer schema by id.
    assert Codec(contracts, services.schema_registry_url).decode(data) == (NAME, datum)
