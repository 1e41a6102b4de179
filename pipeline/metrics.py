"""Prometheus metrics of the stream processor."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS = Counter("touchline_worker_events_total", "Raw events processed, by outcome", ["outcome"])
PROCESSING = Histogram(
    "touchline_worker_processing_seconds",
    "Time from a batch taken to its outputs confirmed by Kafka, per event of the batch",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
REDIS_RETRIES = Counter(
    "touchline_worker_redis_retries_total", "Retries while Redis was unavailable"
)
MERGES = Counter("touchline_worker_identity_merges_total", "Clients merged into another")
SPLITS = Counter(
    "touchline_identity_splits",
    "Links undone because the identifier they were made through proved shared, by kind: claim "
    "(identifiers moved to a client of their own), unmerge (a merge undone), lookup (an event "
    "found through that identifier alone moved to a client of its own)",
    ["kind"],
)
SPLIT_KINDS = ("claim", "unmerge", "lookup", "release")
SHARED_IDENTIFIERS = Counter(
    "touchline_worker_shared_identifiers_total",
    "Identifiers not used to link clients because they are shared (front-desk phone, tablet)",
)
DEAD_LETTERS = Counter(
    "touchline_worker_dead_letters_total",
    "Events sent to the dead-letter topic, by stage and reason class",
    ["stage", "reason"],
)
# Each stage's reason classes; the first is the stage's default.
DEAD_LETTER_KINDS: dict[str, tuple[str, ...]] = {
    "decode": ("undecodable",),
    "validate": ("contract",),
    "enrich": ("bad_content", "redis_script", "unexpected"),
    "dedupe": ("conflicting_retry",),
    "emit": ("kafka_refused",),
}
OUTCOMES = ("enriched", "duplicate", "conflicting_retry", "dead_letter")
LAG = Gauge(
    "touchline_worker_event_lag_seconds",
    "Now minus occurred_at (event time) of the last event processed",
)
REDIS = Histogram(
    "touchline_worker_redis_seconds",
    "Time of one batch script call to Redis (resolve identities, record effects)",
    ["op"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0),
)
OFFSET_LAG = Gauge(
    "touchline_worker_offset_lag",
    "Messages in a raw topic partition not yet processed (high watermark minus next offset)",
    ["topic", "partition"],
)
OUTPUTS_UNCONFIRMED = Gauge(
    "touchline_worker_outputs_unconfirmed",
    "Outputs of the current batch that Kafka has not confirmed yet (its inputs stay uncommitted)",
)
BATCHES_IN_FLIGHT = Gauge(
    "touchline_worker_batches_in_flight",
    "Batches processed whose inputs are not released yet: their outputs (or an earlier "
    "batch's) wait for Kafka's confirmation (at most TOUCHLINE_WORKER_BATCHES_IN_FLIGHT "
    "while another is processed)",
)
OUTPUT_RETRIES = Counter(
    "touchline_worker_output_retries_total",
    "Outputs produced again because Kafka did not confirm them",
)
OUTPUTS_REFUSED = Counter(
    "touchline_worker_outputs_refused_total",
    "Outputs Kafka can never take (e.g. over max.message.bytes); their inputs were dead-lettered",
)
CONFLICTING_RETRIES = Counter(
    "touchline_worker_conflicting_retries_total",
    "Deliveries of an already applied event_id with different content (the first copy wins; "
    "the later one is dead-lettered)",
)


def initialise() -> None:
    """Every label value an alert reads exists from the start, at 0: ``increase()`` then sees the
    first failure (a series born at its first increment has no earlier sample to compare)."""
    for outcome in OUTCOMES:
        EVENTS.labels(outcome)
    for kind in SPLIT_KINDS:
        SPLITS.labels(kind)
    for stage, kinds in DEAD_LETTER_KINDS.items():
        for kind in kinds:
            DEAD_LETTERS.labels(stage, kind)


initialise()
