"""The ingest API: ``POST /v1/events`` validates against the contracts and publishes to Kafka.

A 2xx is answered only for events Kafka has acknowledged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from producers.events import Prepared, prepare
from producers.publisher import Message, Publisher, QueueFull
from touchline import topics
from touchline.codec import Codec
from touchline.contracts import Contracts
from touchline.settings import Settings


def create_app(settings: Settings, contracts: Contracts, codec: Codec, bootstrap: str) -> FastAPI:
    state: dict[str, Publisher] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state["publisher"] = Publisher(bootstrap)
        yield
        state["publisher"].close()

    app = FastAPI(title="Touchline ingest", version="1", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/events")
    async def post_events(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            return JSONResponse({"error": f"body is not valid JSON: {exc}"}, status_code=400)
        events = body if isinstance(body, list) else [body]
        accepted: list[tuple[int, Prepared]] = []
        rejected: list[dict[str, Any]] = []
        for index, event in enumerate(events):
            result = prepare(contracts, event)
            if isinstance(result, Prepared):
                accepted.append((index, result))
            else:
                rejected.append(
                    {
                        "index": index,
                        "errors": [{"field": e.path, "reason": e.reason} for e in result],
                    }
                )
        messages = [
            Message(
                topics.raw(settings, p.family.topic), p.key, codec.encode(p.family.name, p.datum)
            )
            for _, p in accepted
        ]
        try:
            results = await state["publisher"].publish(messages)
        except QueueFull:
            return JSONResponse(
                {"error": "ingest queue is full"}, status_code=503, headers={"Retry-After": "1"}
            )
        failed = [i for (i, _), err in zip(accepted, results, strict=True) if err is not None]
        if failed:
            return JSONResponse(
                {"error": "Kafka did not acknowledge every event", "failed": failed},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        status = 202 if not rejected else (207 if accepted else 400)
        return JSONResponse(
            {
                "accepted": len(accepted),
                "event_ids": [p.datum["envelope"]["event_id"] for _, p in accepted],
                "rejected": rejected,
            },
            status_code=status,
        )

    return app
