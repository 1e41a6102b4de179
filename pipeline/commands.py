"""``touchline worker``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from touchline.settings import Settings

if TYPE_CHECKING:
    from pipeline.card import Rules


def worker_class(settings: Settings) -> type:
    """Faust's Worker with Touchline's logging: repeats throttled, and no terminal spinner.
    Faust's spinner sets the root logger to DEBUG whenever the level is WARN or above, so every
    library's debug message (aiokafka logs one per fetch request and partition) is made into a
    record and handled: 8 % of the worker's CPU samples at 100 ev/s (py-spy)."""
    import logging

    import faust

    from touchline import logthrottle

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            self.spinner = None
            super().on_setup_root_logger(logger, level)
            logthrottle.install(logger, settings.log_repeats_per_minute)

    return Worker


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import contextlib

    from pipeline import id_layout
    from pipeline.app import create_app
    from touchline import topics
    from touchline.services import targets

    Worker = worker_class(settings)
    endpoints, _ = topics.ready(settings)
    id_layout.check(endpoints.redis_url, settings.topic_prefix, settings.identity_id_shards)
    app = create_app(settings, endpoints)
    target: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr="127.0.0.1")
        target = targets.registered(settings, "touchline-worker", settings.worker_metrics_port)
    with target:
        Worker(app, loglevel=args.loglevel).execute_from_commandline()
    return 0


def card_rules(settings: Settings) -> Rules:
    """The card's touch rules from the settings the worker uses."""
    from pipeline.card import Rules
    from pipeline.processor import processor_config

    cfg = processor_config(settings)
    return Rules(cfg.session_timeout_ms, cfg.lookback_ms, cfg.min_channels)


def _card(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from pipeline.card import identifier_key, render
    from pipeline.store import ClientStore
    from touchline.endpoints import endpoints
    from touchline.errors import TouchlineError

    key = identifier_key(
        phone=args.phone, email=args.email, cid=args.cid, region=settings.phone_region
    )
    if key is None and not args.client:
        raise TouchlineError("give --phone, --email, --cid or --client (a usable value)")
    store = ClientStore.from_settings(endpoints(settings).redis_url, settings)

    async def fetch() -> str | None:
        try:
            client = args.client or await store.lookup(args.account, key or "")
            if client is None:
                return None
            return render(await store.card(args.account, client), card_rules(settings))
        finally:
            await store.close()

    text = asyncio.run(fetch())
    if text is None:
        raise TouchlineError(f"no client with {key} in account {args.account}")
    print(text)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    card = sub.add_parser(
        "card",
        help="show a client's live card from Redis (who is calling, what touched them before)",
        description="Look a client up by phone, email, web client id (or _ga cookie) or client "
        "id, and print the card the worker keeps: first touch, contacts, channels, revenue and "
        "every touch within the lookback. For full history use `touchline report client_card`.",
    )
    card.add_argument("--account", required=True, help="the business (account id)")
    card.add_argument("--phone", help="phone number, any format")
    card.add_argument("--email", help="email address")
    card.add_argument("--cid", help="web analytics client id or raw _ga cookie value")
    card.add_argument("--client", help="Touchline client id")
    card.set_defaults(func=_card)

    parser = sub.add_parser(
        "worker",
        help="run the stream processor (Faust); start several to share partitions",
        description="Consume every raw family topic, enrich, stitch identities and update client "
        "histories in Redis, and emit enriched events for the sink.",
    )
    parser.add_argument("--loglevel", default="warning", help="log level (default: warning)")
    parser.set_defaults(func=_worker)
