"""Redis clients for ``TOUCHLINE_REDIS_URL``: one standalone Redis (``redis://``, ``rediss://``,
``unix://``, read by redis-py) or a Redis Cluster, ``redis+cluster://[user:password@]host:port[,
host:port...]`` (``rediss+cluster://`` with TLS). The cluster nodes listed are where the client
starts; it learns the other nodes and the slot map from them and follows the cluster's redirects.
A cluster has database 0 only.

The worker's keys carry a per-account hash tag (``pipeline/keys.py``), so one account's keys, and
every Lua call over them, stay in one slot.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

STANDALONE_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}  # scheme -> TLS


@dataclass(frozen=True)
class ClusterUrl:
    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    ssl: bool = False


def _node(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"cluster node {text!r} is not host:port")
    return host, int(port)


def parse_cluster(url: str) -> ClusterUrl | None:
    """The cluster a ``redis+cluster://`` URL names; None for a standalone URL. Raises ValueError
    (one line, saying what is wrong) for a URL that is neither."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError("not a URL: expected redis://host:port/db or redis+cluster://host:port")
    if scheme in STANDALONE_SCHEMES:
        try:
            urlsplit(url).port  # noqa: B018 (raises for a port that is not a number)
        except ValueError as exc:
            raise ValueError(f"bad port: {exc}") from None
        return None
    if scheme not in CLUSTER_SCHEMES:
        known = ", ".join(f"{s}://" for s in (*STANDALONE_SCHEMES, *CLUSTER_SCHEMES))
        raise ValueError(f"unknown scheme {scheme}:// (one of {known})")
    netloc, _, path = rest.partition("/")
    if "?" in netloc or "?" in path or path not in ("", "0"):
        raise ValueError("a Redis Cluster URL takes no options and only database 0")
    userinfo, _, hosts = netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    if not hosts:
        raise ValueError("a Redis Cluster URL needs at least one host:port")
    return ClusterUrl(
        nodes=tuple(_node(h) for h in hosts.split(",")),
        username=unquote(username) or None,
        password=unquote(password) or None,
        ssl=CLUSTER_SCHEMES[scheme],
    )


def check_url(url: str | None) -> str | None:
    """The settings' validator of ``redis_url``: the URL unchanged, or ValueError."""
    if url is not None:
        parse_cluster(url)
    return url


def connect_async(url: str, **options: Any) -> Any:
    """A ``redis.asyncio`` client: ``Redis`` or ``RedisCluster`` as the URL says."""
    return _client("redis.asyncio", url, options)


def connect(url: str, **options: Any) -> Any:
    """A blocking client: ``redis.Redis`` or ``redis.cluster.RedisCluster`` as the URL says."""
    return _client("redis", url, options)


def _client(package: str, url: str, options: dict[str, Any]) -> Any:
    """``package.Redis`` for a plain URL, ``package.cluster.RedisCluster`` for a cluster one."""
    cluster = parse_cluster(url)
    if cluster is None:
        return importlib.import_module(package).Redis.from_url(url, **options)
    module = importlib.import_module(f"{package}.cluster")
    return module.RedisCluster(
        startup_nodes=[module.ClusterNode(host, port) for host, port in cluster.nodes],
        username=cluster.username,
        password=cluster.password,
        ssl=cluster.ssl,
        **options,
    )


def is_cluster(client: Any) -> bool:
    """Whether ``client`` (from :func:`connect_async` or :func:`connect`) talks to a cluster."""
    from redis.asyncio.cluster import RedisCluster as AsyncCluster
    from redis.cluster import RedisCluster

    return isinstance(client, AsyncCluster | RedisCluster)
