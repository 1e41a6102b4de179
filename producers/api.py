"""The ingest API: ``POST /v1/events`` and ``POST /v1/sources/<name>`` validate against the
contracts and publish to Kafka. A 2xx is answered only for events Kafka has acknowledged.

Limits and rules (the values come from :func:`ingest_config`, i.e. from the settings):

* **Content type**: ``application/json`` only (charset parameter allowed), else 415.
* **Body**: at most ``max_body_bytes`` (default 1 MiB), else 413; a JSON object (one event) or an
  array of at most ``max_batch_events`` (default 500) events, else 413.
* **Write keys**: ``Authorization: Bearer <key>`` or ``X-Touchline-Key: <key>``. The setting
  ``ingest_write_keys`` maps each key to the account it may write for (``"*"``: any account). A key
  bound to an account fills ``envelope.account_id`` when it is missing and refuses events of other
  accounts. When **no key is configured** the API runs in *open local mode*: requests need no key
  (that is how ``make demo`` and the tests on loopback post); with at least one key configured every
  request without a valid key gets 401.
* **Rate limit**: a token bucket per write key (in open mode, per source address: the first
  ``X-Forwarded-For`` hop when ``trust_forwarded_for`` is set, else the peer address) refilled at
  ``rate_events_per_second`` with a capacity of ``rate_burst`` events, so one busy sender cannot
  throttle the others; a request costs one token per event and gets 429 with ``Retry-After``
  when its bucket cannot pay for it.
* **Valid event time**: ``envelope.occurred_at`` before ``min_occurred_at`` (default
  2000-01-01T00:00:00Z) or after now + ``future_horizon_s`` is always refused (see
  :mod:`producers.events`); every timestamp field must be within 1900-01-01 .. 2299-12-31, what
  ClickHouse ``DateTime64(3)`` stores.
* **Event size**: an event whose Avro encoding is over ``max_event_bytes`` (default 256 KiB) is
  refused like an invalid one, naming its largest string field and the sizes.
* **Event time horizon**: ``envelope.occurred_at`` more than ``past_horizon_s`` (default 30 days)
  behind the server clock is outside the horizon. ``horizon_action`` decides: ``refuse``
  (rejected with the field and reason; history is loaded with ``touchline import``), ``flag``
  (accepted, listed under ``flagged`` and counted in the metrics) or ``off``. Default:
  ``refuse`` when write keys are configured, ``flag`` in open local mode, where the demo and
  tests replay synthetic timelines. (More than ``future_horizon_s`` ahead is outside the valid
  event time above: always refused.)
* **Partial acceptance**: 202 when every event was accepted, 207 when some were, 400 when none
  were. The body is always ``{"accepted": n, "event_ids": [...], "rejected": [{"index": i,
  "errors": [{"field": "$.envelope.x", "reason": "..."}]}], "flagged": [same shape]}``
  (``flagged``: accepted events outside the time horizon). An empty batch (``[]``, or a source
  payload that maps to no event) is 400 ``empty_batch``. Rejected inputs are also written to the
  dead-letter topic (stage ``ingest``, the reason, and the input's bytes: the request body for a
  single event, the event re-serialised as JSON for an element of a batch, or the whole body when
  it cannot be; over 512 KiB only a prefix, see :mod:`touchline.deadletter`). So are requests
  refused whole for their body (400 bad JSON or empty batch, 413).
* **Kafka**: 503 with ``Retry-After`` when the brokers are down, the producer queue is full or an
  event was not acknowledged; then none of the request's events is reported accepted (some may
  still have reached Kafka: a client retry with the same ``event_id`` is deduplicated downstream).
  A permanent refusal by Kafka (message too large, invalid record) is no outage: the event is
  rejected and dead-lettered like an invalid one, and a request with no event accepted is 413.
  Kafka checks a topic's ``max.message.bytes`` per record batch and refuses the whole batch, so
  the producer's batches stay under the limits the topics had when ingest started
  (:mod:`touchline.batch_bytes`), and an event refused for its size is produced again on its own
  (up to 3 times) and only refused if it is refused alone: an oversize event does not take the
  events batched with it.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from confluent_kafka import KafkaError
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from producers.adapters import ADAPTERS, Adapter
from producers.admin import add_admin_routes
from producers.doctext import markdown
from producers.door import ANY_ACCOUNT, OPEN_PRINCIPAL, Principal, Refusal, TokenBuckets
from producers.ingest import PERMANENT_PRODUCE_ERRORS, EventPublisher, Ingest, Ready
from producers.openapi import POST_RESPONSES, body_spec, crm_body
from producers.publisher import Publisher
from producers.source_bodies import BODIES
from touchline import batch_bytes, jsonschema, topics
from touchline.codec import Codec
from touchline.contracts import Contracts
from touchline.settings import Settings

__all__ = [
    "ANY_ACCOUNT",
    "OPEN_PRINCIPAL",
    "PERMANENT_PRODUCE_ERRORS",
    "EventPublisher",
    "IngestConfig",
    "Principal",
    "PublisherFactory",
    "Ready",
    "Refusal",
    "TokenBuckets",
    "create_app",
    "ingest_config",
]


def _default(name: str) -> Any:
    """The default of setting ``ingest_<name>``: Settings is the one place defaults live."""
    return Settings.model_fields[f"ingest_{name}"].default


@dataclass(frozen=True)
class IngestConfig:
    """The ingest API's limits (see the ``ingest_*`` settings for their meaning)."""

    write_keys: dict[str, str] = field(default_factory=dict)  # key -> account id or "*"
    max_batch_events: int = _default("max_batch_events")
    max_body_bytes: int = _default("max_body_bytes")
    rate_events_per_second: float = _default("rate_events_per_second")
    rate_burst: int = _default("rate_burst")
    trust_forwarded_for: bool = _default("trust_forwarded_for")
    future_horizon_s: int = _default("future_horizon_s")
    past_horizon_s: int = _default("past_horizon_s")
    horizon_action: str | None = _default("horizon_action")  # refuse | flag | off
    min_occurred_at: str = _default("min_occurred_at")
    max_event_bytes: int = _default("max_event_bytes")
    kafka_timeout_ms: int = _default("kafka_timeout_ms")
    max_in_flight: int = _default("max_in_flight")


