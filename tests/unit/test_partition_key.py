"""One person's events share a partition however a source spells their identifiers."""

from __future__ import annotations

from typing import Any

from producers.events import partition_key


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
