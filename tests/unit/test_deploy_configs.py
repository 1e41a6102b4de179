"""Static checks of the opt-in Docker, Prometheus and Grafana configs in deploy/ (no services).

They parse every file, check the compose stack binds loopback only, and check that the metric names
in the alerts and the operations dashboard, and the tables in the funnel dashboard's SQL, still
exist in the code (pipeline/producers/sinks metrics modules, sinks/sql/ddl). One test also runs the
funnel dashboard's SQL against the DDL in chDB (in a subprocess, on empty tables) so a renamed
column fails here rather than in Grafana.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from touchline.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS = DEPLOY / "prometheus" / "prometheus.yml"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DATASOURCES = DEPLOY / "grafana" / "provisioning" / "datasources" / "clickhouse.yaml"
DASHBOARD_PROVIDERS = DEPLOY / "grafana" / "provisioning" / "dashboards" / "dashboards.yaml"
FUNNEL = DEPLOY / "grafana" / "dashboards" / "touchline-funnel.json"
OPS = DEPLOY / "grafana" / "dashboards" / "touchline-ops.json"
DDL = REPO_ROOT / "sinks" / "sql" / "ddl"

YAML_FILES = [COMPOSE, PROMETHEUS, ALERTS, DATASOURCES, DASHBOARD_PROVIDERS]
JSON_FILES = [FUNNEL, OPS]
SERVICES = {"kafka", "redis", "clickhouse", "registry", "prometheus", "grafana"}
CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"
METRIC_RE = re.compile(r"\btouchline_[a-z0-9_]+\b")
# Series the code exposes per metric type (prometheus_client: a counter `x` is exposed as
# `x_total`, a histogram as `x_bucket`, `x_sum`, `x_count`, both also `x_created`).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def exposed_names(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        for suffix in SUFFIXES.get(family.type, ("",)):
            names.add(family.name + suffix)
    return names


def touchline_metric_names() -> set[str]:
    """Every series name the metrics modules (ingest, worker, sink, monitor) expose."""
    import prometheus_client

    import pipeline.metrics  # registers on the default registry
    from producers.metrics import IngestMetrics
    from sinks.metrics import SinkMetrics
    from touchline.monitor import MonitorMetrics

    assert pipeline.metrics.EVENTS is not None
    names = exposed_names(IngestMetrics().registry) | exposed_names(SinkMetrics.create().registry)
    names |= exposed_names(MonitorMetrics().registry)
    names |= {n for n in exposed_names(prometheus_client.REGISTRY) if n.startswith("touchline_")}
    return names


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in load_yaml(ALERTS)["groups"] for rule in group["rules"]]


def ops_exprs() -> list[str]:
    return [t["expr"] for p in load_json(OPS)["panels"] for t in p["targets"]]


def funnel_sqls() -> list[str]:
    dash = load_json(FUNNEL)
    sqls = [t["rawSql"] for p in dash["panels"] for t in p["targets"]]
    sqls += [v["query"] for v in dash["templating"]["list"] if v["type"] == "query"]
    return sqls


def ddl_objects() -> set[str]:
    created = re.compile(
        r"CREATE\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+\{db\}\.(\w+)", re.I
    )
    return {name for f in DDL.glob("*.sql") for name in created.findall(f.read_text())}


def strip_sql_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


# --- every file parses ----------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.name)
def test_yaml_files_parse(path: Path) -> None:
    assert isinstance(load_yaml(path), dict)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda p: p.name)
def test_dashboards_parse_with_unique_panel_ids(path: Path) -> None:
    dash = load_json(path)
    assert dash["title"].startswith("Touchline — ")
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and ids
    for p in dash["panels"]:
        assert p["targets"], p["title"]
        assert {t["refId"] for t in p["targets"]} and len(
            {t["refId"] for t in p["targets"]}
        ) == len(p["targets"])


# --- compose --------------------------------------------------------------------------------


def test_compose_has_the_services_with_healthchecks() -> None:
    services = load_yaml(COMPOSE)["services"]
    assert set(services) >= SERVICES
    for name, svc in services.items():
        assert "healthcheck" in svc and svc["healthcheck"]["test"], name
    assert re.fullmatch(r"apache/kafka:4\.[\d.]+", services["kafka"]["image"])
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert re.fullmatch(r"apicurio/apicurio-registry:3\.0\.[\d.]+", services["registry"]["image"])
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["clickhouse"]["environment"]["CLICKHOUSE_DB"] == "touchline"
    plugins = services["grafana"]["environment"]["GF_INSTALL_PLUGINS"]
    assert CLICKHOUSE_PLUGIN in plugins.split(",")


def test_compose_binds_loopback_only() -> None:
    for name, svc in load_yaml(COMPOSE)["services"].items():
        if svc.get("network_mode") == "host":
            # No port publishing in host mode: the service itself must listen on loopback.
            assert "ports" not in svc, name
            listen = " ".join(svc.get("command", [])) + " " + json.dumps(svc.get("environment", {}))
            assert re.search(
                r"listen-address=127\.0\.0\.1:|\"GF_SERVER_HTTP_ADDR\": \"127\.0\.0\.1\"", listen
            ), name
            continue
        ports = svc.get("ports", [])
        assert ports, f"{name} publishes no port"
        for port in ports:
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), (name, port)
            assert port.count(":") == 2, (name, port)


def test_compose_mounts_the_files_it_needs() -> None:
    services = load_yaml(COMPOSE)["services"]
    for svc in ("prometheus", "grafana"):
        for volume in services[svc]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), volume


def test_compose_documents_the_touchline_env_vars() -> None:
    text = COMPOSE.read_text()
    for var in ("KAFKA_BOOTSTRAP", "REDIS_URL", "CLICKHOUSE_DSN", "SCHEMA_REGISTRY_URL"):
        assert f"TOUCHLINE_{var}=" in text
        assert var.lower() in Settings.model_fields
    assert "TOUCHLINE_CLICKHOUSE_DSN=http://" in text
    assert re.search(r"TOUCHLINE_SCHEMA_REGISTRY_URL=http://\S+/apis/ccompat/v7", text)
    assert "worker_metrics_port" in Settings.model_fields


# --- prometheus -----------------------------------------------------------------------------


def test_prometheus_scrapes_the_three_processes() -> None:
    config = load_yaml(PROMETHEUS)
    assert config["rule_files"][0] == "alerts.yml"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    ingest_port = Settings.model_fields["ingest_port"].default
    expected = {
        "touchline-ingest": f"127.0.0.1:{ingest_port}",
        "touchline-worker": "127.0.0.1:9101",
        "touchline-sink": "127.0.0.1:9102",
        "touchline-monitor": "127.0.0.1:9103",
    }
    for job, target in expected.items():
        assert jobs[job].get("metrics_path", "/metrics") == "/metrics"
        targets = [t for sc in jobs[job]["static_configs"] for t in sc["targets"]]
        assert target in targets, job


def test_metric_name_collection_sees_every_module() -> None:
    names = touchline_metric_names()
    assert "touchline_ingest_requests_total" in names
    assert "touchline_ingest_produce_seconds_bucket" in names
    assert "touchline_worker_events_total" in names
    assert "touchline_worker_event_lag_seconds" in names
    assert "touchline_sink_consumer_lag" in names
    assert "touchline_sink_rows_written_total" in names
    assert "touchline_sink_rows_written" not in names  # counters are only exposed with _total


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    assert len({r["alert"] for r in rules}) == len(rules)
    for rule in rules:
        assert "for" in rule and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_alerts_use_only_existing_metrics() -> None:
    known = touchline_metric_names()
    used = {m for r in alert_rules() for m in METRIC_RE.findall(r["expr"])}
    assert used, "no touchline metric in alerts.yml"
    assert used <= known, f"alerts.yml uses unknown metrics: {sorted(used - known)}"


def test_alerts_cover_the_failure_modes() -> None:
    used = {m for r in alert_rules() for m in METRIC_RE.findall(r["expr"])}
    assert used >= {
        "touchline_ingest_requests_total",
        "touchline_ingest_events_total",
        "touchline_ingest_kafka_delivery_errors_total",
        "touchline_ingest_dead_letters_total",
        "touchline_worker_redis_retries_total",
        "touchline_worker_dead_letters_total",
        "touchline_sink_insert_retries_total",
        "touchline_consumer_group_lag",
        "touchline_consumer_group_lag_seconds",
        "touchline_consumer_group_members",
        "touchline_consumer_group_committed_offset",
        "touchline_monitor_kafka_up",
    }
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS)["scrape_configs"]}
    for rule in alert_rules():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, rule["alert"]


# --- grafana --------------------------------------------------------------------------------


def test_datasources_are_provisioned_with_the_uids_dashboards_use() -> None:
    sources = {d["uid"]: d for d in load_yaml(DATASOURCES)["datasources"]}
    types = {d["type"] for d in sources.values()}
    assert types == {CLICKHOUSE_PLUGIN, "prometheus"}
    ch = next(d for d in sources.values() if d["type"] == CLICKHOUSE_PLUGIN)
    assert ch["jsonData"]["protocol"] == "http" and ch["jsonData"]["host"] == "127.0.0.1"
    assert ch["jsonData"]["defaultDatabase"] == Settings.model_fields["clickhouse_database"].default
    for path in JSON_FILES:
        dash = load_json(path)
        refs = [p["datasource"] for p in dash["panels"]]
        refs += [t["datasource"] for p in dash["panels"] for t in p["targets"]]
        refs += [v["datasource"] for v in dash["templating"]["list"] if "datasource" in v]
        for ref in refs:
            assert ref["uid"] in sources and sources[ref["uid"]]["type"] == ref["type"], path.name


def test_dashboard_provider_points_at_the_dashboards() -> None:
    provider = load_yaml(DASHBOARD_PROVIDERS)["providers"][0]
    assert provider["type"] == "file"
    env = load_yaml(COMPOSE)["services"]["grafana"]["environment"]
    path = provider["options"]["path"]
    var = re.fullmatch(r"\$\{(\w+)\}", path)
    mounted = env[var.group(1)] if var else path
    volumes = load_yaml(COMPOSE)["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{mounted}:ro" in volumes


def test_ops_dashboard_uses_only_existing_metrics() -> None:
    known = touchline_metric_names()
    used = {m for expr in ops_exprs() for m in METRIC_RE.findall(expr)}
    assert used <= known, f"ops dashboard uses unknown metrics: {sorted(used - known)}"
    assert used >= {
        "touchline_ingest_requests_total",
        "touchline_ingest_produce_seconds_bucket",
        "touchline_worker_events_total",
        "touchline_worker_processing_seconds_bucket",
        "touchline_worker_dead_letters_total",
        "touchline_sink_rows_written_total",
        "touchline_sink_consumer_lag",
    }


def test_funnel_dashboard_reads_only_tables_the_ddl_creates() -> None:
    objects = ddl_objects()
    assert {"events", "events_canonical", "touches", "daily_events"} <= objects
    dash = load_json(FUNNEL)
    assert "account" in {v["name"] for v in dash["templating"]["list"]}
    for sql in funnel_sqls():
        body = strip_sql_comments(sql)
        for source in re.findall(r"\b(?:FROM|(?<!ARRAY )JOIN)\s+([^\s(]+)", body, re.I):
            db, _, table = source.partition(".")
            assert db == "touchline", f"unqualified or foreign table {source!r}"
            assert table in objects, f"{source} is not created by sinks/sql/ddl"


def test_funnel_dashboard_sql_runs_against_the_ddl() -> None:
    """Run every panel's SQL (Grafana macros expanded) on empty tables in chDB: catches columns
    that no longer exist. In a subprocess: chDB allows one session per process."""
    pytest.importorskip("chdb")
    script = textwrap.dedent(
        """
        import json, re, sys, tempfile
        from sinks import clickhouse
        sqls = json.loads(sys.stdin.read())
        client = clickhouse.connect("chdb://" + tempfile.mkdtemp())
        clickhouse.migrate(client, "touchline")
        for sql in sqls:
            sql = sql.replace("${account:singlequote}", "'acc1'")
            sql = re.sub(r"\\$__timeFilter\\((\\w+)\\)",
                         r"\\1 >= toDateTime(1700000000) AND \\1 <= toDateTime(1800000000)", sql)
            sql = sql.replace("$__fromTime", "toDateTime(1700000000)")
            sql = sql.replace("$__toTime", "toDateTime(1800000000)")
            assert "$" not in sql, sql
            client.query(sql)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(funnel_sqls()),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
