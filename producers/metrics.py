"""Prometheus metrics of the ingest API, in a registry of their own (one per app instance, so
tests can build many apps in one process). ``GET /metrics`` serves :meth:`IngestMetrics.render`."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Reasons of a 503 (events not accepted because Kafka or the registry is not available).
OUTAGE_REASONS = ("kafka_unavailable", "queue_full", "registry_unavailable")
# librdkafka's names of the delivery errors an outage produces (others appear when they happen).
DELIVERY_ERRORS = ("_MSG_TIMED_OUT", "_TRANSPORT", "_ALL_BROKERS_DOWN", "REQUEST_TIMED_OUT")
PRODUCE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class IngestMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "touchline_ingest_requests",
            "HTTP requests to the ingest API by endpoint and status code.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.events = Counter(
            "touchline_ingest_events",
            "Events by outcome (accepted, rejected, unavailable) and reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.produce_seconds = Histogram(
            "touchline_ingest_produce_seconds",
            "Time from handing a request's events to the producer until Kafka acknowledged all.",
            buckets=PRODUCE_BUCKETS,
            registry=self.registry,
        )
        self.delivery_errors = Counter(
            "touchline_ingest_kafka_delivery_errors",
            "Messages Kafka did not acknowledge, by error name.",
            ["error"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "touchline_ingest_dead_letters",
            "Rejected inputs written to the dead-letter topic, by outcome (written, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "touchline_ingest_producer_queue_depth",
            "Messages waiting in the Kafka producer's local queue.",
            registry=self.registry,
        )
        if queue_depth is not None:
            self.queue_depth.set_function(queue_depth)
        self.initialise()

    def initialise(self) -> None:
        """Every label value an alert reads exists from the start, at 0, so ``increase()`` and
        ``rate()`` see the first failure (a series born at its first increment has no earlier
        sample to compare with)."""
        for endpoint in ("events", "readyz"):
            for status in ("202", "503"):
                self.requests.labels(endpoint, status)
        self.events.labels("accepted", "ok")
        for reason in OUTAGE_REASONS:
            self.events.labels("unavailable", reason)
        for error in DELIVERY_ERRORS:
            self.delivery_errors.labels(error)
        for outcome in ("written", "failed"):
            self.dead_letters.labels(outcome)

    def render(self) -> bytes:
        return generate_latest(self.registry)
