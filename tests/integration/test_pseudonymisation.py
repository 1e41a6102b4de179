"""Pseudonymisation (issue 12, optional): with TOUCHLINE_CLICKHOUSE_PSEUDONYMISE the sink stores
email and phone as keyed hashes, in their columns and wherever the payload or attributes repeat
them; the client card report still finds the client by the clear email or phone. chDB."""

from __future__ import annotations

import orjson

from sinks import clickhouse, rows
from tests.report_data import event
from touchline.pseudonym import RowPseudonymiser, lookup_value, pseudonym
from touchline.settings import Settings

KEY, REGION = "k-test", "DE"


def _events() -> list[dict[str, object]]:
    payload = {"email": " Ann@Example.com ", "phone": "030 1234567", "note": "call back"}
    ann = event(
        client_id="c-ann",
        email="ann@example.com",
        phone="+49301234567",
        family="touchline.events.ClientProfile",
        event_type="client_profile_updated",
        payload_json=orjson.dumps(payload).decode(),
        attributes={"contact": "ANN@example.com", "status": "Active"},
    )
    return [ann, event(client_id="c-bob", email="bob@example.com")]


def test_rows_keep_no_clear_email_or_phone() -> None:
    pseudo = RowPseudonymiser(rows.COLUMNS, KEY, REGION)
    row = pseudo(rows.to_row(_events()[0]))
    text = str(row).lower()
    assert "ann@example.com" not in text and "1234567" not in text
    email = pseudonym(KEY, "email", "ann@example.com")
    assert row[rows.COLUMNS.index("email")] == email
    payload = orjson.loads(row[rows.COLUMNS.index("payload_json")])
    assert payload == {
        "email": email,
        "phone": pseudonym(KEY, "phone", "+49301234567"),
        "note": "call back",
    }
    assert row[rows.COLUMNS.index("attributes")] == {"contact": email, "status": "Active"}
    assert lookup_value(" ANN@example.com", KEY, REGION) == email
    assert lookup_value("030 1234567", KEY, REGION) == pseudonym(KEY, "phone", "+49301234567")
    assert lookup_value("c-ann", KEY, REGION) == "c-ann"


def test_the_client_card_is_found_by_the_clear_value(chdb_settings: Settings) -> None:
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    clickhouse.migrate(client, db)
    pseudo = RowPseudonymiser(rows.COLUMNS, KEY, REGION)
    clickhouse.insert_events(client, db, [pseudo(rows.to_row(e)) for e in _events()])
    stored = str(client.query(f"SELECT * FROM `{db}`.events").result_rows).lower()
    profiles = str(client.query(f"SELECT * FROM `{db}`.client_profiles").result_rows).lower()
    assert "ann@example.com" not in stored + profiles and "1234567" not in stored + profiles
    for clear in ("Ann@Example.com", "+49 30 1234567"):
        found = clickhouse.query(
            client, "client_summary", db, {"client": lookup_value(clear, KEY, REGION)}
        )[1]
        assert [r[0] for r in found] == ["c-ann"], (clear, found)