def ingest_config(settings: Settings) -> IngestConfig:
    """The ingest limits from the ``ingest_*`` settings (env ``TOUCHLINE_INGEST_<NAME>``)."""
    return IngestConfig(
        **{name: getattr(settings, f"ingest_{name}") for name in IngestConfig.__dataclass_fields__}
    )


PublisherFactory = Callable[[Callable[[KafkaError], None]], EventPublisher]


def create_app(
    settings: Settings,
    contracts: Contracts,
    codec: Codec,
    bootstrap: str,
    *,
    config: IngestConfig | None = None,
    publisher_factory: PublisherFactory | None = None,
) -> FastAPI:
    cfg = config or ingest_config(settings)
    ingest = Ingest(settings, contracts, codec, cfg)
    written = [*topics.all_raw(settings, contracts), topics.dead_letter(settings)]
    factory = publisher_factory or partial(
        _kafka_publisher, bootstrap, cfg, written, settings.kafka_max_message_bytes
    )
    # /docs and /redoc load Swagger UI and ReDoc from fastapi-offline's packaged assets (served
    # under /static-offline-docs), not from a CDN: the page works on a machine without internet.
    app = FastAPIOffline(
        title="Touchline ingest",
        version="1",
        lifespan=_lifespan(ingest, factory),
        description=markdown(__doc__ or ""),
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["POST"],
        allow_headers=["Authorization", "X-Touchline-Key", "Content-Type"],
        max_age=86400,
    )
    app.state.metrics = ingest.metrics
    _add_probes(app, ingest)
    _add_events_route(app, ingest, jsonschema.request_body(contracts, cfg.max_batch_events))
    for source_name, source_adapter in ADAPTERS.items():
        _add_source_route(app, ingest, source_name, source_adapter)
    add_admin_routes(app, settings)
    return app


def _kafka_publisher(
    bootstrap: str,
    cfg: IngestConfig,
    written: list[str],
    max_message_bytes: int,
    on_error: Callable[[KafkaError], None],
) -> EventPublisher:
    batch = batch_bytes.for_topics(bootstrap, written, max_message_bytes)
    return Publisher(
        bootstrap,
        max_in_flight=cfg.max_in_flight,
        on_delivery_error=on_error,
        **{"message.timeout.ms": cfg.kafka_timeout_ms, "batch.size": batch},
    )


def _lifespan(
    ingest: Ingest, factory: PublisherFactory
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ingest.publisher = factory(ingest.on_delivery_error)
        # Move the app's long-lived objects (schemas, routes, modules) out of the collector's
        # sight: a batch allocates thousands of containers, and each full collection would
        # otherwise rescan all of them (measured: ~10% of the server's CPU on 500-event batches).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            ingest.publisher.close()

    return lifespan


# --- routes --------------------------------------------------------------------------------------


def _add_probes(app: FastAPI, ingest: Ingest) -> None:
    metrics = ingest.metrics

    @app.get("/healthz", responses={200: {"description": "The process is up."}})
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        responses={
            200: {"description": "Kafka answered a metadata request."},
            503: {"description": "Kafka is not reachable."},
        },
    )
    async def readyz() -> JSONResponse:
        ok = await asyncio.to_thread(ingest.publisher.reachable, 2.0)
        metrics.requests.labels("readyz", "200" if ok else "503").inc()
        if ok:
            return JSONResponse({"status": "ready"})
        return JSONResponse(
            {"status": "kafka unreachable"}, status_code=503, headers={"Retry-After": "5"}
        )

    @app.get(
        "/metrics",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text format.",
                "content": {metrics.content_type: {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)


def _add_events_route(app: FastAPI, ingest: Ingest, events_schema: dict[str, Any]) -> None:
    @app.post(
        "/v1/events",
        status_code=202,
        responses=POST_RESPONSES,
        openapi_extra=body_spec(events_schema),
    )
    async def post_events(request: Request) -> Response:
        """One contract event (a JSON object) or a batch (an array of them)."""
        return await ingest.handle(request, "events", ingest.events)


def _add_source_route(app: FastAPI, ingest: Ingest, name: str, adapter: Adapter) -> None:
    body = partial(ingest.source, name, adapter)

    async def post_source(request: Request) -> Response:
        return await ingest.handle(request, name, body)

    app.add_api_route(
        f"/v1/sources/{name}",
        post_source,
        methods=["POST"],
        status_code=202,
        name=f"post_{name.replace('-', '_')}",
        summary=f"Native payload of the {adapter.title}",
        description=markdown(adapter.doc),
        responses=POST_RESPONSES,
        openapi_extra=body_spec(crm_body() if name == "crm" else BODIES[name](ingest.contracts)),
    )
