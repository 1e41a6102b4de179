"""``touchline``: one command for the local stack, the pipeline processes and the reports.

Each package adds its own subcommands (``register(subparsers)`` in its ``commands`` module).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from touchline.endpoints import monitoring_urls
from touchline.errors import TouchlineError, settings_error
from touchline.privacy import ClickHouseSide, RedisSide
from touchline.settings import REPO_ROOT, Settings, get_settings


def _services(args: argparse.Namespace, settings: Settings) -> int:
    from touchline.services import stack

    if args.action == "up":
        ep = stack.up(settings, monitoring=settings.local_monitoring)
        print(f"kafka      {ep.kafka_bootstrap}")
        print(f"redis      {ep.redis_url}")
        print(f"clickhouse {ep.clickhouse_dsn}")
        print(f"registry   {ep.schema_registry_url or '(none: Avro single-object encoding)'}")
        for name, url in monitoring_urls(settings).items():
            print(f"{name:<13}{url}")
    elif args.action == "down":
        stopped = stack.down(settings)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    else:
        for name, state in stack.status(settings).items():
            print(f"{name:<13}{state}")
    return 0


def _config(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print("| env var | default | meaning |\n|---|---|---|")
    for name, field in Settings.model_fields.items():
        env = f"TOUCHLINE_{name.upper()}"
        if args.markdown:
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            shown = str(default).replace(str(Path.home()), "~").replace(str(REPO_ROOT), ".")
            print(f"| `{env}` | `{shown}` | {field.description} |")
        else:
            print(f"{env:<38} {getattr(settings, name)!s:<40} {field.description}")
    return 0


def _privacy_sides(settings: Settings) -> tuple[RedisSide, ClickHouseSide]:
    """The two stores' sides of an erase (touchline.privacy): the composition root wires them."""
    from pipeline.erasure import RedisEraser
    from sinks.erasure_remote import clickhouse_side
    from touchline.endpoints import endpoints

    return RedisEraser.from_settings(endpoints(settings).redis_url, settings), clickhouse_side(
        settings
    )


def build_parser() -> argparse.ArgumentParser:
    from cli import demo
    from pipeline import channel_data, rebuild
    from pipeline import commands as pipeline_commands
    from producers import commands as producer_commands
    from producers import generate_command, importer, seasonal_command
    from sinks import commands as sink_commands
    from touchline import alerts, monitor, privacy

    parser = argparse.ArgumentParser(
        prog="touchline",
        description="Touchline: booking-funnel, identity and multichannel attribution pipeline. "
        "Every setting is an environment variable TOUCHLINE_<NAME> (see `touchline config`).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    services = sub.add_parser(
        "services",
        help="start, stop or inspect the local Kafka, Redis and schema registry (no Docker)",
        description="Manage the local stack: Apache Kafka (KRaft, jars from Maven Central), "
        "redis-server and Apicurio Registry (Confluent-compatible API; off with "
        "TOUCHLINE_LOCAL_REGISTRY=false). ClickHouse runs in-process (chDB) and needs no service.",
    )
    services.add_argument(
        "action",
        choices=["up", "down", "status"],
        help="up: start what is not running (ports are remembered in <state dir>/services.json); "
        "down: stop everything Touchline started; status: what runs where",
    )
    services.set_defaults(func=_services)
    config = sub.add_parser(
        "config",
        help="print every setting, its env var and current value",
        description="Print every setting: its environment variable (TOUCHLINE_<NAME>), current "
        "value and meaning.",
    )
    config.add_argument("--markdown", action="store_true", help="defaults as a Markdown table")
    config.set_defaults(func=_config)
    demo.register(sub)
    producer_commands.register(sub)
    generate_command.register(sub)
    seasonal_command.register(sub)
    importer.register(sub)
    pipeline_commands.register(sub)
    sink_commands.register(sub)
    privacy.register(sub)
    privacy.compose(_privacy_sides)
    rebuild.register(sub)
    channel_data.register(sub)
    monitor.register(sub)
    alerts.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:  # first: importing the subcommands may read the settings
        settings = get_settings()
    except ValidationError as exc:  # a TOUCHLINE_* variable out of its range or type
        print(f"touchline: {settings_error(exc)}", file=sys.stderr)
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = int(args.func(args, settings) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
        return status
    except TouchlineError as exc:
        print(f"touchline: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`touchline report ... | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again, and exit as a
        # process killed by SIGPIPE would (128 + 13).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
