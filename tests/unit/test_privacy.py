"""Privacy building blocks without services: keyed hashes, the suppression list's updates, the
worker dropping a suppressed person's event, and the admin routes' keys and refusals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipeline.processor import Processor
from pipeline.store import ClientStore
from producers.admin import add_admin_routes
from producers.events import Prepared, prepare
from touchline import privacy
from touchline.codec import Codec
from touchline.contracts import load_cached
from touchline.settings import Settings
from touchline.suppression import SuppressionList, keyed_hash, stored_identifiers

SETTINGS = Settings(
    topic_prefix="unit",
    admin_keys={"adm-all": "*", "adm-a": "acc-a"},
    ingest_write_keys={"write-a": "acc-a"},
)


def test_keyed_hash_depends_on_key_account_and_identifier_and_hides_it() -> None:
    h = keyed_hash("k1", "acc", "email:ann@example.com")
    assert len(h) == 32 and "ann" not in h
    assert h == keyed_hash("k1", "acc", "email:ann@example.com")
    assert h != keyed_hash("k2", "acc", "email:ann@example.com")
    assert h != keyed_hash("k1", "other", "email:ann@example.com")


def test_suppression_list_adds_on_a_value_and_lifts_on_a_tombstone() -> None:
    lst = SuppressionList.__new__(SuppressionList)  # no Kafka: only the update logic
    lst.key, lst._hashes = "k", set()
    import threading

    lst._lock = threading.Lock()
    h = keyed_hash("k", "acc", "phone:+4930123456")
    lst._apply(h.encode(), b'{"state": "suppressed"}')
    assert lst.matches("acc", ["cid:1.2", "phone:+4930123456"])
    assert not lst.matches("other", ["phone:+4930123456"])
    lst._apply(h.encode(), None)
    assert not lst.matches("acc", ["phone:+4930123456"])


def test_the_sink_checks_client_ids_and_identifiers_of_events_and_merges() -> None:
    event = {"account_id": "a", "client_id": "c1", "email": "x@y.de", "phone": None, "cid": "1.2"}
    assert stored_identifiers(event) == ("a", ["client:c1", "email:x@y.de", "cid:1.2"])
    merge = {"account_id": "a", "from_client_id": "c2", "to_client_id": "c1"}
    assert stored_identifiers(merge) == ("a", ["client:c2", "client:c1"])


class SetSuppression:
    def __init__(self, identifiers: set[str]) -> None:
        self.identifiers = identifiers

    def drops(self, account: str, identifiers: Iterable[str], stage: str) -> bool:
        return bool(self.identifiers & set(identifiers))


def test_the_worker_drops_a_suppressed_persons_event_before_touching_redis() -> None:
    contracts = load_cached(SETTINGS.schemas_dir)
    codec = Codec(contracts)
    event = {
        "envelope": {
            "event_id": str(uuid.uuid4()),
            "event_type": "page_view",
            "occurred_at": 1_735_689_600_000,
            "source": "web",
            "account_id": "acc",
            "ids": {"email": " Ann@Example.com "},
            "web": {"page_url": "https://studio.example/"},
        }
    }
    p = prepare(contracts, event, 1_735_689_600_000)
    assert isinstance(p, Prepared)
    raw = codec.encode(p.family.name, p.datum)
    # a store whose Redis is unreachable: any call would raise
    store = ClientStore("redis://127.0.0.1:1/0", "unit")
    proc = Processor(codec, store, suppression=SetSuppression({"email:ann@example.com"}))
    out = asyncio.run(proc.handle(raw))
    assert out.outcome == "suppressed"
    assert out.enriched is None and not out.merges and out.dead_letter is None


def _admin(calls: list[Any]) -> TestClient:
    app = FastAPI()

    def eraser(settings: Settings, req: privacy.Request) -> privacy.Result:
        calls.append(req)
        return privacy.Result("rid", 1, {"clickhouse.events": 3}, 2, True)

    add_admin_routes(app, SETTINGS, eraser=eraser, lifter=lambda s, r: calls.append(r) or 1)
    return TestClient(app)


@pytest.mark.parametrize(
    "headers,body,status,field",
    [
        ({}, {"account": "acc-a", "email": "a@b.de"}, 401, None),
        ({"Authorization": "Bearer nope"}, {"account": "acc-a", "email": "a@b.de"}, 401, None),
        ({"Authorization": "Bearer write-a"}, {"account": "acc-a", "email": "a@b.de"}, 403, None),
        (
            {"Authorization": "Bearer adm-a"},
            {"account": "acc-b", "email": "a@b.de"},
            403,
            "$.account",
        ),
        ({"Authorization": "Bearer adm-all"}, {"email": "a@b.de"}, 400, "$.account"),
        (
            {"Authorization": "Bearer adm-all"},
            {"account": "a", "phone": "no phone"},
            400,
            "$.phone",
        ),
        (
            {"Authorization": "Bearer adm-all"},
            {"account": "a", "email": "a@b.de", "cid": "1.2"},
            400,
            "$",
        ),
    ],
)
def test_admin_routes_refuse_without_an_admin_key_or_with_a_bad_body(
    headers: dict[str, str], body: dict[str, Any], status: int, field: str | None
) -> None:
    calls: list[Any] = []
    resp = _admin(calls).post("/v1/admin/erasures", json=body, headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.json().get("field") == field
    assert calls == []


def test_an_admin_key_erases_and_lifts() -> None:
    calls: list[Any] = []
    client = _admin(calls)
    headers = {"Authorization": "Bearer adm-a"}
    resp = client.post(
        "/v1/admin/erasures", json={"account": "acc-a", "cid": "1.2"}, headers=headers
    )
    assert resp.status_code == 200 and resp.json()["counts"] == {"clickhouse.events": 3}
    assert calls[0] == privacy.Request("acc-a", cid="1.2", requested_by="http")
    resp = client.post(
        "/v1/admin/suppressions/lift", json={"account": "acc-a", "cid": "1.2"}, headers=headers
    )
    assert resp.status_code == 200 and resp.json() == {"lifted": 1}


def test_erase_cli_refuses_an_unusable_identifier_in_one_line_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cli.main import main

    assert main(["erase", "--account", "acc", "--phone", "not a phone"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "phone: 'not a phone' is not a usable phone" in err, err
    assert main(["erase", "--account", "acc", "--phone", "+4930123", "--cid", "1.2"]) == 2
    assert "exactly one of" in capsys.readouterr().err


def test_the_sink_drops_suppressed_clients_events_and_merges() -> None:
    from sinks.records import Converter
    from tests.report_data import event, merge
    from tests.unit.test_sink_deadletters import Msg
    from touchline.contracts import ENRICHED, MERGE

    codec = Codec(load_cached(SETTINGS.schemas_dir))
    erased, kept = event(client_id="c1"), event(client_id="c2", email="b@c.de")
    by_email = event(client_id="c9", email="a@b.de")
    values = [codec.encode(ENRICHED, d) for d in (erased, kept, by_email)]
    values.append(codec.encode(MERGE, merge("acc1", "c3", "c1", 1_735_689_600_000)))
    values.append(codec.encode(MERGE, merge("acc1", "c4", "c2", 1_735_689_600_000)))
    converter = Converter(codec, suppression=SetSuppression({"client:c1", "email:a@b.de"}))
    got = converter.convert([Msg(i, v) for i, v in enumerate(values)])  # type: ignore[misc]
    events, merges, dead = got.events, got.merges, got.dead
    assert [row[9] for _, row in events] == ["c2"]  # client_id
    assert [row[2] for _, row in merges] == ["c4"] and dead == []  # from_client_id


def test_with_pseudonymisation_the_sink_stores_hashes_and_erase_looks_them_up() -> None:
    from sinks import rows
    from sinks.records import Converter
    from tests.report_data import event
    from tests.unit.test_sink_deadletters import Msg
    from touchline.contracts import ENRICHED
    from touchline.pseudonym import RowPseudonymiser, pseudonym

    codec = Codec(load_cached(SETTINGS.schemas_dir))
    value = codec.encode(ENRICHED, event(client_id="c1", email="a@b.de", phone="+49301234567"))
    pseudo = RowPseudonymiser(rows.COLUMNS, "k", "DE")
    events = Converter(codec, pseudonymise=pseudo).convert([Msg(0, value)]).events  # type: ignore[list-item]
    assert events[0][1][rows.COLUMNS.index("email")] == pseudonym("k", "email", "a@b.de")
    on = SETTINGS.model_copy(update={"clickhouse_pseudonymise": True, "privacy_key": "k"})
    keys = privacy._stored(on, {"email:a@b.de", "cid:1.2"})
    assert keys == {"email:a@b.de", "cid:1.2", f"email:{pseudonym('k', 'email', 'a@b.de')}"}
    assert privacy._stored(SETTINGS, {"email:a@b.de"}) == {"email:a@b.de"}
