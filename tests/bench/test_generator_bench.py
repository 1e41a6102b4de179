"""How fast the generator makes events, beside a baseline measured in the same run: plain
``json.dumps(sort_keys=True)`` of the same number of (already built) event dicts."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import pytest

from producers import generate_command
from synthetic import GeneratorConfig, generate
from tests.bench.results import write as write_result
from touchline.settings import Settings

pytestmark = pytest.mark.bench

CLIENTS = int(os.environ.get("TOUCHLINE_BENCH_GENERATOR_CLIENTS", "10000"))


def test_generator_throughput(tmp_path: Path) -> None:
    config = GeneratorConfig(clients=CLIENTS, seed=1, malformed_share=0.01)

    started = time.perf_counter()
    generated = generate(config)
    generate_s = time.perf_counter() - started
    started = time.perf_counter()
    data = generate_command.jsonl(generated.events)
    serialise_s = time.perf_counter() - started
    events = len(generated.events)

    started = time.perf_counter()
    baseline = "".join(json.dumps(event, sort_keys=True) + "\n" for event in generated.events)
    baseline_s = time.perf_counter() - started
    assert len(baseline) > 0 and len(data) > 0

    parser = argparse.ArgumentParser(prog="touchline")
    generate_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["generate", "--clients", str(CLIENTS), "--seed", "1", "--out", str(tmp_path / "e.jsonl")]
    )
    started = time.perf_counter()
    assert args.func(args, Settings()) == 0
    command_s = time.perf_counter() - started

    total_s = generate_s + serialise_s
    result = {
        "clients": CLIENTS,
        "events": events,
        "bytes": len(data),
        "generate_s": round(generate_s, 3),
        "serialise_s": round(serialise_s, 3),
        "generator_events_per_s": round(events / total_s),
        "baseline": "json.dumps(sort_keys=True) of the same event dicts, already built",
        "baseline_s": round(baseline_s, 3),
        "baseline_events_per_s": round(events / baseline_s),
        "ratio_generator_to_baseline": round(baseline_s / total_s, 3),
        "command_wall_s": round(command_s, 3),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    write_result("generator", result)
    print()
    print(
        f"generator: {events} events for {CLIENTS} clients in {total_s:.2f}s "
        f"({result['generator_events_per_s']} events/s: generate {generate_s:.2f}s + "
        f"orjson {serialise_s:.2f}s)"
    )
    print(
        f"baseline json.dumps of the same {events} dicts: {baseline_s:.2f}s "
        f"({result['baseline_events_per_s']} events/s); generator/baseline speed "
        f"{result['ratio_generator_to_baseline']}x"
    )
    print(f"`touchline generate --clients {CLIENTS} --seed 1 --out FILE`: {command_s:.2f}s wall")
