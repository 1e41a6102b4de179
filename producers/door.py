"""The ingest API's door: what a request must pass before any event is looked at. The write key
(who is posting, for which account), the content type and body size, the number of events and
the rate limit. A request that fails one is refused whole with a :class:`Refusal`."""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import JSONResponse

OPEN_PRINCIPAL = "open"
ANY_ACCOUNT = "*"
_CONTENT_LENGTH = re.compile(r"[0-9]{1,19}")


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


class TokenBuckets:
    """One token bucket per principal. Pure apart from the injected clock."""

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_principals: int = 10_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_principals = max_principals
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # principal -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, principal: str, cost: int) -> float:
        """Take ``cost`` tokens; returns 0 on success, else the seconds to wait before retrying."""
        with self._lock:
            now = self._clock()
            if principal not in self._buckets and len(self._buckets) >= self.max_principals:
                self._forget_full(now)
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

    def _forget_full(self, now: float) -> None:
        """Drop the buckets that have refilled (a full bucket is the same as none), so one
        bucket per source address cannot grow without bound; if none has, the oldest half."""
        full = [
            p
            for p, (tokens, at) in self._buckets.items()
            if tokens + (now - at) * self.rate >= self.burst
        ]
        if not full:
            by_age = sorted(self._buckets, key=lambda p: self._buckets[p][1])
            full = by_age[: len(by_age) // 2 + 1]
        for p in full:
            del self._buckets[p]


@dataclass(frozen=True)
class Principal:
    """Who posts: ``name`` keys the rate limit; ``account`` None means any account may be
    written."""

    name: str
    account: str | None


class Door:
    """The request gates. ``dead_letter(reason, original)`` records a body refused whole."""

    def __init__(
        self,
        *,
        write_keys: dict[str, str],
        max_body_bytes: int,
        max_batch_events: int,
        buckets: TokenBuckets,
        dead_letter: Callable[[str, bytes], None],
        trust_forwarded_for: bool = False,
    ) -> None:
        self.write_keys = write_keys
        self.max_body_bytes = max_body_bytes
        self.max_batch_events = max_batch_events
        self.buckets = buckets
        self.dead_letter = dead_letter
        self.trust_forwarded_for = trust_forwarded_for

    def principal(self, request: Request) -> Principal:
        """The request's write key, checked (open mode when no key is configured)."""
        if not self.write_keys:  # open mode: one bucket per source address
            return Principal(f"{OPEN_PRINCIPAL}:{self._source_address(request)}", None)
        key = request.headers.get("x-touchline-key")
        auth = request.headers.get("authorization", "")
        if key is None and auth[:7].lower() == "bearer ":
            key = auth[7:].strip()
        if not key or key not in self.write_keys:
            raise Refusal(401, "unauthorized", "a valid write key is required")
        account = self.write_keys[key]
        name = "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]  # one bucket per key
        return Principal(name, None if account == ANY_ACCOUNT else account)

    def _source_address(self, request: Request) -> str:
        """The sender's address; behind a trusted proxy, the first X-Forwarded-For hop."""
        forwarded = request.headers.get("x-forwarded-for", "") if self.trust_forwarded_for else ""
        first = forwarded.split(",", 1)[0].strip()
        return first or (request.client.host if request.client else "unknown")

    def _too_large_body(self, original: bytes, declared: str | None = None) -> Refusal:
        size = f"of {declared} bytes " if declared else ""
        self.dead_letter(f"$: body {size}exceeds {self.max_body_bytes} bytes", original)
        return Refusal(
            413, "body_too_large", f"body exceeds {self.max_body_bytes} bytes", field="$"
        )

    async def read_json(self, request: Request) -> tuple[Any, bytes]:
        """The parsed body and its bytes: JSON only, at most ``max_body_bytes``."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise Refusal(415, "unsupported_media_type", "Content-Type must be application/json")
        declared = request.headers.get("content-length")
        limit = self.max_body_bytes
        if declared and _CONTENT_LENGTH.fullmatch(declared) and int(declared) > limit:
            raise self._too_large_body(b"", declared)
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            chunks.append(chunk)
            if size > limit:
                raise self._too_large_body(b"".join(chunks))
        raw = b"".join(chunks)
        try:
            return orjson.loads(raw), raw
        except orjson.JSONDecodeError as exc:
            self.dead_letter(f"$: body is not valid JSON: {exc}", raw)
            raise Refusal(400, "bad_json", f"body is not valid JSON: {exc}", field="$") from exc

    def count(self, raw: bytes, events: list[Any], source: str = "") -> None:
        """The whole request is refused for its number of events: dead letter, then 400/413."""
        if not events:
            self.dead_letter(f"{source}$: the batch is empty (no event)", raw)
            raise Refusal(400, "empty_batch", "the batch is empty", field="$")
        if len(events) > self.max_batch_events:
            reason = f"at most {self.max_batch_events} events per request"
            self.dead_letter(f"{source}$: {len(events)} events: {reason}", raw)
            raise Refusal(413, "too_many_events", reason, field="$")

    def charge(self, principal: Principal, cost: int) -> None:
        """Take ``cost`` tokens from the principal's bucket, else 429 with Retry-After."""
        wait = self.buckets.take(principal.name, cost)
        if wait:
            retry = 60 if math.isinf(wait) else max(1, math.ceil(wait))
            raise Refusal(429, "rate_limited", "rate limit exceeded", retry_after=retry)
