"""IdentitySplit records to rows of ``identity_splits``: the columns are the schema's fields, and
with pseudonymisation an email or phone is stored as the events' column stores it."""

from __future__ import annotations

import json

from sinks import rows
from touchline.pseudonym import RowPseudonymiser, pseudonym
from touchline.settings import REPO_ROOT

SPLIT = {
    "split_at": 1_790_000_000_000,
    "account_id": "acc",
    "kind": "claim",
    "from_client_id": "c1",
    "to_client_id": "s1",
    "identifiers": ["email:two@x.de", "phone:+49305550100", "cid:222.333"],
    "via": "phone",
    "event_id": "00000000-0000-0000-0000-000000000001",
}


def test_the_columns_are_the_schemas_fields() -> None:
    path = REPO_ROOT / "schemas/events/touchline.events.IdentitySplit.avsc"
    fields = [f["name"] for f in json.loads(path.read_text())["fields"]]
    assert list(rows.SPLIT_COLUMNS) == fields
    row = dict(zip(rows.SPLIT_COLUMNS, rows.split_to_row(SPLIT), strict=True))
    assert row["identifiers"] == SPLIT["identifiers"] and row["split_at"].year == 2026


def test_pseudonymised_splits_keep_no_clear_email_or_phone() -> None:
    pseudo = RowPseudonymiser(rows.COLUMNS, "k", "DE")
    row = dict(zip(rows.SPLIT_COLUMNS, rows.split_to_row(SPLIT, pseudo.identifier), strict=True))
    assert row["identifiers"] == [
        f"email:{pseudonym('k', 'email', 'two@x.de')}",
        f"phone:{pseudonym('k', 'phone', '+49305550100')}",
        "cid:222.333",
    ]


def test_the_sink_pseudonymises_the_splits_it_reads() -> None:
    from sinks.records import Converter
    from tests.unit.test_sink_deadletters import Msg
    from touchline.codec import Codec
    from touchline.contracts import SPLIT as NAME
    from touchline.contracts import load_cached

    codec = Codec(load_cached(REPO_ROOT / "schemas"))
    pseudo = RowPseudonymiser(rows.COLUMNS, "k", "DE")
    got = Converter(codec, pseudonymise=pseudo).convert([Msg(0, codec.encode(NAME, SPLIT))])  # type: ignore[list-item]
    splits, dead = got.splits, got.dead
    assert dead == []
    stored = splits[0][1][rows.SPLIT_COLUMNS.index("identifiers")]
    assert stored[0] == f"email:{pseudonym('k', 'email', 'two@x.de')}"
