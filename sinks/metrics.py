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
    retries: Counter
    dead_letters: Counter
    lag: Gauge

    @classmethod
    def create(cls) -> SinkMetrics:
        r = CollectorRegistry()
        return cls(
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
            retries=Counter("touchline_sink_insert_retries", "Failed insert attempts", registry=r),
            dead_letters=Counter(
                "touchline_sink_dead_letters", "Records sent to the dead-letter topic", registry=r
            ),
            lag=Gauge(
                "touchline_sink_consumer_lag", "Records behind the high watermark", registry=r
            ),
        )
