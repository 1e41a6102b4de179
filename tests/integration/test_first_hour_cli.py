"""The first hour of a new user, through the real ``touchline`` command (subprocesses): output piped
into ``head``, ``import --help``, per-report options, money and labels in every output format, the
funnel by store, and ``touchline import`` of a CSV named .txt."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from producers.adapters.crm import row_to_event
from tests.support import settings_env
from touchline.settings import Settings

pytestmark = pytest.mark.integration

LOAD = """
import sys
from sinks import clickhouse, rows
from tests.report_data import generate
client = clickhouse.connect(sys.argv[1])
clickhouse.migrate(client, "touchline")
data = generate(seed=7, clients=90)
clickhouse.insert_events(client, "touchline", [rows.to_row(e) for e in data.events])
clickhouse.insert_merges(client, "touchline", [rows.merge_to_row(m) for m in data.merges])
"""


def touchline(
    *args: str, env: dict[str, str] | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output="stdout" not in kw,
        text=True,
        timeout=300,
        **kw,
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A chDB directory with generated report data, and the environment that reads it."""
    root = tmp_path_factory.mktemp("first-hour")
    dsn = f"chdb://{root / 'clickhouse'}"
    subprocess.run([sys.executable, "-c", LOAD, dsn], check=True, timeout=300)
    return {
        **os.environ,
        "TOUCHLINE_STATE_DIR": str(root / "state"),
        "TOUCHLINE_CLICKHOUSE_DSN": dsn,
        "TOUCHLINE_CLICKHOUSE_DATABASE": "touchline",
    }


def test_report_into_a_closed_pipe_ends_quietly(env: dict[str, str]) -> None:
    read, write = os.pipe()
    os.close(read)  # `| head` that has already exited
    try:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "report", "booking_funnel"],
            env=env,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write)
    assert done.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert done.returncode == 141  # as a process ended by SIGPIPE


def _fields_the_adapter_reads() -> set[str]:
    """The row keys the CRM adapter looks at, recorded while it maps a row."""
    seen: set[str] = set()

    class Recording(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            seen.add(key)
            return super().get(key, default)

    row_to_event(Recording(type="deal", id="D-1", created_at="2025-01-01", account_id="a"), None)
    return seen


def test_import_help_lists_the_crm_row_fields() -> None:
    text = touchline("import", "--help").stdout
    listed = set(re.findall(r"[a-z_]+", text.split("Row fields")[1].split("A bad row")[0]))
    # web_context also reads user_agent, ip and page_url, which the CRM adapter drops
    missing = _fields_the_adapter_reads() - listed - {"user_agent", "ip", "page_url"}
    assert not missing
    assert ":mod:" not in text and "``" not in text


def test_each_report_offers_only_its_options_and_refuses_the_others() -> None:
    attribution = touchline("report", "attribution", "--help").stdout
    assert "--model" in attribution and "{channel,campaign}" in attribution
    assert "--breakdown" not in attribution and "location}" not in attribution
    funnel = touchline("report", "booking_funnel", "--help").stdout
    assert "--breakdown" in funnel and "--model" not in funnel
    refused = touchline("report", "appointments", "--breakdown", "channel")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1
    assert "appointments does not use --breakdown" in refused.stderr
    wrong = touchline("report", "attribution", "--by", "location")
    assert wrong.returncode == 2 and "'channel', 'campaign'" in wrong.stderr


def test_money_and_labels_for_people_exact_money_and_raw_names_for_machines(
    env: dict[str, str],
) -> None:
    args = ("report", "attribution", "--model", "linear")
    table = touchline(*args, env=env).stdout
    assert re.search(r"\b\d{1,3}(,\d{3})*\.\d\d EUR\b", table)
    assert "e+" not in table and "revenue_minor" not in table
    assert "Paid search" in table and "Linear" in table and "paid_search" not in table
    data = json.loads(touchline(*args, "--format", "json", env=env).stdout)["attribution"]
    assert "paid_search" in {r["key"] for r in data} and {r["model"] for r in data} == {"linear"}
    assert any(row["revenue"] for row in data)
    for row in data:  # per currency, exact decimal strings
        assert set(row["revenue_minor"]) == set(row["revenue"]) <= {"EUR", "USD", ""}
        assert row["currency"] == "+".join(sorted(row["revenue"]))
        for code, minor in row["revenue_minor"].items():
            assert isinstance(minor, str) and isinstance(row["revenue"][code], str)
            exact = Decimal(minor) / 100
            assert Decimal(row["revenue"][code]) == exact.quantize(Decimal("0.01"))
    lines = touchline(*args, "--format", "csv", env=env).stdout.splitlines()[1:]
    csv_rows = list(csv.DictReader(io.StringIO("\n".join(lines))))
    assert csv_rows and not any(re.search(r"\de[-+]?\d", r["revenue_minor"]) for r in csv_rows)
    assert [r["revenue"] for r in csv_rows] == [
        ";".join(f"{code}={amount}" for code, amount in r["revenue"].items()) for r in data
    ]


def test_funnel_by_store_starts_each_store_where_it_is_chosen(env: dict[str, str]) -> None:
    args = ("report", "booking_funnel", "--breakdown", "store")
    data = json.loads(touchline(*args, "--format", "json", env=env).stdout)
    funnel, outcomes = data["booking_funnel"], data["booking_outcomes"]
    stores = {r["breakdown"] for r in funnel}
    assert stores == {"s1", "s2", "s3"} == {r["breakdown"] for r in outcomes}
    for store in stores:
        rows = [r for r in funnel if r["breakdown"] == store]
        assert rows[0]["step"] == "appointment_booking_step_stores_and_services"
        assert rows[0]["clients"] > 0 and rows[0]["drop_off"] == 0
        assert rows[-1]["clients"] < rows[0]["clients"]
    table = touchline(*args, env=env).stdout
    assert "(none)" not in table and "Chose store and service" in table
    assert "appointment_booking_step" not in table


CRM = """type,id,contact_id,status,amount,currency,created_at,email
lead,L-1,c-1,open,,,2025-03-01T10:00:00Z,a@example.com
deal,D-1,c-1,won,1250.50,EUR,2025-03-02,a@example.com
deal,D-2,c-2,pending,10,EUR,2025-03-02,
lead,L-2,c-3,open,,,,
deal,D-3,c-4,lost,0,,2025-01-01,b@example.com
"""


def test_import_of_a_csv_named_txt(live_settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "crm.txt"
    path.write_text(CRM)
    done = touchline("import", str(path), "--account", "acc", env=settings_env(live_settings))
    lines = done.stderr.splitlines()
    assert "reading it as CSV" in lines[0] and "--format" in lines[0]
    assert lines[1:] == [
        "row 3: $.status: must be one of: open, won, lost",
        "row 4: $.created_at: is required (or updated_at / closed_at)",
    ]  # one line each, no progress bar between them
    assert "\r" not in done.stderr
    assert done.stdout.startswith("imported 3 rows, rejected 2") and done.returncode == 1
