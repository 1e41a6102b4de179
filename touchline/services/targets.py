"""Scrape targets of the pipeline's processes, for the local Prometheus (file service discovery).

A process that serves ``/metrics`` (ingest, worker, sink) writes
``<state dir>/prometheus/targets/<job>-<port>.json`` when it starts and removes it when it stops
cleanly, so Prometheus scrapes exactly the processes that run: a process that was stopped on
purpose is no longer a target, one that crashed (the file stays) is a target that is down, and its
``...Down`` alert fires.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from touchline.settings import Settings

LOOPBACK = "127.0.0.1"  # the local stack's processes listen on loopback
JOBS = ("touchline-ingest", "touchline-worker", "touchline-sink")


def directory(settings: Settings) -> Path:
    return settings.state_dir / "prometheus" / "targets"


def register(settings: Settings, job: str, port: int, host: str = LOOPBACK) -> Path:
    if job not in JOBS:
        raise ValueError(f"unknown scrape job {job!r}")
    folder = directory(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{job}-{port}.json"
    entry = [{"targets": [f"{host}:{port}"], "labels": {"component": job.split("-", 1)[1]}}]
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(entry))
    tmp.replace(path)  # Prometheus never reads a half-written file
    return path


@contextlib.contextmanager
def registered(settings: Settings, job: str, port: int) -> Iterator[Path]:
    """A target for as long as the block runs (removed when it ends, also by an exception)."""
    path = register(settings, job, port)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
