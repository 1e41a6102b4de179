"""A real Redis Cluster for tests: three of Debian's ``redis-server`` with ``cluster-enabled`` on
free ports in a temp dir, joined by ``redis-cli --cluster create`` (``redis-cli`` comes with
redis-server, in redis-tools), three primaries and no replicas, stopped at the end of the session.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeline.keys import account_key
from touchline.redis_client import parse_cluster
from touchline.services.process import free_port
from touchline.services.redis import require_redis_server

NODES = 3
START_S = 30.0


def slot_owners(url: str) -> dict[int, int]:
    """Every hash slot -> the port of the node serving it (``CLUSTER NODES``)."""
    nodes = parse_cluster(url)
    assert nodes is not None
    client = redis.Redis(port=nodes.nodes[0][1], decode_responses=True)
    owners: dict[int, int] = {}
    for address, node in client.execute_command("CLUSTER NODES").items():  # parsed by redis-py
        port = int(address.rsplit(":", 1)[1])
        for first, last in node["slots"]:
            owners.update(dict.fromkeys(range(int(first), int(last) + 1), port))
    client.close()
    return owners


def accounts_per_node(url: str, prefix: str, per_node: int = 2) -> dict[str, int]:
    """``per_node`` accounts on each node: account -> the port serving its keys' slot, asked of
    the cluster (``CLUSTER KEYSLOT``)."""
    owners = slot_owners(url)
    nodes = set(owners.values())
    client = redis.Redis(port=next(iter(nodes)))
    chosen: dict[str, int] = {}
    for i in range(1000):
        account = f"studio-{i}"
        slot = int(client.execute_command("CLUSTER KEYSLOT", account_key(prefix, account, "x")))
        if list(chosen.values()).count(owners[slot]) < per_node:
            chosen[account] = owners[slot]
        if len(chosen) == per_node * len(nodes):
            break
    client.close()
    return chosen


def _free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _ready(port: int, check: str) -> bool:
    """``ping``: the node answers; ``cluster_state:ok``: it serves every slot."""
    client = redis.Redis(port=port, socket_timeout=1, socket_connect_timeout=1)
    try:
        if check == "ping":
            return bool(client.ping())
        return bool(client.execute_command("CLUSTER INFO").get("cluster_state") == "ok")
    except redis.RedisError:
        return False
    finally:
        client.close()


def _wait(ports: list[int], check: str, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    deadline = time.monotonic() + START_S
    while not all(_ready(p, check) for p in ports):
        if any(proc.poll() is not None for proc in procs) or time.monotonic() > deadline:
            raise RuntimeError(f"Redis Cluster: no {check} on {ports}; see the logs in {log}")
        time.sleep(0.1)


def _server(directory: Path, port: int, **cluster: object) -> subprocess.Popen[bytes]:
    """One redis-server on ``port`` (no persistence), with ``cluster`` settings if any."""
    args: dict[str, object] = {
        "port": port,
        "bind": "127.0.0.1",
        **cluster,
        "dir": directory,
        "logfile": directory / f"redis-{port}.log",
        "save": "",
        "appendonly": "no",
        "daemonize": "no",
    }
    argv = [require_redis_server(), *(x for k, v in args.items() for x in (f"--{k}", str(v)))]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def start_standalone(directory: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """One plain redis-server configured like the cluster's nodes (a baseline for benches)."""
    (port,) = _free_ports(1)
    proc = _server(directory, port)
    try:
        _wait([port], "ping", [proc], directory)
    except BaseException:
        stop([proc])
        raise
    return port, proc


def start(directory: Path, nodes: int = NODES) -> tuple[list[int], list[subprocess.Popen[bytes]]]:
    """Start the cluster's nodes in ``directory``; returns their ports and processes (stop them
    with :func:`stop`, also when this raises)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("redis-cli is missing: sudo apt-get install redis-tools")
    ports = _free_ports(2 * nodes)  # a client port and a cluster bus port each
    procs = [
        _server(
            directory,
            port,
            **{
                "cluster-enabled": "yes",
                "cluster-port": bus,
                "cluster-config-file": f"nodes-{port}.conf",
                "cluster-node-timeout": 5000,
            },
        )
        for port, bus in zip(ports[:nodes], ports[nodes:], strict=True)
    ]
    primaries = ports[:nodes]
    try:
        _wait(primaries, "ping", procs, directory)
        create = [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in primaries)]
        subprocess.run(
            [*create, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=START_S,
        )
        _wait(primaries, "cluster_state:ok", procs, directory)
    except BaseException:
        stop(procs)
        raise
    return primaries, procs


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A 3-node Redis Cluster for the session, as a ``TOUCHLINE_REDIS_URL``."""
    ports, procs = start(tmp_path_factory.mktemp("redis-cluster"))
    try:
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        stop(procs)
