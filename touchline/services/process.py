"""Background processes with pid files, logs and ports under the state directory."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from touchline.errors import TouchlineError


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ready(port: int, path: str = "/-/ready") -> bool:
    """Whether a local HTTP server answers ``path`` with 200 (Prometheus and Alertmanager say
    they are ready there)."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def start(
    name: str,
    argv: Sequence[str],
    run_dir: Path,
    env: dict[str, str] | None = None,
    own_settings: bool = False,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, logging to ``run_dir/<name>.log``. With
    ``own_settings`` no TOUCHLINE_* variable of this process is inherited: ``env`` says them all."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log = (run_dir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={
            **{
                k: v
                for k, v in os.environ.items()
                if not (own_settings and k.startswith("TOUCHLINE_"))
            },
            **(env or {}),
        },
    )
    log.close()
    (run_dir / f"{name}.pid").write_text(str(proc.pid))
    return proc


def wait_until(
    check: Callable[[], bool], timeout: float, what: str, proc_alive: Callable[[], bool]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not proc_alive():
            raise TouchlineError(f"{what} exited during start-up; see its log for the reason")
        time.sleep(0.2)
    raise TouchlineError(f"{what} did not become healthy within {timeout:.0f}s; see its log")


def stop(pid_file: Path, timeout: float = 30.0) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout``. True if something was stopped."""
    pid = read_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.05)
    pid_file.unlink(missing_ok=True)
    return True


def require_debian(binary: str, package: str, instead: str) -> str:
    """The path of ``binary``; installs Debian's ``package`` with apt when missing and we are
    root (as ``deploy/install-system-deps.sh`` does), else one line saying what to do."""
    import shutil

    found = shutil.which(binary)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            check=False,
            capture_output=True,
            env=env,
        )
        found = shutil.which(binary)
        if found:
            return found
    raise TouchlineError(
        f"{binary} is missing: install it (sudo apt-get install {package}) or {instead}"
    )
