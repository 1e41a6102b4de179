"""The ClickHouse side of an erase, wherever ClickHouse is open: in this process
(:class:`LocalClickHouse`), or through the running sink's loopback endpoint (``POST /privacy``,
:class:`RemoteClickHouse`) when the sink owns the chDB directory. Both run the same functions of
:mod:`sinks.erasure`; the endpoint side is :func:`serve`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from sinks import clickhouse, erasure
from touchline.endpoints import endpoints
from touchline.errors import TouchlineError
from touchline.privacy import ClickHouseSide, Cluster, LogEntry
from touchline.settings import Settings


def clickhouse_side(settings: Settings) -> ClickHouseSide:
    """The running sink's endpoint when it serves this DSN (it owns a chDB directory), else a
    client opened here."""
    from sinks.endpoint import running_sink  # (the endpoint imports this module)

    dsn, db = endpoints(settings).clickhouse_dsn, settings.clickhouse_database
    url = running_sink(settings.state_dir / "run" / "sink.json", dsn, db)
    if url is not None:
        return RemoteClickHouse(url)
    client = clickhouse.connect(dsn)
    clickhouse.migrate(client, db)
    return LocalClickHouse(client, db, owned=True)


class LocalClickHouse:
    def __init__(self, client: Any, database: str, *, owned: bool = False) -> None:
        self.client, self.database, self.owned = client, database, owned

    def close(self) -> None:
        if self.owned:
            self.client.close()

    def find(self, account: str, clients: set[str], keys: set[str]) -> Cluster:
        return erasure.find_cluster(self.client, self.database, account, clients, keys)

    def erase(self, account: str, clients: set[str]) -> dict[str, int]:
        return erasure.erase(self.client, self.database, account, clients)

    def log(self, entry: LogEntry) -> str:
        return erasure.log(self.client, self.database, entry)


class RemoteClickHouse:
    def __init__(self, url: str) -> None:
        self.url = url

    def close(self) -> None:
        return None

    def _call(self, body: dict[str, Any]) -> Any:
        try:
            resp = httpx.post(f"{self.url}/privacy", json=body, timeout=3600)
        except httpx.HTTPError as exc:
            raise TouchlineError(f"the running sink at {self.url} did not answer: {exc}") from exc
        data = resp.json()
        if resp.status_code != 200:
            raise TouchlineError(f"the sink could not {body['op']}: {data.get('error')}")
        return data["result"]

    def find(self, account: str, clients: set[str], keys: set[str]) -> Cluster:
        got = self._call(
            {"op": "find", "account": account, "clients": sorted(clients), "keys": sorted(keys)}
        )
        return Cluster(**{k: set(v) for k, v in got.items()})

    def erase(self, account: str, clients: set[str]) -> dict[str, int]:
        got: dict[str, int] = self._call(
            {"op": "erase", "account": account, "clients": sorted(clients)}
        )
        return got

    def log(self, entry: LogEntry) -> str:
        fields = {**vars(entry), "requested_at": entry.requested_at.isoformat()}
        return str(self._call({"op": "log", "entry": fields}))


def serve(side: LocalClickHouse, body: dict[str, Any]) -> Any:
    """Run one request of :class:`RemoteClickHouse` (in the sink, under its client lock)."""
    op = body.get("op")
    if op == "find":
        cluster = side.find(str(body["account"]), set(body["clients"]), set(body["keys"]))
        return {k: sorted(v) for k, v in vars(cluster).items()}
    if op == "erase":
        return side.erase(str(body["account"]), set(body["clients"]))
    if op == "log":
        entry = dict(body["entry"])
        entry["requested_at"] = datetime.fromisoformat(entry["requested_at"])
        return side.log(LogEntry(**entry))
    raise TouchlineError(f"op: must be find, erase or log, got {op!r}")
