"""``touchline worker``."""

from __future__ import annotations

import argparse

from touchline.settings import Settings


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    from pipeline.app import create_app
    from touchline import topics

    endpoints, _ = topics.ready(settings)
    app = create_app(settings, endpoints)
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr="127.0.0.1")
    worker = faust.Worker(app, loglevel=args.loglevel)
    worker.execute_from_commandline()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "worker",
        help="run the stream processor (Faust); start several to share partitions",
        description="Consume every raw family topic, enrich, stitch identities and update client "
        "histories in Redis, and emit enriched events for the sink.",
    )
    parser.add_argument("--loglevel", default="warning", help="log level (default: warning)")
    parser.set_defaults(func=_worker)
