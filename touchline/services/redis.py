"""The local Redis: Debian's ``redis-server``, installed with apt when missing and we are root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from touchline.errors import TouchlineError
from touchline.services import process
from touchline.settings import default


def require_redis_server() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "redis-server"],
            check=False,
            capture_output=True,
            env=env,
        )
        found = shutil.which("redis-server")
        if found:
            return found
    raise TouchlineError(
        "redis-server is missing: install it (sudo apt-get install redis-server) "
        "or set TOUCHLINE_REDIS_URL to an existing Redis"
    )


def start(run_dir: Path, port: int, listpack_value: int = default("redis_listpack_value")) -> None:
    server = require_redis_server()
    data = run_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    proc = process.start(
        "redis",
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data.resolve()),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--zset-max-listpack-value",
            str(listpack_value),
            "--hash-max-listpack-value",
            str(listpack_value),
            "--daemonize",
            "no",
        ],
        run_dir,
    )
    process.wait_until(
        lambda: ping(f"redis://127.0.0.1:{port}/0"),
        30,
        f"redis-server (log: {run_dir / 'redis.log'})",
        lambda: proc.poll() is None,
    )


def ping(url: str) -> bool:
    """Whether the Redis (or Redis Cluster) at ``url`` answers."""
    from touchline import redis_client

    try:
        client = redis_client.connect(url, socket_timeout=1, socket_connect_timeout=1)
        return bool(client.ping())
    except Exception:
        return False
