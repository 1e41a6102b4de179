"""The one configuration object. Every setting reads ``TOUCHLINE_<NAME>`` from the environment.

``touchline config`` prints every setting with its env var, value and default; the README table is
generated from the same field descriptions.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from touchline import redis_client

REPO_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHLINE_", extra="ignore")

    # --- local stack -------------------------------------------------------------------------
    state_dir: Path = Field(
        Path(".touchline"), description="Where local services keep data, logs, pid files and ports."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "touchline", description="Outside-git cache (Kafka's classpath)."
    )
    kafka_bootstrap: str | None = Field(
        None, description="Use this Kafka instead of the local broker (host:port[,host:port])."
    )
    kafka_port: int = Field(0, description="Local broker's port; 0 picks a free one, kept.")
    kafka_version: str = Field("4.1.1", description="Apache Kafka version run by the local stack.")
    kafka_heap: str = Field("512m", description="Max JVM heap of the local broker.")
    redis_url: Annotated[str | None, AfterValidator(redis_client.check_url)] = Field(
        None,
        description="Use this Redis instead of the local redis-server (redis://host:port/db), or "
        "a Redis Cluster: redis+cluster://host:port[,host:port...] (rediss+cluster:// with TLS).",
    )
    redis_listpack_value: int = Field(
        256,
        ge=64,
        description="The local redis-server keeps a sorted set or hash with members up to this "
        "many bytes (and up to 128 of them) as one compact listpack: a card's hits fit, at about "
        "half the memory of the default 64 (set the same on a Redis of your own).",
    )
    redis_port: int = Field(0, description="Local redis-server's port; 0 picks a free one, kept.")
    clickhouse_dsn: str | None = Field(
        None,
        description="ClickHouse DSN: chdb://DIR (embedded) or http(s)://user:pass@host:port/db. "
        "Default: chdb://<state_dir>/clickhouse.",
    )
    clickhouse_database: str = Field("touchline", description="ClickHouse database name.")
    clickhouse_cluster: str | None = Field(
        None,
        description="ClickHouse cluster (a name in the servers' remote_servers): migrations create "
        "ReplicatedMergeTree tables <table>_local and Distributed tables <table> over them, ON "
        "CLUSTER. Unset: the single-node DDL.",
    )
    clickhouse_replica_path: str = Field(
        "/clickhouse/tables/{shard}/{database}/{table}",
        description="With a cluster: the ReplicatedMergeTree path ({shard} and {replica} are the "
        "servers' macros).",
    )
    clickhouse_shard_key: str = Field(
        "cityHash64(account_id)",
        description="With a cluster: the Distributed tables' sharding key (an account's rows on "
        "one shard keeps FINAL and the reports' joins shard-local).",
    )
    schema_registry_url: str | None = Field(
        None,
        description="Confluent-compatible schema registry; when set, producers write the "
        "Confluent wire format. Unset: Avro single-object encoding resolved against schemas/.",
    )
    local_registry: bool = Field(
        True,
        description="Run the local Apicurio schema registry with the stack (Confluent wire "
        "format). false: Avro single-object encoding, no registry process.",
    )
    registry_port: int = Field(0, description="Local registry's port; 0 picks a free one, kept.")
    registry_version: str = Field("3.0.9", description="Apicurio Registry version run locally.")
    schemas_dir: Path = Field(REPO_ROOT / "schemas", description="Directory of the .avsc files.")
    topic_prefix: str = Field("touchline", description="Prefix of every Kafka topic name.")
    topic_partitions: int = Field(4, description="Partitions of topics the project creates.")
    topic_replication_factor: int = Field(
        1,
        description="Replication factor of topics the project creates (3 on a cluster of 3+ "
        "brokers; min.insync.replicas is then set to it minus one).",
    )
    kafka_max_message_bytes: int = Field(
        2_097_152,
        description="max.message.bytes of the topics the project creates, and the producers' "
        "message.max.bytes: room for the enriched form of the largest event ingest accepts.",
    )
    test_containers: bool = Field(
        False, description="Tests: start services with testcontainers (needs Docker)."
    )

    # --- ingest ----------------------------------------------------------------------------
    ingest_host: str = Field("127.0.0.1", description="Ingest API bind address.")
    ingest_port: int = Field(8087, description="Ingest API port.")
    ingest_write_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object write key -> account id (or "*" for any account). Empty: '
        "open local mode, no key needed.",
    )
    ingest_max_batch_events: int = Field(500, description="Most events in one POST (else 413).")
    ingest_max_body_bytes: int = Field(1_048_576, description="Largest request body (else 413).")
    ingest_rate_events_per_second: float = Field(
        2000.0,
        description="Token-bucket rate (events/s) of each write key, or of each source address "
        "in open mode; past it 429.",
    )
    ingest_rate_burst: int = Field(
        10_000, description="Token-bucket burst (events) of each write key or source address."
    )
    ingest_trust_forwarded_for: bool = Field(
        False,
        description="Open mode behind a reverse proxy: key the rate limit by the first "
        "X-Forwarded-For address instead of the proxy's.",
    )
    ingest_future_horizon_s: int = Field(
        900, description="occurred_at further in the future than this is out of horizon."
    )
    ingest_past_horizon_s: int = Field(
        30 * 86400, description="occurred_at further in the past than this is out of horizon."
    )
    ingest_min_occurred_at: str = Field(
        "2000-01-01T00:00:00Z",
        description="Earliest envelope.occurred_at accepted by ingest and import (ISO-8601 time "
        "or date, or epoch ms); the latest is now + ingest_future_horizon_s. Outside: refused.",
    )
    ingest_max_event_bytes: int = Field(
        262_144, description="Largest event, measured as its encoded Avro (else refused)."
    )
    ingest_horizon_action: str | None = Field(
        None,
        description="refuse | flag | off for out-of-horizon events; default: refuse when write "
        "keys are configured, flag in open mode.",
    )
    ingest_kafka_timeout_ms: int = Field(
        10_000, description="Longest wait for Kafka's acknowledgement before answering 503."
    )
    ingest_max_in_flight: int = Field(
        100_000, description="Most unacknowledged messages before answering 503."
    )
    import_batch_rows: int = Field(
        1000, description="touchline import: rows validated and published per batch."
    )

    # --- stream processing -----------------------------------------------------------------
    worker_id: str = Field("touchline-worker", description="Faust app id (consumer group).")
    session_timeout_minutes: int = Field(30, description="Inactivity that starts a new session.")
    lookback_days: int = Field(
        90, ge=1, le=365, description="Touch lookback for the client card (max 365)."
    )
    multichannel_min_channels: int = Field(
        2, description="Distinct channels before a contact that make it multichannel."
    )
    hit_cap: int = Field(
        2000,
        description="Most hits (web hits, contacts, leads) a client card keeps, within the "
        "lookback, to derive its touches in event time.",
    )
    identity_max_share: int = Field(
        2,
        description="An identifier seen with more distinct emails (or ids of one source system) "
        "than this is shared (front-desk phone, shared tablet) and no longer links clients.",
    )
    identity_provenance_cap: int = Field(
        64,
        ge=1,
        description="Identifier sets recorded per client (links:) and events that carried one "
        "identifier alone recorded per identifier (lookedupvia:), so the client can be regrouped "
        "if an identifier proves shared; beyond this many they are not recorded, nor regrouped.",
    )
    identity_id_shards: int = Field(
        256,
        ge=1,
        le=65536,
        description="Hashes per account holding identifier -> client (ids:<shard>): each stays a "
        "compact Redis listpack up to hash-max-listpack-entries (512 by default), so ~512 x this "
        "many identifiers per account cost ~55 B each (~140 B as keys of their own). Fixed once "
        "a deployment has identities: workers refuse another value until `touchline rebuild "
        "--flush` replays them.",
    )
    phone_region: str = Field("DE", description="Region for phone numbers without country code.")
    own_hosts: list[str] = Field(
        default_factory=list,
        description="The business's own site hosts (JSON list); referrals from them are direct.",
    )
    ai_assistant_as_referral: bool = Field(
        False,
        description="Count visits from AI assistants (ChatGPT, Gemini, Perplexity, ...) as "
        "referral, as GA4's default channel group does, instead of Touchline's ai_assistant.",
    )
    worker_batch_size: int = Field(
        500,
        description="Most raw events a worker processes per batch (one Redis call resolves it, "
        "one per 100 events records it).",
    )
    worker_batches_in_flight: int = Field(
        2,
        ge=0,
        description="Processed batches whose outputs may wait for Kafka's confirmation while the "
        "worker processes the next one (0: each batch waits for its own). Inputs are committed "
        "in order, only once Kafka confirmed every output they and earlier batches caused.",
    )
    worker_exit_grace_s: float = Field(
        25.0,
        gt=0,
        description="When a batch can never be delivered, how long the worker lets "
        "the deliveries under way end (deciding their events' outcomes) before it exits.",
    )
    worker_session_timeout_s: float = Field(
        15.0, description="Kafka group session timeout of a worker (failover time after a crash)."
    )
    worker_metrics_port: int = Field(
        0, description="Port of the worker's Prometheus /metrics; 0 = no metrics server."
    )
    worker_record_chunk: int = Field(
        100, description="Events per Redis record-script call (a batch is pipelined in chunks)."
    )
    worker_session_keep_hours: int = Field(
        24,
        ge=1,
        description="The worker keeps a client's visits last seen within this many hours of their "
        "newest (at most 20) to place late pages in them; reports and cards derive visits in "
        "event time from the stored events and hits, whatever it keeps.",
    )
    worker_gc_threshold: int = Field(
        50_000,
        ge=1,
        description="Allocations between young-generation garbage collections in the worker and "
        "the sink (Python's gc threshold 0, default 700): a batch keeps tens of thousands of "
        "objects alive, which a small threshold rescans collection after collection.",
    )
    worker_dedupe_days: int = Field(
        30,
        ge=1,
        description="How long the worker recognises an applied event_id (days): a copy within "
        "this window (and at most twice it) is never applied again (pipeline/dedupe.py).",
    )
    worker_dedupe_shards: int = Field(
        256,
        ge=1,
        le=65536,
        description="Hashes per dedup generation and account: each stays a compact Redis listpack "
        "up to hash-max-listpack-entries (512 by default), so about 512 x this many events per "
        "window cost ~26 B each (about 96 B beyond); changing it starts a fresh dedup window.",
    )

    # --- sink ------------------------------------------------------------------------------
    sink_batch_rows: int = Field(5000, description="Sink: rows per ClickHouse insert.")
    sink_batch_seconds: float = Field(1.0, description="Sink: max seconds a batch waits.")
    sink_derive_seconds: float = Field(
        5.0, ge=0, description="Sink: max seconds stored batches wait to derive (then commit)."
    )
    touch_derivation_ids: int = Field(
        5000, ge=1, description="Sink: clients per derivation query (and most waiting at once)."
    )

    # --- privacy and retention (issue 12) --------------------------------------------------
    privacy_key: str = Field(
        "touchline-local-privacy-key",
        description="Secret key of the keyed hashes (HMAC-SHA256) in the suppression topic and "
        "the erasure log. Set your own in production: the hashes are only as private as the key.",
    )
    admin_keys: dict[str, str] = Field(
        default_factory=dict,
        description='JSON object admin key -> account id (or "*"): keys with the admin scope '
        "(POST /v1/admin/erasures). Write keys never have it. Empty: the admin routes are off.",
    )
    raw_retention_ms: int = Field(
        7 * 86_400_000,
        description="retention.ms of the raw topics (the erased person's events stay there, "
        "suppressed, until it passes); -1 keeps them forever.",
    )
    dead_letter_retention_ms: int = Field(
        14 * 86_400_000,
        description="retention.ms of the dead-letter topic (refused events with their original "
        "bytes); -1 keeps them forever.",
    )
    clickhouse_ttl_days: dict[str, int] = Field(
        default_factory=lambda: {
            "events": 0,
            "touches": 0,
            "order_lines": 0,
            "booking_steps": 0,
            "client_profiles": 0,
            "daily_events": 0,
            "identity_merges": 0,
            "identity_splits": 0,
            "erasure_log": 0,
        },
        description="JSON object table -> days a row is kept in ClickHouse (TTL on its event "
        "time, applied by `touchline db migrate` and the sink at start); 0 keeps rows forever.",
    )
    clickhouse_pseudonymise: bool = Field(
        False,
        description="Store email and phone in ClickHouse as keyed hashes (under "
        "TOUCHLINE_PRIVACY_KEY), also where payloads repeat them; reports looked up by a clear "
        "email or phone hash it the same way.",
    )

    # --- monitoring ------------------------------------------------------------------------
    local_monitoring: bool = Field(
        True,
        description="Run Prometheus, Alertmanager and `touchline monitor` with the local stack.",
    )
    monitor_port: int = Field(
        0,
        description="Port of `touchline monitor`'s /metrics (consumer-group lag read from "
        "Kafka); 0 picks a free one and remembers it.",
    )
    monitor_interval_s: float = Field(
        5.0, description="Seconds between two reads of committed offsets and high watermarks."
    )
    prometheus_port: int = Field(
        0, description="Port of the local Prometheus; 0 picks a free one and remembers it."
    )
    alertmanager_port: int = Field(
        0, description="Port of the local Alertmanager; 0 picks a free one and remembers it."
    )
    prometheus_scrape_interval_s: float = Field(
        15.0, description="Scrape and rule evaluation interval of the local Prometheus."
    )
    alert_window_cap_s: int = Field(
        0,
        description="0: alert rules as written. N>0: every `for:` and range window of the "
        "local Prometheus's rules capped at N seconds (end-to-end alert tests).",
    )
    log_repeats_per_minute: int = Field(
        5,
        description="Log lines of one kind (logger, level, message) written per minute; the "
        "rest are counted and reported in one line.",
    )

    # --- booking-health anomalies (sinks/anomalies.py, sinks/silence.py) ------------------------
    anomaly_baseline_weeks: int = Field(
        4,
        description="Anomalies: weeks before an hour whose same hour-of-week values give its "
        "baseline (their median; at least 2 needed).",
        ge=2,
    )
    anomaly_window_hours: int = Field(
        3,
        description="Anomalies: hours summed into one score (the hour and the ones before it).",
        ge=1,
    )
    anomaly_threshold: float = Field(
        4.5,
        description="Anomalies: a score below -this is a drop, above +this a spike.",
        gt=0,
    )
    anomaly_min_volume: float = Field(
        20.0,
        description="Anomalies: minimum expected (drops) or actual (spikes) count in a window, "
        "and minimum booking starts for conversion rate; below it no alert (quiet hours).",
        ge=0,
    )
    anomaly_silence_score: float = Field(
        11.0,
        description="Source silence: alert when the time since a source's last event would have "
        "held this many clients by its hour-of-week baseline (chance of it by luck: e^-score).",
        gt=0,
    )
    anomaly_silence_min_rate: float = Field(
        6.0,
        description="Source silence: no alert in an hour whose hour-of-week baseline has fewer "
        "clients of the source than this (quiet at night, or a trickle).",
        ge=0,
    )
    anomaly_scan_seconds: float = Field(
        60.0,
        description="Sink: seconds between anomaly and source-silence scans (0 = no scans).",
        ge=0,
    )

    @property
    def effective_clickhouse_dsn(self) -> str:
        if self.clickhouse_dsn:
            return self.clickhouse_dsn
        return f"chdb://{(self.state_dir / 'clickhouse').resolve()}"

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def default(name: str) -> Any:
    """The default of setting ``name``, for the inner configs whose fields mirror settings: they
    take it from here rather than restating it."""
    return Settings.model_fields[name].get_default(call_default_factory=True)
