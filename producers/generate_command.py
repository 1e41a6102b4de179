"""``touchline generate``: seeded synthetic events and their ground truth, to files or Kafka."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson

from synthetic import Generated, GeneratorConfig, generate
from touchline.errors import TouchlineError
from touchline.settings import Settings


def jsonl(events: Iterable[dict[str, Any]]) -> bytes:
    """Events as JSON lines with sorted keys: the same events always give the same bytes."""
    dumps, option = orjson.dumps, orjson.OPT_SORT_KEYS
    return b"".join(dumps(event, option=option) + b"\n" for event in events)


def truth_json(generated: Generated, config: GeneratorConfig) -> bytes:
    document = {
        "config": {
            "clients": config.clients,
            "seed": config.seed,
            "malformed_share": config.malformed_share,
            "account_id": config.account_id,
            "start_ms": config.start_ms,
        },
        "events": len(generated.events),
        **generated.truth.to_json(),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def publish(settings: Settings, generated: Generated) -> tuple[int, int]:
    """Validate and publish every well-formed event to its family's raw topic; skips the
    malformed ones (they would be refused by the ingest API). Returns (published, skipped)."""
    from producers.events import Prepared, prepare
    from producers.publisher import Message, Publisher
    from touchline import clock, topics
    from touchline.codec import Codec

    endpoints, contracts = topics.ready(settings)
    codec = Codec(contracts, endpoints.schema_registry_url)
    received = clock.now_ms()
    messages: list[Message] = []
    skipped = 0
    for event in generated.events:
        prepared = prepare(
            contracts, event, received_at=received, phone_region=settings.phone_region
        )
        if not isinstance(prepared, Prepared):
            skipped += 1
            continue
        messages.append(
            Message(
                topics.raw(settings, prepared.family.topic),
                prepared.key,
                codec.encode(prepared.family.name, prepared.datum),
            )
        )
    publisher = Publisher(endpoints.kafka_bootstrap)
    try:
        publisher.publish_sync(messages, timeout=120)
    finally:
        publisher.close()
    return len(messages), skipped


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.out is None and not args.to_kafka:
        raise TouchlineError("say where the events go: --out FILE.jsonl and/or --to-kafka")
    config = GeneratorConfig(
        clients=args.clients,
        seed=args.seed,
        malformed_share=args.malformed_share,
        account_id=args.account,
        household_share=args.household_share,
    )
    try:
        generated = generate(config)
    except ValueError as exc:
        raise TouchlineError(str(exc)) from exc
    malformed = len(generated.truth.malformed)
    if args.out is not None:
        _write(args.out, jsonl(generated.events))
    if args.truth is not None:
        _write(args.truth, truth_json(generated, config))
    where = f" to {args.out}" if args.out is not None else ""
    print(
        f"generated {len(generated.events)} events ({malformed} malformed) for "
        f"{config.clients} clients{where}",
        file=sys.stderr,
    )
    if args.to_kafka:
        published, skipped = publish(settings, generated)
        print(
            f"published {published} events to Kafka ({skipped} malformed skipped)", file=sys.stderr
        )
    return 0


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise TouchlineError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("must be at least 0 and below 1")
    return value


def int_at_least(minimum: int, why: str = "") -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (``why`` says what the bound is for)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from exc
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}{why}")
        return value

    return parse


_count = int_at_least(0)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "generate",
        help="generate seeded synthetic events (multichannel journeys) and their ground truth",
        description="Play out the lives of N synthetic clients of a booking business: web "
        "sessions from every channel, calls and forms, the booking funnel with drop-off, "
        "appointments, classes, orders, CRM deals, feedback and A/B exposures, with identifiers "
        "to stitch. The same arguments always give the same bytes.",
    )
    parser.add_argument("--clients", type=_count, required=True, help="number of persons")
    parser.add_argument("--seed", type=int, required=True, help="random seed")
    parser.add_argument(
        "--malformed-share",
        type=_share,
        default=0.0,
        help="share of malformed events mixed in, 0 <= F < 1 (default 0)",
    )
    parser.add_argument(
        "--household-share",
        type=_share,
        default=0.0,
        help="share of people who give the landline of a household of four instead of a mobile, "
        "0 <= F < 1 (default 0): a phone that proves shared and splits the people it linked; "
        "most of them browse on the family tablet (a web client id that proves shared too)",
    )
    parser.add_argument("--account", default="demo-studio", help="account id of every event")
    parser.add_argument("--out", type=Path, default=None, help="write events here as JSON lines")
    parser.add_argument(
        "--truth", type=Path, default=None, help="write the planted ground truth here (JSON)"
    )
    parser.add_argument(
        "--to-kafka",
        action="store_true",
        help="also publish the well-formed events to their raw topics (Avro)",
    )
    parser.set_defaults(func=run)
