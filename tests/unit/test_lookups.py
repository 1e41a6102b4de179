"""pipeline/lookups.py: a lookup's entry keeps its own client in the fewest bytes and reads back
the same, in either layout."""

from __future__ import annotations

import pytest

from pipeline import lookups
from pipeline.client_ids import new_client_id, split_client_id
from pipeline.lookups import Lookup

EVENT = "3ba14bf2-c897-4890-927d-e2a5cdb02406"


CLIENT = "c43309797f864dbf3c5b"
PACKED = b"\x00c" + bytes.fromhex("43309797f864dbf3c5b0") + (1797880660547).to_bytes(6, "big")


@pytest.mark.parametrize(
    ("own", "raw"),
    [
        (new_client_id("acc", EVENT), PACKED),
        (split_client_id("acc", f"event:{EVENT}"), PACKED + b"s"),
        ("c-call", PACKED + b"c-call"),
    ],
)
def test_an_entry_reads_back_as_written(own: str, raw: bytes) -> None:
    lookup = Lookup(EVENT, CLIENT, own, "1797880660547")
    assert lookups.value("acc", lookup) == raw
    assert lookups.read("acc", EVENT, raw) == lookup
    # the client it makes alone is per account: another account's entry names it in full
    assert lookups.read("other", EVENT, raw).own != own or own == "c-call"


@pytest.mark.parametrize(
    ("client", "at"),
    [("c-call", "1500"), (CLIENT.upper(), "1500"), (CLIENT, "1500.5"), (CLIENT, "0150"),
     (CLIENT, str(1 << 48)), (CLIENT + "0", "1500")],
)  # fmt: skip
def test_a_client_or_time_that_does_not_pack_is_kept_as_text(client: str, at: str) -> None:
    own = split_client_id("acc", f"event:{EVENT}")
    raw = lookups.value("acc", Lookup(EVENT, client, own, at))
    assert raw == f"{client} {at} s".encode()
    assert lookups.read("acc", EVENT, raw) == Lookup(EVENT, client, own, at)


@pytest.mark.parametrize("tail", ["", " s", " c-call"])
def test_an_entry_of_the_text_layout_before_is_read(tail: str) -> None:
    raw = f"{CLIENT} 1797880660547{tail}".encode()
    packed = lookups.packed(CLIENT, "1797880660547", tail.strip())
    assert lookups.read("acc", EVENT, raw) == lookups.read("acc", EVENT, packed)
    assert lookups.parts(raw) == (CLIENT, "1797880660547", tail.strip())


def test_an_entry_of_the_layout_before_is_read() -> None:
    field = f'["{EVENT}","c1","c-own","1500"]'
    assert lookups.read("acc", field, b"") == Lookup(EVENT, "c1", "c-own", "1500")


def test_a_canonical_uuid_is_kept_in_its_16_bytes_any_other_id_as_it_is() -> None:
    assert lookups.field(EVENT) == b"\x00" + bytes.fromhex(EVENT.replace("-", ""))
    assert lookups.event_id_of(lookups.field(EVENT)) == EVENT
    for other in ("call", EVENT.upper(), EVENT.replace("-", ""), '["e1","c1","c2","1"]'):
        assert lookups.field(other) == other.encode()
        assert lookups.event_id_of(lookups.field(other)) == other


@pytest.mark.parametrize("client", [CLIENT, "c-call"])
def test_an_entry_stored_with_the_hash_s_default_client_leaves_it_out(client: str) -> None:
    own = split_client_id("acc", f"event:{EVENT}")
    lookup = Lookup(EVENT, client, own, "1797880660547")
    raw = lookups.value("acc", lookup, default=client)
    assert raw == lookups.DEFAULT + (1797880660547).to_bytes(6, "big") + b"s"
    assert lookups.read("acc", EVENT, raw, default=client) == lookup
    # another client than the default is named in full
    assert lookups.value("acc", lookup, default="c-other") == lookups.value("acc", lookup)


def test_a_hash_s_entries_are_read_with_its_default_client() -> None:
    other = Lookup("call", "c-other", new_client_id("acc", "call"), "1500")
    mine = Lookup(EVENT, CLIENT, "c-own", "1600")
    fields = {
        lookups.DEFAULT: CLIENT.encode(),
        lookups.field(EVENT): lookups.value("acc", mine, CLIENT),
        lookups.field("call"): lookups.value("acc", other, CLIENT),
    }
    assert len(fields[lookups.field(EVENT)]) == 7 + len("c-own")
    assert sorted(x for _, x in lookups.entries("acc", fields)) == sorted([mine, other])
