"""``touchline import``: a CRM export with good and bad rows, against the real Kafka."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import orjson
import pytest

from producers.adapters.crm import row_to_event
from producers.events import Prepared, prepare
from producers.importer import _import, run_import
from tests.support import read_topic
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, load_cached
from touchline.settings import Settings

pytestmark = pytest.mark.integration

CSV = """type,id,lead_id,contact_id,status,amount,currency,created_at,closed_at,_ga,email,utm_source
lead,L-1,,c-1,open,,,2025-03-01T10:00:00Z,,GA1.2.111.222,a@example.com,google
deal,D-1,L-1,c-1,won,1250.50,EUR,2025-03-02,2025-04-01T12:00:00Z,,a@example.com,
deal,D-2,,c-2,pending,10,EUR,2025-03-02,,,,
lead,L-2,,c-3,open,,,,,,,
deal,D-3,,c-4,lost,0,,2025-01-01,2025-02-01,,b@example.com,newsletter
"""


def test_import_csv_publishes_good_rows_and_dead_letters_bad_ones(
    live_settings: Settings, tmp_path: Path
) -> None:
    s = live_settings
    contracts = load_cached(s.schemas_dir)
    codec = Codec(contracts, s.schema_registry_url)
    path = tmp_path / "export.csv"
    path.write_text(CSV)
    err = io.StringIO()

    imported, rejected = run_import(path, s, account="acc-import", progress=False, err=err)

    assert (imported, rejected) == (3, 2)
    lines = [line for line in err.getvalue().splitlines() if line.startswith("row ")]
    assert lines == [
        "row 3: $.status: must be one of: open, won, lost",
        "row 4: $.created_at: is required (or updated_at / closed_at)",
    ]
    raw = read_topic(s.kafka_bootstrap or "", topics.raw(s, "crm"), 3, timeout=30)
    got = {
        codec.decode(m.value())[1]["envelope"]["event_id"]: codec.decode(m.value())[1] for m in raw
    }
    rows = list(csv.DictReader(io.StringIO(CSV)))
    expected = {}
    for n in (0, 1, 4):
        result = prepare(contracts, row_to_event(rows[n], "acc-import"), received_at=1)
        assert isinstance(result, Prepared)
        expected[result.datum["envelope"]["event_id"]] = result.datum
    assert set(got) == set(expected)
    for event_id, datum in got.items():
        assert datum["envelope"].pop("received_at") > 1
        expected[event_id]["envelope"].pop("received_at")
        assert datum == expected[event_id]
    won = next(d for d in got.values() if d["deal_id"] == "D-1")
    assert (won["amount_minor"], won["currency"], won["status"]) == (125050, "EUR", "won")
    assert won["envelope"]["ids"]["external_ids"] == {"crm": "c-1"}

    dead = read_topic(s.kafka_bootstrap or "", topics.dead_letter(s), 2, timeout=30)
    letters = [codec.decode(m.value()) for m in dead]
    assert [name for name, _ in letters] == [DEAD_LETTER, DEAD_LETTER]
    assert sorted(orjson.loads(d["original"])["id"] for _, d in letters) == ["D-2", "L-2"]
    assert all(d["stage"] == "ingest" for _, d in letters)


def test_import_jsonl_exit_status(live_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    good = {"type": "lead", "id": "L-9", "created_at": "2025-05-05T10:00:00Z", "account_id": "a"}
    path.write_bytes(orjson.dumps(good) + b"\n\n")
    args = argparse.Namespace(file=str(path), format=None, account=None, quiet=True)
    assert _import(args, live_settings) == 0
    path.write_bytes(orjson.dumps(good) + b"\n{broken\n")
    assert _import(args, live_settings) == 1
