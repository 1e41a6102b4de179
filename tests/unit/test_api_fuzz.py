"""Fuzzing the ingest API in-process: nothing a client sends produces a 5xx, and every answer
conforms to the app's own OpenAPI document (schemathesis). Example counts are kept small."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from producers.api import IngestConfig, create_app
from tests.unit.test_api import CODEC, CONTRACTS, SETTINGS, FakePublisher, fresh_events

APP = create_app(
    SETTINGS,
    CONTRACTS,
    CODEC,
    "unused:9092",
    config=IngestConfig(max_batch_events=20, max_body_bytes=64_000, rate_burst=10**9),
    publisher_factory=lambda _on_error: FakePublisher(),
)
PATHS = [
    "/v1/events",
    *(f"/v1/sources/{n}" for n in ("booking-widget", "studio", "call-tracking", "crm")),
]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(APP, raise_server_exceptions=False) as c:
        yield c


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


def mutate_event(event: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    """Replace one field (by path of keys) of a valid event: near-valid input finds more bugs."""
    out = json.loads(json.dumps(event))
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value
    return out


FIELD_PATHS = [
    ["envelope"],
    ["envelope", "event_id"],
    ["envelope", "event_type"],
    ["envelope", "occurred_at"],
    ["envelope", "source"],
    ["envelope", "ids"],
    ["envelope", "ids", "external_ids"],
    ["envelope", "web"],
    ["envelope", "web", "utm_source"],
    ["appointments"],
    ["conversion_id"],
    ["surprise"],
]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(PATHS),
    body=json_values | st.lists(json_values, max_size=25),
)
def test_arbitrary_json_never_5xx(client: Any, path: str, body: Any) -> None:
    resp = client.post(path, content=json.dumps(body), headers={"content-type": "application/json"})
    assert resp.status_code < 500, resp.text
    assert resp.status_code in (202, 207, 400, 413), resp.text


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(field=st.sampled_from(FIELD_PATHS), value=json_values, batch=st.booleans())
def test_near_valid_events_never_5xx(
    client: Any, field: list[str], value: Any, batch: bool
) -> None:
    good = fresh_events(2)
    bad = mutate_event(good[0], field, value)
    resp = client.post("/v1/events", json=[bad, good[1]] if batch else bad)
    assert resp.status_code in (202, 207, 400), resp.text
    if resp.status_code == 400 and "rejected" in resp.json():
        assert resp.json()["rejected"][0]["errors"], resp.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    raw=st.binary(max_size=300),
    ctype=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ]
    ),
)
def test_arbitrary_bytes_and_content_types_never_5xx(client: Any, raw: bytes, ctype: str) -> None:
    resp = client.post("/v1/events", content=raw, headers={"content-type": ctype})
    assert resp.status_code in (202, 207, 400, 413, 415), resp.text


# Too many events in a batch is refused with 413 (documented), which is a rejection too. The
# coverage phase enumerates every enum value and boundary of the contracts' request schema (about
# 9,000 cases, ~40 s): it runs in tests/bench/test_ingest_fuzz_bench.py, not here.
CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}},
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 405, 413, 415, 422, 429],
            }
        },
    }
)
SCHEMA = schemathesis.openapi.from_dict(APP.openapi(), config=CONFIG)


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_conformance(case: Any) -> None:
    # Random objects are not valid events: the API answering 400 to schema-valid input is right.
    resp = case.call(app=APP)
    assert resp.status_code < 500, resp.text
    case.validate_response(resp, excluded_checks=[positive_data_acceptance])
