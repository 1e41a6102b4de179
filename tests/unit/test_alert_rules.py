"""The alert rules: `promtool test rules` over deploy/prometheus/tests/*.yml, every alert tested
firing, every counter an alert reads present at 0 from the start, and the generated local
Prometheus/Alertmanager configs accepted by promtool and amtool (Debian's `prometheus` and
`prometheus-alertmanager`, installed by deploy/install-system-deps.sh)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from touchline.services import alertmanager, prometheus
from touchline.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy" / "prometheus"
TESTS = sorted((DEPLOY / "tests").glob("*.yml"))
SELECTOR = re.compile(r"\b(touchline_[a-z0-9_]+_total)\b(\{[^}]*\})?")
MATCHER = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is missing: run `make system-deps` (apt-get install prometheus)")
    return found


def alerts() -> list[dict[str, Any]]:
    rules = []
    for path in prometheus.rule_files(DEPLOY):
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def test_promtool_rule_tests_pass() -> None:
    assert TESTS, "no rule tests in deploy/prometheus/tests"
    run = subprocess.run(
        [tool("promtool"), "test", "rules", *[t.name for t in TESTS]],
        cwd=DEPLOY / "tests",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_test_where_it_fires() -> None:
    fired: set[str] = set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    fired.add(check["alertname"])
    names = {r["alert"] for r in alerts()}
    assert len(names) >= 24
    assert sorted(names - fired) == []


def samples(registry: CollectorRegistry) -> list[tuple[str, dict[str, str]]]:
    return [(s.name, s.labels) for family in registry.collect() for s in family.samples]


def test_every_counter_an_alert_reads_exists_at_zero_from_the_start() -> None:
    """``increase()`` cannot see the first failure of a series that is born at that failure."""
    import prometheus_client

    import pipeline.metrics
    from producers.metrics import IngestMetrics
    from sinks.metrics import SinkMetrics
    from touchline.monitor import MonitorMetrics

    assert pipeline.metrics.EVENTS is not None
    exposed = [
        *samples(IngestMetrics().registry),
        *samples(SinkMetrics.create().registry),
        *samples(MonitorMetrics().registry),
        *samples(prometheus_client.REGISTRY),
    ]
    missing = []
    for rule in alerts():
        for name, selector in SELECTOR.findall(str(rule["expr"])):
            wanted = dict(MATCHER.findall(selector))
            if not any(n == name and wanted.items() <= labels.items() for n, labels in exposed):
                missing.append(f"{rule['alert']}: {name}{selector}")
    assert missing == []


def test_cap_windows_shortens_for_and_ranges_only() -> None:
    rules = {
        "groups": [
            {
                "name": "g",
                "rules": [
                    {
                        "alert": "A",
                        "expr": "increase(x[15m]) > 0 and deriv(y[1h30m:1m]) > 0 and z[5s]",
                        "for": "10m",
                    },
                    {"alert": "B", "expr": "up == 0", "for": "5s"},
                ],
            }
        ]
    }
    capped = prometheus.cap_windows(rules, 8)["groups"][0]["rules"]
    assert capped[0]["expr"] == "increase(x[8s]) > 0 and deriv(y[8s:]) > 0 and z[5s]"
    assert capped[0]["for"] == "8s"
    assert capped[1] == {"alert": "B", "expr": "up == 0", "for": "5s"}
    assert prometheus.seconds("1h30m") == 5400
    with pytest.raises(ValueError):
        prometheus.seconds("10 minutes")


@pytest.mark.parametrize("cap", [0, 8])
def test_generated_configs_are_valid(tmp_path: Path, cap: int) -> None:
    settings = Settings(state_dir=tmp_path, alert_window_cap_s=cap)
    rules = prometheus.write_rules(settings, tmp_path / "rules")
    assert [p.name for p in rules] == [p.name for p in prometheus.rule_files(DEPLOY)]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus.config(settings, rules, 9093, 9103, 9090)))
    run = subprocess.run(
        [tool("promtool"), "check", "config", str(config)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    am = tmp_path / "alertmanager.yml"
    am.write_text(yaml.safe_dump(alertmanager.config(settings)))
    run = subprocess.run([tool("amtool"), "check-config", str(am)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
