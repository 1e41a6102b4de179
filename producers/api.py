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
* **Rate limit**: a token bucket per key (per ``"open"`` in open mode) refilled at
  ``rate_events_per_second`` with a capacity of ``rate_burst`` events; a request costs one token
  per event and gets 429 with ``Retry-After`` when the bucket cannot pay for it.
* **Event time**: ``envelope.occurred_at`` more than ``future_horizon_s`` (default 15 min, clock
  skew) ahead of the server clock or more than ``past_horizon_s`` (default 30 days) behind it is
  outside the horizon. ``horizon_action`` decides: ``refuse`` (rejected with the field and reason;
  history is loaded with ``touchline import``), ``flag`` (accepted, listed under ``flagged`` and
  counted in the metrics) or ``off``. Default: ``refuse`` when write keys are configured,
  ``flag`` in open local mode, where the demo and tests replay synthetic timelines.
* **Partial acceptance**: 202 when every event was accepted, 207 when some were, 400 when none
  were. The body is always ``{"accepted": n, "event_ids": [...], "rejected": [{"index": i,
  "errors": [{"field": "$.envelope.x", "reason": "..."}]}], "flagged": [same shape]}``
  (``flagged``: accepted events outside the time horizon). Rejected inputs are also written to
  the dead-letter topic (stage ``ingest``, the reason, and the input's bytes: the request body for a
  single event, the event re-serialised as JSON for an element of a batch).
* **Kafka**: 503 with ``Retry-After`` when the brokers are down, the producer queue is full or an
  event was not acknowledged; then none of the request's events is reported accepted (some may
  still have reached Kafka: a client retry with the same ``event_id`` is deduplicated downstream).
