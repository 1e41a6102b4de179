"""The ingest API's event path: a request that passed the :mod:`producers.door` has its events
validated against the contracts, checked against the write key's account and the time horizon,
encoded to Avro, published to Kafka and answered 202/207/400/413 (or refused whole with 503).
Rejected inputs go to the dead-letter topic. The rules are in :mod:`producers.api`."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from confluent_kafka import KafkaError
from fastapi import Request
from fastapi.responses import JSONResponse, Response

from producers.adapters import Adapter, AdapterError
from producers.door import Door, Principal, Refusal, TokenBuckets
from producers.events import Prepared, occurred_range, prepare, too_large
from producers.metrics import IngestMetrics
from producers.publisher import Message, QueueFull
from touchline import clock, deadletter, topics
from touchline.codec import Codec
from touchline.confirmed import ALONE_TRIES, refused_for_size
from touchline.contracts import Contracts
from touchline.settings import Settings
from touchline.validation import FieldError

if TYPE_CHECKING:
    from producers.api import IngestConfig

log = logging.getLogger("touchline.ingest")

# Produce errors that a retry cannot cure: the event is refused (4xx), not reported as an outage.
PERMANENT_PRODUCE_ERRORS = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.INVALID_MSG_SIZE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
    }
)
# Refusals that are outages, not rejections: not counted as rejected events.
_OUTAGES = ("kafka_unavailable", "queue_full", "registry_unavailable")


class EventPublisher(Protocol):
    """What the API needs from :class:`producers.publisher.Publisher` (faked in unit tests)."""

    @property
    def brokers_down(self) -> bool: ...

    def reachable(self, timeout: float = 2.0) -> bool: ...

    def queue_depth(self) -> int: ...

    async def publish(self, messages: Sequence[Message]) -> list[KafkaError | None]: ...

    def send(self, message: Message, callback: Callable[[KafkaError | None], None]) -> bool: ...

    def close(self, timeout: float = 30.0) -> int: ...


@dataclass(frozen=True)
class Ready:
    """A valid event and its Avro bytes, ready to publish."""

    prepared: Prepared
    value: bytes


# What a route does with a request that passed the door: (payload, body bytes, principal).
Body = Callable[[Any, bytes, Principal], Awaitable[Response]]
# ``original(i)``: the bytes of input ``i`` for its dead letter and a note for the reason.
Original = Callable[[int], tuple[bytes, str]]


def entry(index: int, errors: list[FieldError]) -> dict[str, Any]:
    """A ``rejected`` (or ``flagged``) element of the answer."""
    return {"index": index, "errors": [{"field": e.path, "reason": e.reason} for e in errors]}


class Ingest:
    """The event path of one app. The publisher is set when the app starts (its lifespan)."""

    def __init__(
        self, settings: Settings, contracts: Contracts, codec: Codec, cfg: IngestConfig
    ) -> None:
        self.settings = settings
        self.contracts = contracts
        self.codec = codec
        self.cfg = cfg
        self._publisher: EventPublisher | None = None
        self.metrics = IngestMetrics(self._queue_depth)
        self.dead_letter_topic = topics.dead_letter(settings)
        self.door = Door(
            write_keys=cfg.write_keys,
            max_body_bytes=cfg.max_body_bytes,
            max_batch_events=cfg.max_batch_events,
            buckets=TokenBuckets(cfg.rate_events_per_second, cfg.rate_burst),
            dead_letter=self.dead_letter,
            trust_forwarded_for=cfg.trust_forwarded_for,
        )
        action = cfg.horizon_action or ("refuse" if cfg.write_keys else "flag")
        if action not in ("refuse", "flag", "off"):
            raise ValueError(f"ingest horizon_action must be refuse, flag or off: {action!r}")
        self.horizon_action = action

    # --- the publisher ---------------------------------------------------------------------------

    @property
    def publisher(self) -> EventPublisher:
        if self._publisher is None:
            raise RuntimeError("the ingest API has not started: no publisher")
        return self._publisher

    @publisher.setter
    def publisher(self, publisher: EventPublisher) -> None:
        self._publisher = publisher

    def _queue_depth(self) -> float:
        return float(self._publisher.queue_depth()) if self._publisher is not None else 0.0

    def on_delivery_error(self, err: KafkaError) -> None:
        self.metrics.delivery_errors.labels(err.name()).inc()

    def kafka_ready(self, payload: Any = None) -> None:
        """503 before any work when the producer knows every broker is down; the payload's
        events count as unavailable (the outage is visible in the metrics, not only in 503s)."""
        if self.publisher.brokers_down:
            events = len(payload) if isinstance(payload, list) else 1
            self.metrics.events.labels("unavailable", "kafka_unavailable").inc(events)
            raise Refusal(503, "kafka_unavailable", "Kafka is unavailable", retry_after=5)

    def dead_letter(self, reason: str, original: bytes) -> None:
        value = deadletter.encode(self.codec, "ingest", reason, original)
        message = Message(self.dead_letter_topic, None, value)
        metrics = self.metrics

        def done(err: KafkaError | None) -> None:
            metrics.dead_letters.labels("failed" if err else "written").inc()
            if err is not None:
                log.warning("dead letter not written (%s): %s", err, reason[:300])

        if not self.publisher.send(message, done):
            metrics.dead_letters.labels("failed").inc()
            log.warning("dead letter not queued: %s", reason[:300])

    # --- requests --------------------------------------------------------------------------------

    async def handle(self, request: Request, endpoint: str, body: Body) -> Response:
        """Pass the door, then ``body``; count the request by its status code."""
        try:
            principal = self.door.principal(request)
            payload, raw = await self.door.read_json(request)
            self.kafka_ready(payload)
            response = await body(payload, raw, principal)
        except Refusal as refusal:
            if refusal.reason not in _OUTAGES:
                self.metrics.events.labels("rejected", refusal.reason).inc()
            elif refusal.reason == "registry_unavailable":  # the others are counted where raised
                events = len(payload) if isinstance(payload, list) else 1
                self.metrics.events.labels("unavailable", refusal.reason).inc(events)
            response = refusal.response()
        self.metrics.requests.labels(endpoint, str(response.status_code)).inc()
        return response

    async def events(self, payload: Any, raw: bytes, principal: Principal) -> Response:
        """``POST /v1/events``: one contract event (a JSON object) or a batch (an array)."""
        batch = isinstance(payload, list)
        events = payload if batch else [payload]
        self.door.count(raw, events)
        self.door.charge(principal, len(events))

        def element(i: int) -> tuple[bytes, str]:
            if not batch:
                return raw, ""
            try:
                return orjson.dumps(events[i]), ""
            except orjson.JSONEncodeError:  # nested too deep to write again: the whole body
                return raw, f" [event {i} of the batch; original: the whole request body]"

        return await self.ingest(events, element, principal.account)

    async def source(
        self, name: str, adapter: Adapter, payload: Any, raw: bytes, principal: Principal
    ) -> Response:
        """``POST /v1/sources/<name>``: a native payload the adapter maps to events."""
        try:
            events = adapter.convert(payload, principal.account)
        except AdapterError as exc:
            self.dead_letter(f"{name}: {exc}", raw)
            return JSONResponse(
                {
                    "accepted": 0,
                    "event_ids": [],
                    "rejected": [entry(0, [FieldError(exc.field, exc.reason)])],
                    "flagged": [],
                },
                status_code=400,
            )
        self.door.count(raw, events, f"{name}: ")
        self.door.charge(principal, len(events))
        return await self.ingest(events, lambda _i: (raw, f" [{name} payload]"), principal.account)

    # --- events ----------------------------------------------------------------------------------

    def outside_horizon(self, prepared: Prepared, received: int) -> FieldError | None:
        occurred = prepared.datum["envelope"]["occurred_at"]
        cfg = self.cfg
        if self.horizon_action == "off":
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

    def check(self, prepared: Prepared, account: str | None, received: int) -> list[FieldError]:
        env = prepared.datum["envelope"]
        errors = []
        if account is not None and env["account_id"] != account:
            errors.append(
                FieldError("$.envelope.account_id", "does not match the write key's account")
            )
        late = self.outside_horizon(prepared, received)
        if late is not None and self.horizon_action == "refuse":
            errors.append(late)
        return errors

    def encode(self, prepared: Prepared) -> tuple[bytes, list[FieldError]]:
        """The event's Avro bytes (computed once, published as is) or why it cannot be sent."""
        try:
            self.codec.header(prepared.family.name)  # the registry's schema id (cached after once)
        except Exception as exc:
            log.warning("schema registry unavailable: %s", exc)
            raise Refusal(
                503, "registry_unavailable", "the schema registry is unavailable", retry_after=5
            ) from exc
        try:
            value = self.codec.encode(prepared.family.name, prepared.datum)
        except (ValueError, TypeError, OverflowError) as exc:  # a datum Avro cannot write
            return b"", [FieldError("$", f"cannot be encoded as Avro: {exc}"[:500])]
        big = too_large(prepared.datum, len(value), self.cfg.max_event_bytes)
        return value, ([big] if big is not None else [])

    def validate(
        self, event: Any, account: str | None, received: int, valid: tuple[int, int]
    ) -> Ready | list[FieldError]:
        if account is not None and isinstance(event, dict):
            envelope = event.get("envelope")
            if isinstance(envelope, dict) and "account_id" not in envelope:
                event = {**event, "envelope": {**envelope, "account_id": account}}
        result = prepare(
            self.contracts, event, received, valid, phone_region=self.settings.phone_region
        )
        if not isinstance(result, Prepared):
            return result
        errors = self.check(result, account, received)
        if errors:
            return errors
        value, errors = self.encode(result)
        return errors or Ready(result, value)

    def _refuse(
        self,
        rejected: list[dict[str, Any]],
        index: int,
        errors: list[FieldError],
        reason: str,
        original: Original,
    ) -> None:
        self.metrics.events.labels("rejected", reason).inc()
        rejected.append(entry(index, errors))
        data, note = original(index)
        self.dead_letter("; ".join(str(e) for e in errors) + note, data)

    async def ingest(
        self, events: list[Any], original: Original, account: str | None
    ) -> JSONResponse:
        """Validate, publish and answer. ``original(i)``: the bytes of input ``i`` for its dead
        letter and a note for the reason (built only if needed)."""
        received = clock.now_ms()
        valid = occurred_range(self.cfg.min_occurred_at, self.cfg.future_horizon_s, received)
        ready: dict[int, Ready] = {}
        rejected: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            result = self.validate(event, account, received, valid)
            if isinstance(result, Ready):
                ready[index] = result
            else:
                self._refuse(rejected, index, result, "invalid", original)
        refused_by_kafka = await self.produce(ready)
        for index, err in refused_by_kafka:
            del ready[index]
            errors = [FieldError("$", f"refused by Kafka: {err.name()}")]
            self._refuse(rejected, index, errors, "kafka_refused", original)
        rejected.sort(key=lambda r: int(r["index"]))
        flagged = [
            entry(index, [late])
            for index, r in ready.items()
            if self.horizon_action == "flag"
            and (late := self.outside_horizon(r.prepared, received))
        ]
        status = 202 if not rejected else (207 if ready else (413 if refused_by_kafka else 400))
        self.metrics.events.labels("accepted", "ok").inc(len(ready) - len(flagged))
        self.metrics.events.labels("accepted", "outside_horizon").inc(len(flagged))
        return JSONResponse(
            {
                "accepted": len(ready),
                "event_ids": [r.prepared.datum["envelope"]["event_id"] for r in ready.values()],
                "rejected": rejected,
                "flagged": flagged,
            },
            status_code=status,
        )

    async def alone(
        self, messages: list[Message], results: list[KafkaError | None]
    ) -> list[KafkaError | None]:
        """Each event refused for its size is produced again on its own (touchline/confirmed.py
        BATCH_SIZE_ERRORS): Kafka refuses a whole batch over the topic's limit, so an oversize
        event must not take the events that shared its batch with it."""
        out = list(results)
        for i, message in enumerate(messages):
            for _ in range(ALONE_TRIES if len(messages) > 1 else ALONE_TRIES - 1):
                if not refused_for_size(out[i]):
                    break
                out[i] = (await self.publisher.publish([message]))[0]
        return out

    async def produce(self, ready: dict[int, Ready]) -> list[tuple[int, KafkaError]]:
        """Publish; returns the events Kafka refused for good. Raises 503 on anything a retry
        may cure (outage, timeout, full queue): then no event of the request counts as accepted."""
        if not ready:
            return []
        messages = [
            Message(topics.raw(self.settings, r.prepared.family.topic), r.prepared.key, r.value)
            for r in ready.values()
        ]
        started = time.perf_counter()
        try:
            results = await self.publisher.publish(messages)
            results = await self.alone(messages, results)
        except QueueFull as exc:
            self.metrics.events.labels("unavailable", "queue_full").inc(len(ready))
            raise Refusal(503, "queue_full", "ingest queue is full", retry_after=1) from exc
        self.metrics.produce_seconds.observe(time.perf_counter() - started)
        failed = [(i, err) for i, err in zip(ready, results, strict=True) if err is not None]
        transient = sum(1 for _, err in failed if err.code() not in PERMANENT_PRODUCE_ERRORS)
        if transient:
            self.metrics.events.labels("unavailable", "kafka_unavailable").inc(len(ready))
            raise Refusal(
                503,
                "kafka_unavailable",
                f"Kafka did not acknowledge {transient} of {len(ready)} events",
                retry_after=5,
            )
        for _, err in failed:
            log.warning("Kafka refused an event for good: %s", err)
        return failed
