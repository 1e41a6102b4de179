"""The sink's loopback HTTP endpoint: ``GET /metrics`` (Prometheus), ``POST /query`` (run a named
report query with parameters) and ``POST /privacy`` (the ClickHouse side of ``touchline erase``,
:mod:`sinks.erasure_remote`).

Report queries run on a ClickHouse client of their own (``reader``, with its own lock), not on the
sink's: a report holds its client for as long as it runs (a few hundred ms through the canonical
views), and on the sink's client every insert would wait for it. chDB serves several handles of
one process at once. Erasure (it deletes and derives again) stays on the sink's client, under
``lock``: the sink's ``exclusive`` (no insert and no derivation meanwhile).

With embedded chDB only the sink process may open the data directory; reports run through this
endpoint while the sink is up. It binds 127.0.0.1 only and runs nothing but the named .sql files.
The sink advertises it in ``<state dir>/run/sink.json``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from sinks import clickhouse
from sinks.erasure_remote import LocalClickHouse, serve
from sinks.reports import REPORTS, Rows
from touchline.errors import TouchlineError

log = logging.getLogger(__name__)


def _json_value(v: Any) -> Any:
    if isinstance(v, datetime | date):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


class QueryEndpoint:
    def __init__(
        self,
        client: Any,
        database: str,
        registry: CollectorRegistry,
        lock: AbstractContextManager[Any],
        port: int = 0,
        reader: Any = None,
    ) -> None:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

            def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _privacy(self) -> None:
                """The ClickHouse side of `touchline erase` (sinks/erasure_remote.py)."""
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    body = json.loads(self.rfile.read(length) or b"{}")
                    with endpoint.lock:
                        result = serve(LocalClickHouse(endpoint.client, endpoint.database), body)
                    self._send(200, json.dumps({"result": result}).encode())
                except (TouchlineError, ValueError, KeyError, TypeError) as exc:
                    self._send(400, json.dumps({"error": str(exc)}).encode())
                except Exception as exc:
                    self._send(500, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif self.path == "/health":
                    self._send(200, b'{"ok": true}')
                else:
                    self._send(404, b'{"error": "not found"}')

            def do_POST(self) -> None:
                if self.path == "/privacy":
                    self._privacy()
                    return
                if self.path != "/query":
                    self._send(404, b'{"error": "not found"}')
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    request = json.loads(self.rfile.read(length) or b"{}")
                    name, params = request.get("name"), request.get("params") or {}
                except (ValueError, AttributeError):
                    self._send(
                        400, b'{"error": "the body must be {\\"name\\": ..., \\"params\\": {...}}"}'
                    )
                    return
                if not isinstance(name, str) or name not in endpoint.names:
                    known = ", ".join(sorted(endpoint.names))
                    self._send(
                        404, json.dumps({"error": f"no report query {name!r} ({known})"}).encode()
                    )
                    return
                if not isinstance(params, dict):
                    self._send(400, b'{"error": "params must be an object"}')
                    return
                try:
                    columns, rows = endpoint.run(name, params)
                    body = {"columns": columns, "rows": [list(r) for r in rows]}
                    self._send(200, json.dumps(body, default=_json_value).encode())
                except TouchlineError as exc:
                    self._send(400, json.dumps({"error": str(exc)}).encode())
                except Exception as exc:
                    self._send(500, json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode())

        self.client = client
        self.database = database
        self.lock = lock
        self.reader = client if reader is None else reader
        self.reader_lock: AbstractContextManager[Any] = lock if reader is None else threading.Lock()
        self.names = report_queries()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def run(self, name: str, params: Mapping[str, Any]) -> tuple[list[str], Rows]:
        """A report query, on the reader client (the sink's when none was given)."""
        with self.reader_lock:
            return clickhouse.query(self.reader, name, self.database, params)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def report_queries() -> frozenset[str]:
    """The only names ``/query`` runs: the queries the reports are made of."""
    from sinks.money import CURRENCIES_QUERY  # the currency of the money the reports show

    return frozenset(query for r in REPORTS.values() for query, _ in r.queries) | {CURRENCIES_QUERY}


def advertise(path: Path, url: str, dsn: str, database: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "url": url, "dsn": dsn, "database": database}))
    tmp.replace(path)


def running_sink(path: Path, dsn: str, database: str) -> str | None:
    """URL of a live sink's endpoint serving this DSN and database, if there is one."""
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("dsn") != dsn or info.get("database") != database:
        return None
    return str(info["url"])


def remote_query(url: str, name: str, params: Mapping[str, Any]) -> tuple[list[str], Rows]:
    body = {"name": name, "params": {k: _plain(v) for k, v in params.items()}}
    try:
        resp = httpx.post(f"{url}/query", json=body, timeout=600)
    except httpx.HTTPError as exc:
        raise TouchlineError(f"the running sink at {url} did not answer: {exc}") from exc
    data = resp.json()
    if resp.status_code != 200:
        raise TouchlineError(f"the sink could not run {name}: {data.get('error')}")
    return list(data["columns"]), [tuple(r) for r in data["rows"]]


def _plain(v: Any) -> Any:
    return v.isoformat() if isinstance(v, date) else v