"""

from __future__ import annotations

import gc
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from confluent_kafka import KafkaError
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response

from producers.adapters import ADAPTERS, Adapter, AdapterError
from producers.events import Prepared, now_ms, prepare
from producers.metrics import IngestMetrics
from producers.publisher import Message, Publisher, QueueFull
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import DEAD_LETTER, Contracts
from touchline.settings import Settings
from touchline.validation import FieldError

log = logging.getLogger("touchline.ingest")

OPEN_PRINCIPAL = "open"
ANY_ACCOUNT = "*"


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
    future_horizon_s: int = _default("future_horizon_s")
    past_horizon_s: int = _default("past_horizon_s")
    horizon_action: str | None = _default("horizon_action")  # refuse | flag | off
    kafka_timeout_ms: int = _default("kafka_timeout_ms")
    max_in_flight: int = _default("max_in_flight")


def ingest_config(settings: Settings) -> IngestConfig:
    """The ingest limits from the ``ingest_*`` settings (env ``TOUCHLINE_INGEST_<NAME>``)."""
    return IngestConfig(
        **{name: getattr(settings, f"ingest_{name}") for name in IngestConfig.__dataclass_fields__}
    )


class TokenBuckets:
    """One token bucket per principal. Pure apart from the injected clock."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # principal -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, principal: str, cost: int) -> float:
        """Take ``cost`` tokens; returns 0 on success, else the seconds to wait before retrying."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(principal, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if cost > self.burst:
                self._buckets[principal] = (tokens, now)
                return math.inf
            if tokens >= cost:
                self._buckets[principal] = (tokens - cost, now)
                return 0.0
            self._buckets[principal] = (tokens, now)
            return (cost - tokens) / self.rate if self.rate > 0 else math.inf


class EventPublisher(Protocol):
    """What the API needs from :class:`producers.publisher.Publisher` (faked in unit tests)."""

    @property
    def brokers_down(self) -> bool: ...

    def reachable(self, timeout: float = 2.0) -> bool: ...

    def queue_depth(self) -> int: ...

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]: ...

    def send(self, message: Message, callback: Callable[[KafkaError | None], None]) -> bool: ...

    def close(self, timeout: float = 30.0) -> int: ...


PublisherFactory = Callable[[Callable[[KafkaError], None]], EventPublisher]


class Refusal(Exception):
    """A whole request is refused before any event is looked at."""

    def __init__(self, status: int, reason: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        return JSONResponse(
            {"error": self.message, "reason": self.reason}, status_code=self.status, headers=headers
        )


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "reason": {"type": "string"}},
    "required": ["error"],
}
_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "event_ids": {"type": "array", "items": {"type": "string"}},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "errors": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "field": {"type": "string"},
                                "reason": {"type": "string"},
                            },
                            "required": ["field", "reason"],
                        },
                    },
                },
                "required": ["index", "errors"],
            },
        },
    },
    "required": ["accepted", "event_ids", "rejected"],
}
_RESULT_SCHEMA["properties"]["flagged"] = _RESULT_SCHEMA["properties"]["rejected"]


def _responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        schema = _RESULT_SCHEMA if code in (202, 207) else _ERROR_SCHEMA
        if code == 400:
            schema = {"oneOf": [_RESULT_SCHEMA, _ERROR_SCHEMA]}
        out[code] = {
            "description": _DESCRIPTIONS[code],
            "content": {"application/json": {"schema": schema}},
        }
    return out


_DESCRIPTIONS = {
    202: "Every event was acknowledged by Kafka.",
    207: "Some events were acknowledged, the others rejected (see `rejected`).",
    400: "No event accepted: invalid JSON, or every event invalid.",
    401: "Missing or unknown write key.",
    413: "Body larger than the byte limit, or more events than the batch limit.",
    415: "Content type is not application/json.",
    429: "Rate limit of the write key exceeded; see Retry-After.",
    503: "Kafka unavailable or the producer queue is full; retry after Retry-After.",
}
_POST_RESPONSES = _responses(202, 207, 400, 401, 413, 415, 429, 503)


def _body_spec(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


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
    state: dict[str, EventPublisher] = {}
    metrics = IngestMetrics(lambda: float(state["publisher"].queue_depth()) if state else 0.0)
    buckets = TokenBuckets(cfg.rate_events_per_second, cfg.rate_burst)
    dead_letter_topic = topics.dead_letter(settings)

    def on_delivery_error(err: KafkaError) -> None:
        metrics.delivery_errors.labels(err.name()).inc()

    def default_factory(on_error: Callable[[KafkaError], None]) -> EventPublisher:
        return Publisher(
            bootstrap,
            max_in_flight=cfg.max_in_flight,
            on_delivery_error=on_error,
            **{"message.timeout.ms": cfg.kafka_timeout_ms},
        )

    factory = publisher_factory or default_factory

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["publisher"] = factory(on_delivery_error)
        # Move the app's long-lived objects (schemas, routes, modules) out of the collector's
        # sight: a batch allocates thousands of containers, and each full collection would
        # otherwise rescan all of them (measured: ~10% of the server's CPU on 500-event batches).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            state["publisher"].close()

    app = FastAPI(
        title="Touchline ingest",
        version="1",
        lifespan=lifespan,
        description=__doc__ or "",
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["POST"],
        allow_headers=["Authorization", "X-Touchline-Key", "Content-Type"],
        max_age=86400,
    )
    app.state.metrics = metrics

    # --- request gates -----------------------------------------------------------------------

    def principal_of(request: Request) -> tuple[str, str | None]:
        """``(principal, account)``: account None means any account may be written."""
        if not cfg.write_keys:
            return OPEN_PRINCIPAL, None
        key = request.headers.get("x-touchline-key")
        auth = request.headers.get("authorization", "")
        if key is None and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        if not key or key not in cfg.write_keys:
            raise Refusal(401, "unauthorized", "a valid write key is required")
        account = cfg.write_keys[key]
        return f"key:{key[:6]}", (None if account == ANY_ACCOUNT else account)

    async def read_json(request: Request) -> tuple[Any, bytes]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refusal(415, "unsupported_media_type", "Content-Type must be application/json")
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > cfg.max_body_bytes:
            raise Refusal(413, "body_too_large", f"body exceeds {cfg.max_body_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cfg.max_body_bytes:
                raise Refusal(413, "body_too_large", f"body exceeds {cfg.max_body_bytes} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            return orjson.loads(raw), raw
        except orjson.JSONDecodeError as exc:
            dead_letter(f"$: body is not valid JSON: {exc}", raw)
            raise Refusal(400, "bad_json", f"body is not valid JSON: {exc}") from exc

    def charge(principal: str, cost: int) -> None:
        wait = buckets.take(principal, cost)
        if wait:
            retry = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            raise Refusal(429, "rate_limited", "rate limit exceeded", retry_after=retry)

    def kafka_ready() -> None:
        publisher = state["publisher"]
        if publisher.brokers_down:
            raise Refusal(503, "kafka_unavailable", "Kafka is unavailable", retry_after=5)

    # --- dead letters --------------------------------------------------------------------------

    def dead_letter(reason: str, original: bytes) -> None:
        datum = {
            "failed_at": now_ms(),
            "stage": "ingest",
            "reason": reason[:2000],
            "topic": None,
            "partition": None,
            "offset": None,
            "original": original,
        }
        message = Message(dead_letter_topic, None, codec.encode(DEAD_LETTER, datum))

        def done(err: KafkaError | None) -> None:
            metrics.dead_letters.labels("failed" if err else "written").inc()
            if err is not None:
                log.warning("dead letter not written (%s): %s", err, reason)

        if not state["publisher"].send(message, done):
            metrics.dead_letters.labels("failed").inc()
            log.warning("dead letter not queued: %s", reason)

    # --- the event path ------------------------------------------------------------------------

    horizon_action = cfg.horizon_action or ("refuse" if cfg.write_keys else "flag")
    if horizon_action not in ("refuse", "flag", "off"):
        raise ValueError(f"ingest horizon_action must be refuse, flag or off: {horizon_action!r}")

    def outside_horizon(prepared: Prepared, received: int) -> FieldError | None:
        occurred = prepared.datum["envelope"]["occurred_at"]
        if horizon_action == "off":
            return None
        if occurred > received + cfg.future_horizon_s * 1000:
            return FieldError(
                "$.envelope.occurred_at", f"is more than {cfg.future_horizon_s}s in the future"
            )
        if occurred < received - cfg.past_horizon_s * 1000:
            return FieldError(
                "$.envelope.occurred_at",
                f"is more than {cfg.past_horizon_s}s in the past (use `touchline import`)",
            )
        return None

    def check(prepared: Prepared, account: str | None, received: int) -> list[FieldError]:
        env = prepared.datum["envelope"]
        errors = []
        if account is not None and env["account_id"] != account:
            errors.append(
                FieldError("$.envelope.account_id", "does not match the write key's account")
            )
        late = outside_horizon(prepared, received)
        if late is not None and horizon_action == "refuse":
            errors.append(late)
        return errors

    def entry(index: int, errors: list[FieldError]) -> dict[str, Any]:
        return {"index": index, "errors": [{"field": e.path, "reason": e.reason} for e in errors]}

    async def ingest(
        events: list[Any], original: Callable[[int], bytes], account: str | None
    ) -> JSONResponse:
        """``original(i)``: the bytes of input ``i`` for the dead letter (built only if needed)."""
        received = now_ms()
        accepted: list[Prepared] = []
        rejected: list[dict[str, Any]] = []
        flagged: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            if account is not None and isinstance(event, dict):
                envelope = event.get("envelope")
                if isinstance(envelope, dict) and "account_id" not in envelope:
                    event = {**event, "envelope": {**envelope, "account_id": account}}
            result = prepare(contracts, event, received)
            errors = result if isinstance(result, list) else check(result, account, received)
            if isinstance(result, Prepared) and not errors:
                accepted.append(result)
                if horizon_action == "flag" and (late := outside_horizon(result, received)):
                    flagged.append(entry(index, [late]))
                continue
            reason = "invalid" if isinstance(result, list) else "refused"
            metrics.events.labels("rejected", reason).inc()
            rejected.append(entry(index, errors))
            dead_letter("; ".join(str(e) for e in errors), original(index))
        if accepted:
            await produce(accepted)
        status = 202 if not rejected else (207 if accepted else 400)
        metrics.events.labels("accepted", "ok").inc(len(accepted) - len(flagged))
        metrics.events.labels("accepted", "outside_horizon").inc(len(flagged))
        return JSONResponse(
            {
                "accepted": len(accepted),
                "event_ids": [p.datum["envelope"]["event_id"] for p in accepted],
                "rejected": rejected,
                "flagged": flagged,
            },
            status_code=status,
        )

    async def produce(accepted: list[Prepared]) -> None:
        messages = [
            Message(
                topics.raw(settings, p.family.topic), p.key, codec.encode(p.family.name, p.datum)
            )
            for p in accepted
        ]
        started = time.perf_counter()
        try:
            results = await state["publisher"].publish(messages)
        except QueueFull as exc:
            metrics.events.labels("unavailable", "queue_full").inc(len(accepted))
            raise Refusal(503, "queue_full", "ingest queue is full", retry_after=1) from exc
        metrics.produce_seconds.observe(time.perf_counter() - started)
        failed = sum(1 for err in results if err is not None)
        if failed:
            metrics.events.labels("unavailable", "kafka_unavailable").inc(len(accepted))
            raise Refusal(
                503,
                "kafka_unavailable",
                f"Kafka did not acknowledge {failed} of {len(accepted)} events",
                retry_after=5,
            )

    async def handle(
        request: Request, endpoint: str, body: Callable[[Any, bytes, str | None], Any]
    ) -> Response:
        try:
            _principal, account = principal_of(request)
            payload, raw = await read_json(request)
            kafka_ready()
            response = await body(payload, raw, account)
            assert isinstance(response, Response)
        except Refusal as refusal:
            if refusal.reason not in ("kafka_unavailable", "queue_full"):
                metrics.events.labels("rejected", refusal.reason).inc()
            response = refusal.response()
        metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response

    # --- routes ---------------------------------------------------------------------------------

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
        import asyncio

        ok = await asyncio.to_thread(state["publisher"].reachable, 2.0)
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

    event_schema = {
        "type": "object",
        "description": "A contract event: see schemas/events/*.avsc.",
        "additionalProperties": True,
    }

    @app.post(
        "/v1/events",
        status_code=202,
        responses=_POST_RESPONSES,
        openapi_extra=_body_spec(
            {
                "oneOf": [
                    event_schema,
                    {"type": "array", "items": event_schema, "maxItems": cfg.max_batch_events},
                ]
            }
        ),
    )
    async def post_events(request: Request) -> Response:
        """One contract event (a JSON object) or a batch (an array of them)."""

        async def body(payload: Any, raw: bytes, account: str | None) -> Response:
            batch = isinstance(payload, list)
            events = payload if batch else [payload]
            if len(events) > cfg.max_batch_events:
                raise Refusal(
                    413, "too_many_events", f"at most {cfg.max_batch_events} events per request"
                )
            if not events:
                raise Refusal(400, "empty_batch", "the batch is empty")
            charge(_principal_key(request), len(events))
            return await ingest(
                events, (lambda i: orjson.dumps(events[i])) if batch else (lambda _i: raw), account
            )

        return await handle(request, "events", body)

    def _principal_key(request: Request) -> str:
        return principal_of(request)[0]

    def add_source_route(name: str, adapter: Adapter) -> None:
        async def post_source(request: Request) -> Response:
            async def body(payload: Any, raw: bytes, account: str | None) -> Response:
                try:
                    events = adapter.convert(payload, account)
                except AdapterError as exc:
                    dead_letter(f"{name}: {exc}", raw)
                    return JSONResponse(
                        {
                            "accepted": 0,
                            "event_ids": [],
                            "rejected": [entry(0, [FieldError(exc.field, exc.reason)])],
                            "flagged": [],
                        },
                        status_code=400,
                    )
                if len(events) > cfg.max_batch_events:
                    raise Refusal(
                        413, "too_many_events", f"at most {cfg.max_batch_events} events per request"
                    )
                charge(_principal_key(request), max(1, len(events)))
                return await ingest(events, lambda _i: raw, account)

            return await handle(request, name, body)

        app.add_api_route(
            f"/v1/sources/{name}",
            post_source,
            methods=["POST"],
            status_code=202,
            name=f"post_{name.replace('-', '_')}",
            summary=f"Native payload of the {adapter.title}",
            description=adapter.doc,
            responses=_POST_RESPONSES,
            openapi_extra=_body_spec({"type": "object", "additionalProperties": True}),
        )

    for source_name, source_adapter in ADAPTERS.items():
        add_source_route(source_name, source_adapter)
    return app
