"""The sink's loopback /query endpoint runs the reports' queries and nothing else."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sinks import clickhouse
from sinks.endpoint import QueryEndpoint, report_queries
from sinks.reports import REPORTS


class Result:
    column_names = ("n",)
    result_rows = ((1,),)


class FakeClient:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, sql: str, parameters: Any = None) -> Result:
        self.queries.append(sql)
        return Result()


@pytest.fixture
def served() -> Iterator[tuple[str, FakeClient]]:
    client = FakeClient()
    endpoint = QueryEndpoint(client, "db", CollectorRegistry(), threading.Lock())
    endpoint.start()
    try:
        yield endpoint.url, client
    finally:
        endpoint.stop()


def test_every_report_query_is_served_and_exists() -> None:
    assert report_queries() == set(clickhouse.query_names())
    assert "booking_funnel" in report_queries() and len(REPORTS) > 1


def test_a_report_query_runs(served: tuple[str, FakeClient]) -> None:
    url, client = served
    resp = httpx.post(f"{url}/query", json={"name": "appointments", "params": {}})
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"columns": ["n"], "rows": [[1]]}
    assert len(client.queries) == 1


def test_a_path_outside_the_queries_is_refused(
    served: tuple[str, FakeClient], tmp_path: Path
) -> None:
    url, client = served
    secret = tmp_path / "secret.sql"
    secret.write_text("SELECT 'secret'")
    escape = os.path.relpath(tmp_path / "secret", clickhouse.SQL / "queries")
    assert escape.startswith("..")
    names = [escape, "../ddl/001_events", "/etc/passwd", "fragments/x", "nope", "", None, 7]
    for name in names:
        resp = httpx.post(f"{url}/query", json={"name": name, "params": {}})
        assert resp.status_code == 404, (name, resp.status_code, resp.text)
    assert client.queries == []  # nothing reached ClickHouse


def test_malformed_bodies_are_4xx(served: tuple[str, FakeClient]) -> None:
    url, client = served
    assert httpx.post(f"{url}/query", content=b"not json").status_code == 400
    assert httpx.post(f"{url}/query", json=["appointments"]).status_code == 400
    bad_params = {"name": "appointments", "params": [1]}
    assert httpx.post(f"{url}/query", json=bad_params).status_code == 400
    assert client.queries == []


def test_query_sql_takes_names_only() -> None:
    with pytest.raises(Exception, match="no query named"):
        clickhouse.query_sql("../ddl/001_events")
    assert "SELECT" in clickhouse.query_sql("appointments")


def test_reports_run_on_their_own_client_while_the_sink_holds_its_own() -> None:
    """A report holds its client for as long as it runs: on a reader of their own, reports do not
    make the sink's inserts wait (nor wait for them), and the sink's client is never queried."""
    sink_client, reader, sink_lock = FakeClient(), FakeClient(), threading.Lock()
    endpoint = QueryEndpoint(sink_client, "db", CollectorRegistry(), sink_lock, reader=reader)
    endpoint.start()
    try:
        with sink_lock:  # the sink inserting
            resp = httpx.post(
                f"{endpoint.url}/query", json={"name": "appointments", "params": {}}, timeout=5
            )
        assert resp.status_code == 200, resp.text
        assert len(reader.queries) == 1 and sink_client.queries == []
    finally:
        endpoint.stop()
