"""One person's events share a partition however a source spells their identifiers."""

from __future__ import annotations

from typing import Any

from producers.events import Prepared, partition_key, prepare
from touchline.contracts import load_cached
from touchline.settings import REPO_ROOT


def datum(**ids: Any) -> dict[str, Any]:
    return {"envelope": {"event_id": "e-1", "ids": {"external_ids": {}, **ids}}}


def test_a_ga_cookie_and_its_client_id_are_one_key() -> None:
    assert partition_key(datum(cid="GA1.2.222.333")) == partition_key(datum(cid="222.333"))
    assert partition_key(datum(cid="222.333")) == b"222.333"


def test_phones_and_emails_are_normalised() -> None:
    assert partition_key(datum(phone="(030) 555-0100")) == partition_key(
        datum(phone="+49 30 5550100")
    )
    assert partition_key(datum(email=" Anna@Example.DE ")) == partition_key(
        datum(email="anna@example.de")
    )


def test_the_strongest_identifier_present_wins_and_garbage_falls_through() -> None:
    assert partition_key(datum(cid="1.2", email="a@b.de")) == b"1.2"
    assert partition_key(datum(cid="not a client id", email="a@b.de")) == b"a@b.de"
    assert partition_key(datum(external_ids={"studio": "c-9"})) == partition_key(
        datum(external_ids={"studio": " c-9 "})
    )
    assert partition_key(datum()) == b"e-1"


def test_prepare_reads_phones_in_the_configured_region() -> None:
    """TOUCHLINE_PHONE_REGION reaches the partition key, as it reaches the worker: with AT, a
    Viennese number written nationally and internationally is one key; with DE it is not."""
    contracts = load_cached(REPO_ROOT / "schemas")

    def key(phone: str, region: str) -> bytes:
        event = {
            "envelope": {
                "event_type": "contact_call",
                "occurred_at": 1_795_000_000_000,
                "source": "call_tracking",
                "account_id": "a",
                "ids": {"phone": phone},
            },
            "contact_id": "c-1",
        }
        prepared = prepare(contracts, event, 1_795_000_000_001, phone_region=region)
        assert isinstance(prepared, Prepared), prepared
        return prepared.key

    assert key("01 5123456", "AT") == key("+43 1 5123456", "AT") == b"+4315123456"
    assert key("01 5123456", "DE") != b"+4315123456"
