"""``touchline services up|down|status``: the local stack and where each service is reached.

Ports are chosen once (or taken from TOUCHLINE_KAFKA_PORT / TOUCHLINE_REDIS_PORT) and kept in
``<state_dir>/services.json`` so restarts reuse them. A service given by URL in the environment
(TOUCHLINE_KAFKA_BOOTSTRAP, TOUCHLINE_REDIS_URL) is used as it is and never started here.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from touchline.endpoints import (  # re-exported: where the services are
    Endpoints,
    endpoints,
    load_state,
    local_registry_url,
    state_file,
)
from touchline.errors import TouchlineError
from touchline.services import alertmanager, kafka, process, prometheus, redis, registry
from touchline.settings import Settings


def _save_state(settings: Settings, state: dict[str, Any]) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    state_file(settings).write_text(json.dumps(state, indent=2))


def _pick(configured: int, remembered: int | None, what: str, env: str) -> int:
    port = configured or remembered or process.free_port()
    if process.port_in_use(port):
        raise TouchlineError(
            f"port {port} for {what} is in use by another program: stop it, "
            f"or set {env} to a free port (0 picks one)"
        )
    return port


def up(settings: Settings, monitoring: bool = False) -> Endpoints:
    """Start whatever is not running yet and not given by the environment; idempotent. With
    ``monitoring`` (``touchline services up`` and the demo, unless TOUCHLINE_LOCAL_MONITORING is
    false) also ``touchline monitor``, Alertmanager and Prometheus."""
    state = load_state(settings)
    run = settings.state_dir
    if settings.kafka_bootstrap is None:
        kdir = run / "kafka"
        if process.read_pid(kdir / "kafka.pid") is None:
            old = state.get("kafka", {})
            port = _pick(settings.kafka_port, old.get("port"), "Kafka", "TOUCHLINE_KAFKA_PORT")
            cport = old.get("controller_port") or process.free_port()
            if process.port_in_use(cport) or cport == port:
                cport = process.free_port()
            state["kafka"] = {"port": port, "controller_port": cport}
            _save_state(settings, state)
            kafka.start(settings, kdir, kafka.KafkaPorts(port, cport))
    if settings.redis_url is None:
        rdir = run / "redis"
        if process.read_pid(rdir / "redis.pid") is None:
            old = state.get("redis", {})
            port = _pick(settings.redis_port, old.get("port"), "Redis", "TOUCHLINE_REDIS_PORT")
            state["redis"] = {"port": port}
            _save_state(settings, state)
            redis.start(rdir, port, settings.redis_listpack_value)
    if settings.schema_registry_url is None and settings.local_registry:
        sdir = run / "registry"
        if process.read_pid(sdir / "registry.pid") is None:
            old = state.get("registry", {})
            port = _pick(
                settings.registry_port,
                old.get("port"),
                "the schema registry",
                "TOUCHLINE_REGISTRY_PORT",
            )
            state["registry"] = {"port": port}
            _save_state(settings, state)
            registry.start(settings, sdir, port)
    if monitoring:
        _up_monitoring(settings, state)
    return endpoints(settings)


MONITORING = (
    ("monitor", "touchline monitor", "TOUCHLINE_MONITOR_PORT"),
    ("alertmanager", "Alertmanager", "TOUCHLINE_ALERTMANAGER_PORT"),
    ("prometheus", "Prometheus", "TOUCHLINE_PROMETHEUS_PORT"),
)


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that makes a ``touchline`` subprocess use exactly these settings."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is not None:
            shown = json.dumps(value) if isinstance(value, list | dict) else str(value)
            env[f"TOUCHLINE_{name.upper()}"] = shown
    return env


def _up_monitoring(settings: Settings, state: dict[str, Any]) -> None:
    """``touchline monitor``, Alertmanager and Prometheus (in that order: each one's targets
    exist when it starts), each on a port picked once and remembered."""
    run = settings.state_dir
    ports: dict[str, int] = {}
    starting = []
    for name, what, env in MONITORING:
        old = state.get(name, {}).get("port")
        if process.read_pid(run / name / f"{name}.pid") is not None and old:
            ports[name] = old
            continue
        ports[name] = _pick(getattr(settings, f"{name}_port"), old, what, env)
        starting.append(name)
        state[name] = {"port": ports[name]}
    _save_state(settings, state)
    if "monitor" in starting:
        argv = [sys.executable, "-m", "cli", "monitor", "--port", str(ports["monitor"])]
        proc = process.start(
            "monitor", argv, run / "monitor", env=settings_env(settings), own_settings=True
        )
        process.wait_until(
            lambda: process.port_open(ports["monitor"]),
            60,
            f"touchline monitor (log: {run / 'monitor' / 'monitor.log'})",
            lambda: proc.poll() is None,
        )
    if "alertmanager" in starting:
        alertmanager.start(settings, run / "alertmanager", ports["alertmanager"])
    if "prometheus" in starting:
        prometheus.start(
            settings,
            run / "prometheus",
            ports["prometheus"],
            ports["alertmanager"],
            ports["monitor"],
        )


def down(settings: Settings) -> list[str]:
    """Stop every process the stack and the demo started; returns the names stopped."""
    stopped = []
    run = settings.state_dir
    for pid_file in sorted(run.glob("**/*.pid")):
        if process.stop(pid_file):
            stopped.append(pid_file.stem)
    return stopped


def status(settings: Settings) -> dict[str, str]:
    state = load_state(settings)
    out: dict[str, str] = {}
    if settings.kafka_bootstrap:
        ok = kafka.metadata_ok(settings.kafka_bootstrap)
        out["kafka"] = f"{'up' if ok else 'DOWN'} (external {settings.kafka_bootstrap})"
    elif process.read_pid(run_pid := settings.state_dir / "kafka" / "kafka.pid"):
        port = state["kafka"]["port"]
        ok = kafka.metadata_ok(f"127.0.0.1:{port}")
        out["kafka"] = (
            f"{'up' if ok else 'starting/unhealthy'} 127.0.0.1:{port} pid {run_pid.read_text()}"
        )
    else:
        out["kafka"] = "stopped"
    if settings.redis_url:
        out["redis"] = (
            f"{'up' if redis.ping(settings.redis_url) else 'DOWN'} (external {settings.redis_url})"
        )
    elif process.read_pid(rpid := settings.state_dir / "redis" / "redis.pid"):
        port = state["redis"]["port"]
        ok = redis.ping(f"redis://127.0.0.1:{port}/0")
        out["redis"] = f"{'up' if ok else 'unhealthy'} 127.0.0.1:{port} pid {rpid.read_text()}"
    else:
        out["redis"] = "stopped"
    if settings.schema_registry_url:
        ok = registry.healthy(settings.schema_registry_url)
        out["registry"] = f"{'up' if ok else 'DOWN'} (external {settings.schema_registry_url})"
    elif process.read_pid(spid := settings.state_dir / "registry" / "registry.pid"):
        base = local_registry_url(state["registry"]["port"])
        ok = registry.healthy(base)
        out["registry"] = f"{'up' if ok else 'starting/unhealthy'} {base} pid {spid.read_text()}"
    else:
        out["registry"] = (
            "stopped (Avro single-object encoding)" if not settings.local_registry else "stopped"
        )
    out["clickhouse"] = (
        f"in-process {settings.effective_clickhouse_dsn}"
        if settings.effective_clickhouse_dsn.startswith("chdb")
        else settings.effective_clickhouse_dsn
    )
    for name, _, _ in MONITORING:
        pid = process.read_pid(settings.state_dir / name / f"{name}.pid")
        port = state.get(name, {}).get("port")
        out[name] = f"running 127.0.0.1:{port} pid {pid}" if pid else "stopped"
    for pid_file in sorted(settings.state_dir.glob("run/*.pid")):
        pid = process.read_pid(pid_file)
        out[pid_file.stem] = f"running pid {pid}" if pid else "stopped"
    return out
