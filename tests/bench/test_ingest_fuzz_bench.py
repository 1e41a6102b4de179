"""The ingest door under >= 100,000 generated inputs (issue 17), in process, no services.

The strategies and checks of tests/unit/test_ingest_properties.py (events built from the ``.avsc``
contracts, valid and broken; native payloads for every source route), 20,000 cases per route over
``/v1/events`` and the four ``/v1/sources/*`` routes. Every case must answer below 500, leave a
dead letter with its reason and original bytes for every refusal, and publish only events within
the size limit and the valid event time. Prints the figures and writes
bench-results/ingest_fuzz.json.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.unit.test_ingest_properties import (
    ROUTES,
    SOURCES,
    OpenDoor,
    Tally,
    events_bodies,
    mutated,
    natives,
    post_and_check,
)
from touchline.settings import REPO_ROOT

# 100,000 cases take longer than the suite's default timeout (300 s): 16 minutes here (2026-12-02)
pytestmark = [pytest.mark.bench, pytest.mark.timeout(3600)]

CASES_PER_ROUTE = int(os.environ.get("TOUCHLINE_FUZZ_CASES_PER_ROUTE", "20000"))


def body_strategy(route: str) -> st.SearchStrategy[Any]:
    if route == "/v1/events":
        return events_bodies
    source = route.rsplit("/", 1)[-1]
    assert source in SOURCES
    return mutated(natives(source))


def run_route(route: str) -> dict[str, Any]:
    tally = Tally()
    with OpenDoor() as door:

        @settings(
            max_examples=CASES_PER_ROUTE,
            deadline=None,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(body=body_strategy(route))
        def fuzz(body: Any) -> None:
            post_and_check(door, route, body, tally)

        started = time.perf_counter()
        fuzz()
        seconds = time.perf_counter() - started
    return {
        "cases": tally.cases,
        "seconds": round(seconds, 1),
        "cases_per_s": round(tally.cases / seconds, 1),
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "responses_5xx": tally.server_errors,
        "events_accepted": tally.accepted,
        "refusals": tally.refused,
        "refusals_dead_lettered": tally.dead_letters,
    }


def test_ingest_fuzz_bench() -> None:
    routes = {route: run_route(route) for route in ROUTES}
    total = {
        key: sum(r[key] for r in routes.values())
        for key in (
            "cases",
            "responses_5xx",
            "events_accepted",
            "refusals",
            "refusals_dead_lettered",
        )
    }
    result = {"cases_per_route": CASES_PER_ROUTE, "total": total, "routes": routes}
    out = REPO_ROOT / "bench-results" / "ingest_fuzz.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print("\n" + json.dumps(result, indent=2))
    assert total["responses_5xx"] == 0
    assert total["refusals_dead_lettered"] == total["refusals"]
    assert total["cases"] >= len(ROUTES) * CASES_PER_ROUTE * 0.95
