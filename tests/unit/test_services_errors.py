"""`touchline services up` ends with one line saying what to do when it cannot start something."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from touchline.settings import REPO_ROOT


def services_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("TOUCHLINE_")}
    return subprocess.run(
        [sys.executable, "-m", "cli", "services", "up"],
        env={
            **base,
            "TOUCHLINE_STATE_DIR": str(tmp_path / "state"),
            "TOUCHLINE_CACHE_DIR": str(tmp_path / "cache"),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def test_a_port_in_use_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = services_up(tmp_path, TOUCHLINE_KAFKA_PORT=str(port))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert f"port {port} for Kafka is in use" in result.stderr
    assert "TOUCHLINE_KAFKA_PORT" in result.stderr


def test_missing_java_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()  # a PATH with no java and no mvn on it
    result = services_up(tmp_path, PATH=str(bare))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Java 17+ is needed" in result.stderr and "TOUCHLINE_KAFKA_BOOTSTRAP" in result.stderr


def test_missing_maven_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    java = subprocess.run(["which", "java"], capture_output=True, text=True).stdout.strip()
    (bare / "java").symlink_to(java)  # java, but no mvn and an empty classpath cache
    result = services_up(tmp_path, PATH=str(bare))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "Maven is needed" in result.stderr
