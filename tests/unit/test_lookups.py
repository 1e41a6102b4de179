"""pipeline/lookups.py: a lookup's entry keeps its own client in the fewest bytes and reads back
the same, in either layout."""

from __future__ import annotations

import pytest

from pipeline import lookups
from pipeline.client_ids import new_client_id, split_client_id
from pipeline.lookups import Lookup

EVENT = "3ba14bf2-c897-4890-927d-e2a5cdb02406"


@pytest.mark.parametrize(
    ("own", "text"),
    [
        (new_client_id("acc", EVENT), "c43309797f864dbf3c5b 1797880660547"),
        (split_client_id("acc", f"event:{EVENT}"), "c43309797f864dbf3c5b 1797880660547 s"),
        ("c-call", "c43309797f864dbf3c5b 1797880660547 c-call"),
    ],
)
def test_an_entry_reads_back_as_written(own: str, text: str) -> None:
    lookup = Lookup(EVENT, "c43309797f864dbf3c5b", own, "1797880660547")
    assert lookups.value("acc", lookup) == text
    assert lookups.read("acc", EVENT, text) == lookup
    # the client it makes alone is per account: another account's entry names it in full
    assert lookups.read("other", EVENT, text).own != own or own == "c-call"


def test_an_entry_of_the_layout_before_is_read() -> None:
    field = f'["{EVENT}","c1","c-own","1500"]'
    assert lookups.read("acc", field, "") == Lookup(EVENT, "c1", "c-own", "1500")


def test_a_canonical_uuid_is_kept_in_its_16_bytes_any_other_id_as_it_is() -> None:
    assert lookups.field(EVENT) == b"\x00" + bytes.fromhex(EVENT.replace("-", ""))
    assert lookups.event_id_of(lookups.field(EVENT)) == EVENT
    for other in ("call", EVENT.upper(), EVENT.replace("-", ""), '["e1","c1","c2","1"]'):
        assert lookups.field(other) == other.encode()
        assert lookups.event_id_of(lookups.field(other)) == other
