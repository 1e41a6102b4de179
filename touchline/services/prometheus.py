"""The local Prometheus: Debian's ``prometheus``, with a config generated for the real ports.

It scrapes the pipeline's processes through file service discovery (``touchline.services.targets``:
each process announces its own ``/metrics`` port while it runs), ``touchline monitor``, itself and
the local Alertmanager, evaluates the rule files that ``deploy/prometheus/prometheus.yml`` lists
(copied into the state directory) and sends alerts to the local Alertmanager.

With ``TOUCHLINE_ALERT_WINDOW_CAP_S`` set, every ``for:`` and range window of the copied rules is
capped at that many seconds, so an end-to-end test sees alerts fire and resolve in seconds with the
same expressions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from touchline.services import process, targets
from touchline.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy" / "prometheus"
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_RANGE = re.compile(r"\[((?:\d+(?:ms|s|m|h|d|w|y))+)(:(?:(?:\d+(?:ms|s|m|h|d|w|y))+)?)?\]")


def seconds(duration: str) -> float:
    """A Prometheus duration (``1h30m``, ``15m``, ``0s``) in seconds."""
    parts = _PART.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def cap_windows(rules: dict[str, Any], cap_s: int) -> dict[str, Any]:
    """``rules`` (a rule file) with every ``for:`` and range window longer than ``cap_s`` seconds
    shortened to it; subquery resolutions are left to the evaluation interval."""

    def window(match: re.Match[str]) -> str:
        length = f"{cap_s}s" if seconds(match.group(1)) > cap_s else match.group(1)
        return f"[{length}{':' if match.group(2) else ''}]"

    out: dict[str, Any] = {"groups": []}
    for group in rules.get("groups", []):
        capped = []
        for rule in group.get("rules", []):
            rule = dict(rule)
            rule["expr"] = _RANGE.sub(window, str(rule["expr"]))
            if "for" in rule and seconds(str(rule["for"])) > cap_s:
                rule["for"] = f"{cap_s}s"
            capped.append(rule)
        out["groups"].append({**group, "rules": capped})
    return out


def rule_files(deploy: Path = DEPLOY) -> list[Path]:
    """The rule files ``deploy/prometheus/prometheus.yml`` lists (its ``rule_files``)."""
    config = yaml.safe_load((deploy / "prometheus.yml").read_text())
    return [deploy / name for name in config.get("rule_files", [])]


def write_rules(settings: Settings, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yml"):
        old.unlink()
    written = []
    for source in rule_files():
        rules = yaml.safe_load(source.read_text())
        if settings.alert_window_cap_s > 0:
            rules = cap_windows(rules, settings.alert_window_cap_s)
        path = folder / source.name
        path.write_text(yaml.safe_dump(rules, sort_keys=False, width=1000))
        written.append(path)
    return written


def config(
    settings: Settings, rules: list[Path], alertmanager_port: int, monitor_port: int, port: int
) -> dict[str, Any]:
    """prometheus.yml for the local stack."""
    interval = f"{settings.prometheus_scrape_interval_s:g}s"
    discovered = targets.directory(settings).resolve()

    def static(job: str, target_port: int) -> dict[str, Any]:
        return {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{target_port}"]}]}

    scrapes = [
        {
            "job_name": job,
            "file_sd_configs": [
                {"files": [str(discovered / f"{job}-*.json")], "refresh_interval": interval}
            ],
        }
        for job in targets.JOBS
    ]
    scrapes += [
        static("touchline-monitor", monitor_port),
        static("prometheus", port),
        static("alertmanager", alertmanager_port),
    ]
    return {
        "global": {
            "scrape_interval": interval,
            "evaluation_interval": interval,
            "scrape_timeout": f"{min(settings.prometheus_scrape_interval_s, 10):g}s",
            "external_labels": {"project": "touchline"},
        },
        "rule_files": [str(p.resolve()) for p in rules],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{alertmanager_port}"]}]}]
        },
        "scrape_configs": scrapes,
    }


def start(
    settings: Settings, run_dir: Path, port: int, alertmanager_port: int, monitor_port: int
) -> None:
    binary = process.require_debian(
        "prometheus", "prometheus", "set TOUCHLINE_LOCAL_MONITORING=false"
    )
    rules = write_rules(settings, run_dir / "rules")
    path = run_dir / "prometheus.yml"
    path.write_text(
        yaml.safe_dump(config(settings, rules, alertmanager_port, monitor_port, port), width=1000)
    )
    targets.directory(settings).mkdir(parents=True, exist_ok=True)
    resend = "2s" if settings.alert_window_cap_s > 0 else "1m"
    proc = process.start(
        "prometheus",
        [
            binary,
            f"--config.file={path.resolve()}",
            f"--storage.tsdb.path={(run_dir / 'data').resolve()}",
            "--storage.tsdb.retention.time=15d",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--rules.alert.resend-delay={resend}",
            "--web.enable-lifecycle",
        ],
        run_dir,
    )
    process.wait_until(
        lambda: process.http_ready(port),
        60,
        f"Prometheus (log: {run_dir / 'prometheus.log'})",
        lambda: proc.poll() is None,
    )
