"""The ClickHouse side of an erase, wherever ClickHouse is open: in this process
(:class:`LocalClickHouse`), or through the running sink's loopback endpoint (``POST /privacy``,
:class:`RemoteClickHouse`) when the sink owns the chDB directory. Both run the same functions of
:mod:`sinks.erasure`; the endpoint side is :func:`serve`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import httpx

from sinks import erasure
from touchline.errors import TouchlineError


class ClickHouseSide(Protocol):
    def find(self, account: str, clients: set[str], keys: set[str]) -> erasure.Cluster: ...

    def erase(self, account: str, clients: set[str]) -> dict[str, int]: ...

    def log(self, entry: erasure.LogEntry) -> str: ...


class LocalClickHouse:
    def __init__(self, client: Any, database: str) -> None:
        self.client, self.database = client, database

    def find(self, account: str, clients: set[str], keys: set[str]) -> erasure.Cluster:
        return erasure.find_cluster(self.client, self.database, account, clients, keys)

    def erase(self, account: str, clients: set[str]) -> dict[str, int]:
        return erasure.erase(self.client, self.database, account, clients)

    def log(self, entry: erasure.LogEntry) -> str:
        return erasure.log(self.client, self.database, entry)


class RemoteClickHouse:
    def __init__(self, url: str) -> None:
        self.url = url

    def _call(self, body: dict[str, Any]) -> Any:
        try:
            resp = httpx.post(f"{self.url}/privacy", json=body, timeout=3600)
        except httpx.HTTPError as exc:
            raise TouchlineError(f"the running sink at {self.url} did not answer: {exc}") from exc
        data = resp.json()
        if resp.status_code != 200:
            raise TouchlineError(f"the sink could not {body['op']}: {data.get('error')}")
        return data["result"]

    def find(self, account: str, clients: set[str], keys: set[str]) -> erasure.Cluster:
        got = self._call(
            {"op": "find", "account": account, "clients": sorted(clients), "keys": sorted(keys)}
        )
        return erasure.Cluster(**{k: set(v) for k, v in got.items()})

    def erase(self, account: str, clients: set[str]) -> dict[str, int]:
        got: dict[str, int] = self._call(
            {"op": "erase", "account": account, "clients": sorted(clients)}
        )
        return got

    def log(self, entry: erasure.LogEntry) -> str:
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
        return side.log(erasure.LogEntry(**entry))
    raise TouchlineError(f"op: must be find, erase or log, got {op!r}")
