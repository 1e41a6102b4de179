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
"""

from __future__ import annotations

import gc
import logging
import math
import re
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
from producers.events import Prepared, occurred_range, prepare, too_large
from producers.metrics import IngestMetrics
from producers.publisher import Message, Publisher, QueueFull
from touchline import deadletter, jsonschema, topics
from touchline.codec import Codec
from touchline.contracts import Contracts
from touchline.settings import Settings
from touchline.validation import FieldError

log = logging.getLogger("touchline.ingest")

OPEN_PRINCIPAL = "open"
ANY_ACCOUNT = "*"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")
# Produce errors that a retry cannot cure: the event is refused (4xx), not reported as an outage.
PERMANENT_PRODUCE_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
    }
)


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
    min_occurred_at: str = _default("min_occurred_at")
    max_event_bytes: int = _default("max_event_bytes")
    kafka_timeout_ms: int = _default("kafka_timeout_ms")
    max_in_flight: int = _default("max_in_flight")


def ingest_config(settings: Settings) -> IngestConfig:
    """The ingest limits from the ``ingest_*`` settings (env ``TOUCHLINE_INGEST_<NAME>``)."""
    return IngestConfig(
        **{name: getattr(settings, f"ingest_{name}") for name in IngestConfig.__dataclass_fields__}
    )


@dataclass(frozen=True)
class Ready:
    """A valid event and its Avro bytes, ready to publish."""

    prepared: Prepared
    value: bytes


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

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        retry_after: int | None = None,
        field: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after
        self.field = field

    def response(self) -> JSONResponse:
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else None
        body = {"error": self.message, "reason": self.reason}
        if self.field is not None:
            body["field"] = self.field
        return JSONResponse(body, status_code=self.status, headers=headers)


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "reason": {"type": "string"},
        "field": {"type": "string"},
    },
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
        if code in (400, 413):
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
    413: "Body larger than the byte limit, more events than the batch limit, or every event "
    "refused by Kafka as too large.",
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

    def too_large_body(original: bytes, declared: str | None = None) -> Refusal:
        size = f"of {declared} bytes " if declared else ""
        dead_letter(f"$: body {size}exceeds {cfg.max_body_bytes} bytes", original)
        return Refusal(413, "body_too_large", f"body exceeds {cfg.max_body_bytes} bytes", field="$")

    async def read_json(request: Request) -> tuple[Any, bytes]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refusal(415, "unsupported_media_type", "Content-Type must be application/json")
        declared = request.headers.get("content-length")
        if declared and _CONTENT_LENGTH.fullmatch(declared) and int(declared) > cfg.max_body_bytes:
            raise too_large_body(b"", declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            chunks.append(chunk)
            if size > cfg.max_body_bytes:
                raise too_large_body(b"".join(chunks))
        raw = b"".join(chunks)
        try:
            return orjson.loads(raw), raw
        except orjson.JSONDecodeError as exc:
            dead_letter(f"$: body is not valid JSON: {exc}", raw)
            raise Refusal(400, "bad_json", f"body is not valid JSON: {exc}", field="$") from exc

    def charge(principal: str, cost: int) -> None:
        wait = buckets.take(principal, cost)
        if wait:
            retry = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            raise Refusal(429, "rate_limited", "rate limit exceeded", retry_after=retry)

    def kafka_ready() -> None:
        publisher = state["publisher"]
        if publisher.brokers_down:
            raise Refusal(503, "kafka_unavailable", "Kafka is unavailable", retry_after=5)

    def refuse_batch(raw: bytes, events: list[Any], source: str = "") -> None:
        """The whole request is refused for its number of events: dead letter, then 400/413."""
        if not events:
            dead_letter(f"{source}$: the batch is empty (no event)", raw)
            raise Refusal(400, "empty_batch", "the batch is empty", field="$")
        if len(events) > cfg.max_batch_events:
            reason = f"at most {cfg.max_batch_events} events per request"
            dead_letter(f"{source}$: {len(events)} events: {reason}", raw)
            raise Refusal(413, "too_many_events", reason, field="$")

    # --- dead letters --------------------------------------------------------------------------

    def dead_letter(reason: str, original: bytes) -> None:
        value = deadletter.encode(codec, "ingest", reason, original)
        message = Message(dead_letter_topic, None, value)

        def done(err: KafkaError | None) -> None:
            metrics.dead_letters.labels("failed" if err else "written").inc()
            if err is not None:
                log.warning("dead letter not written (%s): %s", err, reason[:300])

        if not state["publisher"].send(message, done):
            metrics.dead_letters.labels("failed").inc()
            log.warning("dead letter not queued: %s", reason[:300])

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

    def encode(prepared: Prepared) -> tuple[bytes, list[FieldError]]:
        """The event's Avro bytes (computed once, published as is) or why it cannot be sent."""
        try:
            codec.header(prepared.family.name)  # the registry's schema id (cached after once)
        except Exception as exc:
            log.warning("schema registry unavailable: %s", exc)
            raise Refusal(
                503, "registry_unavailable", "the schema registry is unavailable", retry_after=5
            ) from exc
        try:
            value = codec.encode(prepared.family.name, prepared.datum)
        except (ValueError, TypeError, OverflowError) as exc:  # a datum Avro cannot write
            return b"", [FieldError("$", f"cannot be encoded as Avro: {exc}"[:500])]
        big = too_large(prepared.datum, len(value), cfg.max_event_bytes)
        return value, ([big] if big is not None else [])

    def validate(
        event: Any, account: str | None, received: int, valid: tuple[int, int]
    ) -> Ready | list[FieldError]:
        if account is not None and isinstance(event, dict):
            envelope = event.get("envelope")
            if isinstance(envelope, dict) and "account_id" not in envelope:
                event = {**event, "envelope": {**envelope, "account_id": account}}
        result = prepare(contracts, event, received, valid)
        if not isinstance(result, Prepared):
            return result
        errors = check(result, account, received)
        if errors:
            return errors
        value, errors = encode(result)
        return errors or Ready(result, value)

    async def ingest(
        events: list[Any], original: Callable[[int], tuple[bytes, str]], account: str | None
    ) -> JSONResponse:
        """``original(i)``: the bytes of input ``i`` for its dead letter and a note for the
        reason (built only if needed)."""
        received = deadletter.now_ms()
        valid = occurred_range(cfg.min_occurred_at, cfg.future_horizon_s, received)
        ready: dict[int, Ready] = {}
        rejected: list[dict[str, Any]] = []

        def refuse(index: int, errors: list[FieldError], reason: str) -> None:
            metrics.events.labels("rejected", reason).inc()
            rejected.append(entry(index, errors))
            data, note = original(index)
            dead_letter("; ".join(str(e) for e in errors) + note, data)

        for index, event in enumerate(events):
            result = validate(event, account, received, valid)
            if isinstance(result, Ready):
                ready[index] = result
            else:
                refuse(index, result, "invalid")
        refused_by_kafka = await produce(ready)
        for index, err in refused_by_kafka:
            del ready[index]
            refuse(index, [FieldError("$", f"refused by Kafka: {err.name()}")], "kafka_refused")
        rejected.sort(key=lambda r: int(r["index"]))
        flagged = [
            entry(index, [late])
            for index, r in ready.items()
            if horizon_action == "flag" and (late := outside_horizon(r.prepared, received))
        ]
        status = 202 if not rejected else (207 if ready else (413 if refused_by_kafka else 400))
        metrics.events.labels("accepted", "ok").inc(len(ready) - len(flagged))
        metrics.events.labels("accepted", "outside_horizon").inc(len(flagged))
        return JSONResponse(
            {
                "accepted": len(ready),
                "event_ids": [r.prepared.datum["envelope"]["event_id"] for r in ready.values()],
                "rejected": rejected,
                "flagged": flagged,
            },
            status_code=status,
        )

    async def produce(ready: dict[int, Ready]) -> list[tuple[int, KafkaError]]:
        """Publish; returns the events Kafka refused for good. Raises 503 on anything a retry
        may cure (outage, timeout, full queue): then no event of the request counts as accepted."""
        if not ready:
            return []
        messages = [
            Message(topics.raw(settings, r.prepared.family.topic), r.prepared.key, r.value)
            for r in ready.values()
        ]
        started = time.perf_counter()
        try:
            results = await state["publisher"].publish(messages)
        except QueueFull as exc:
            metrics.events.labels("unavailable", "queue_full").inc(len(ready))
            raise Refusal(503, "queue_full", "ingest queue is full", retry_after=1) from exc
        metrics.produce_seconds.observe(time.perf_counter() - started)
        failed = [(i, err) for i, err in zip(ready, results, strict=True) if err is not None]
        transient = sum(1 for _, err in failed if err.code() not in PERMANENT_PRODUCE_ERRORS)
        if transient:
            metrics.events.labels("unavailable", "kafka_unavailable").inc(len(ready))
            raise Refusal(
                503,
                "kafka_unavailable",
                f"Kafka did not acknowledge {transient} of {len(ready)} events",
                retry_after=5,
            )
        for _, err in failed:
            log.warning("Kafka refused an event for good: %s", err)
        return failed

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
            if refusal.reason not in ("kafka_unavailable", "queue_full", "registry_unavailable"):
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

    events_schema = jsonschema.request_body(contracts, cfg.max_batch_events)

    @app.post(
        "/v1/events",
        status_code=202,
        responses=_POST_RESPONSES,
        openapi_extra=_body_spec(events_schema),
    )
    async def post_events(request: Request) -> Response:
        """One contract event (a JSON object) or a batch (an array of them)."""

        async def body(payload: Any, raw: bytes, account: str | None) -> Response:
            batch = isinstance(payload, list)
            events = payload if batch else [payload]
            refuse_batch(raw, events)
            charge(_principal_key(request), len(events))

            def element(i: int) -> tuple[bytes, str]:
                if not batch:
                    return raw, ""
                try:
                    return orjson.dumps(events[i]), ""
                except orjson.JSONEncodeError:  # nested too deep to write again: the whole body
                    return raw, f" [event {i} of the batch; original: the whole request body]"

            return await ingest(events, element, account)

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
                refuse_batch(raw, events, f"{name}: ")
                charge(_principal_key(request), len(events))
                return await ingest(events, lambda _i: (raw, f" [{name} payload]"), account)

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
