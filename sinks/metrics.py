"""Prometheus metrics of one sink (own registry, so several sinks can live in one process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass
class SinkMetrics:
    registry: CollectorRegistry
    rows: Counter
    merges: Counter
    batches: Counter
    insert_seconds: Histogram
    derive_seconds: Histogram
    derive_errors: Counter
    retries: Counter
    dead_letters: Counter
    lag: Gauge
    insert_errors: Counter
    paused: Gauge
    kafka_waiting: Gauge
    dead_letter_retries: Counter
    identity_refreshes: Counter

    @classmethod
    def create(cls) -> SinkMetrics:
        r = CollectorRegistry()
        metrics = cls(
            registry=r,
            rows=Counter("touchline_sink_rows_written", "Event rows inserted", registry=r),
            merges=Counter("touchline_sink_merges_written", "Merge rows inserted", registry=r),
            batches=Counter("touchline_sink_batches", "Batches inserted and committed", registry=r),
            insert_seconds=Histogram(
                "touchline_sink_insert_seconds",
                "Latency of successful ClickHouse inserts",
                registry=r,
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
            derive_seconds=_derive_seconds(r),
            derive_errors=_derive_errors(r),
            retries=Counter("touchline_sink_insert_retries", "Failed insert attempts", registry=r),
            dead_letters=Counter(
                "touchline_sink_dead_letters", "Records sent to the dead-letter topic", registry=r
            ),
            lag=Gauge(
                "touchline_sink_consumer_lag",
                "Records between the committed offsets and the high watermark",
                registry=r,
            ),
            insert_errors=Counter(
                "touchline_sink_insert_errors",
                "Failed ClickHouse inserts by kind: transient (retried) or permanent (the batch "
                "is split and bisected; rows refused alone are dead-lettered)",
                ["kind"],
                registry=r,
            ),
            paused=Gauge(
                "touchline_sink_paused",
                "1 while the sink has paused consumption to retry ClickHouse or Kafka",
                registry=r,
            ),
            kafka_waiting=Gauge(
                "touchline_sink_waiting_on_kafka",
                "1 while dead letters wait for Kafka's acknowledgement (offsets are not committed)",
                registry=r,
            ),
            dead_letter_retries=Counter(
                "touchline_sink_dead_letter_retries",
                "Dead letters Kafka did not acknowledge, produced again",
                registry=r,
            ),
            identity_refreshes=Counter(
                "touchline_sink_identity_map_refreshes",
                "Identity map refreshes before a derivation (sinks/identity_maps.py) by map "
                "(aliases, split_events) and outcome: refreshed, or skipped (nothing it is "
                "computed from changed)",
                ["map", "outcome"],
                registry=r,
            ),
        )
        for kind in ("transient", "permanent"):  # alerts see the first error of each kind
            metrics.insert_errors.labels(kind)
            metrics.derive_errors.labels(kind)
        return metrics


def _derive_seconds(r: CollectorRegistry) -> Histogram:
    return Histogram(
        "touchline_sink_derive_seconds",
        "Latency of re-deriving a batch's clients' event-time touches (sinks/touch_derivation.py)",
        registry=r,
        buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )


def _derive_errors(r: CollectorRegistry) -> Counter:
    return Counter(
        "touchline_sink_derive_errors",
        "Failed re-derivations of event-time touches by kind: transient (retried) or permanent "
        "(logged; the next derivation of those clients or `touchline db rederive` repairs them)",
        ["kind"],
        registry=r,
    )
