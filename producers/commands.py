"""``touchline ingest``."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Any

from touchline.settings import Settings


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from producers.api import create_app, ingest_config
    from touchline import topics
    from touchline.codec import Codec

    endpoints, contracts = topics.ready(settings)
    codec = Codec(contracts, endpoints.schema_registry_url)
    config = ingest_config(settings)
    app = create_app(settings, contracts, codec, endpoints.kafka_bootstrap, config=config)
    host = args.host or settings.ingest_host
    port = args.port or settings.ingest_port
    keys = (
        f"{len(config.write_keys)} write keys"
        if config.write_keys
        else "open local mode: no write key configured (TOUCHLINE_INGEST_WRITE_KEYS)"
    )
    print(f"ingest API on http://{host}:{port} ({keys}); metrics at /metrics", flush=True)
    announce_target(app, settings, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def announce_target(app: Any, settings: Settings, port: int) -> None:
    """A Prometheus target while the app runs: registered in its lifespan, because uvicorn ends
    the process by re-raising SIGTERM after its shutdown (code after run() never runs)."""
    import contextlib

    from touchline.services import targets

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as state:
            with targets.registered(settings, "touchline-ingest", port):
                yield state

    app.router.lifespan_context = lifespan


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "ingest",
        help="serve the HTTP ingest API (POST /v1/events, /v1/sources/<name>)",
        description="Validate events (contract JSON, or a source's native payload) against the "
        "Avro contracts and publish them to Kafka; answers 2xx only for events Kafka "
        "acknowledged. Limits, write keys and status codes: see GET /docs.",
    )
    parser.add_argument("--host", default=None, help="bind address (TOUCHLINE_INGEST_HOST)")
    parser.add_argument("--port", type=int, default=None, help="port (TOUCHLINE_INGEST_PORT)")
    parser.set_defaults(func=_ingest)
