"""Property-based test of the ingest door (issue 17): events built from the ``.avsc`` contracts,
valid and broken, and native payloads for every source route, posted to the app with a fake
in-memory publisher. Whatever the input:

* no response is a 5xx;
* every refused input (a rejected event, or a request refused whole) left a dead letter with a
  non-empty reason and the original bytes (or, over 512 KiB, their prefix);
* every accepted event's Avro bytes fit the event size limit and its ``occurred_at`` is in the
  valid event time range.

A bounded slice runs here; tests/bench/test_ingest_fuzz_bench.py runs the same checks >= 100,000
times.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.api import IngestConfig, create_app
from producers.events import now_ms, occurred_range
from tests.unit.test_api import CODEC, CONTRACTS, SETTINGS, FakePublisher
from touchline.contracts import DEAD_LETTER
from touchline.deadletter import MAX_ORIGINAL_BYTES

CONFIG = IngestConfig(rate_burst=10**12, rate_events_per_second=1e12)
SOURCES = ["booking-widget", "studio", "call-tracking", "crm"]
ROUTES = ["/v1/events", *(f"/v1/sources/{s}" for s in SOURCES)]
DAY = 86_400_000
DEEP = re.compile(rb'"\\u0000DEEP(\d+)\\u0000"')


# --- values ---------------------------------------------------------------------------------------


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def deep(depth: int) -> str:
    """A marker the body writer replaces with ``depth`` nested arrays (orjson cannot write them)."""
    return f"\x00DEEP{depth}\x00"


def valid_times() -> st.SearchStrategy[Any]:
    now = now_ms()
    ms = st.integers(min_value=now - 40 * DAY, max_value=now)
    return ms | ms.map(iso)


NASTY_TIMES = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "1999-12-31T23:59:59Z",
    "2300-01-01T00:00:00Z",
    "²",
    "١٢٣",
    "１２３",
    "9" * 5000,
    "2026-11-18T10:00:00",
    2**63 - 1,
    -(2**63),
    253_402_300_800_000,
    946_684_799_999,
    2**64,
    -1,
    0,
]
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
nasty = st.one_of(
    json_values,
    st.sampled_from(NASTY_TIMES),
    st.sampled_from(["x" * 300_000, "é" * 150_000, "x" * 600_000, "x" * 1_100_000]),
    st.sampled_from([200, 254, 256, 1000, 1030]).map(deep),
    st.text(alphabet="0123456789²³¹٠١٢٣٤０１２", min_size=1, max_size=25),
)


MAP_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=8)


# --- valid events from the contracts -------------------------------------------------------------


class Strategies:
    """Hypothesis strategies for valid JSON events of each family, read off the Avro schemas."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = dict(CONTRACTS.raw)

    def of(self, node: Any, name: str = "") -> st.SearchStrategy[Any]:
        if isinstance(node, list):
            return st.one_of([self.of(branch, name) for branch in node])
        if isinstance(node, str):
            return self._primitive(node, name)
        kind = node.get("type")
        if isinstance(kind, list | dict):
            return self.of(kind, name)
        logical = node.get("logicalType")
        if logical == "timestamp-millis":
            return valid_times()
        if logical == "uuid":
            return st.uuids().map(str)
        if kind in ("record", "enum"):
            self.named[str(node["name"])] = node
            if "namespace" in node:
                self.named[f"{node['namespace']}.{node['name']}"] = node
            if kind == "enum":
                return st.sampled_from(node["symbols"])
            return self._record(node)
        if kind == "array":
            return st.lists(self.of(node["items"]), max_size=3)
        if kind == "map":  # keys as the identity store takes source-system names
            return st.dictionaries(MAP_KEYS, self.of(node["values"]), max_size=3)
        return self._primitive(str(kind), name)

    def _primitive(self, kind: str, name: str) -> st.SearchStrategy[Any]:
        simple: dict[str, st.SearchStrategy[Any]] = {
            "null": st.none(),
            "boolean": st.booleans(),
            "int": st.integers(min_value=-(2**31), max_value=2**31 - 1),
            "long": st.integers(min_value=-(2**40), max_value=2**40),
            "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
            "double": st.floats(allow_nan=False, allow_infinity=False),
            "string": st.text(max_size=20),
            "bytes": st.text(max_size=10),
        }
        if kind in simple:
            return simple[kind]
        short = kind.rsplit(".", 1)[-1]
        return self.of(self.named.get(kind) or self.named[short], name)

    def _record(self, node: dict[str, Any]) -> st.SearchStrategy[Any]:
        required = {f["name"]: self.of(f["type"], f["name"]) for f in node["fields"]}
        optional = {f["name"]: required.pop(f["name"]) for f in node["fields"] if "default" in f}
        return st.fixed_dictionaries(required, optional=optional)

    def event(self, family_name: str) -> st.SearchStrategy[dict[str, Any]]:
        family = CONTRACTS.families[family_name]

        def typed(event: dict[str, Any], event_type: str) -> dict[str, Any]:
            event["envelope"]["event_type"] = event_type
            return event

        return st.builds(
            typed, self.of(CONTRACTS.raw[family_name]), st.sampled_from(family.event_types)
        )


STRATEGIES = Strategies()
FAMILIES = sorted(name for name, f in CONTRACTS.families.items() if f.event_types)
valid_events = st.one_of([STRATEGIES.event(name) for name in FAMILIES])


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[Any]) -> Any:
    """``base`` with one value somewhere inside (or the whole) replaced by a nasty one."""
    value = draw(base)
    if draw(st.integers(0, 3)) == 0:
        return value
    node = value
    for _ in range(draw(st.integers(0, 4))):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys or not isinstance(node, dict | list):
            break
        child = node[draw(st.sampled_from(keys))]
        if not isinstance(child, dict | list) or not child:
            break
        node = child
    if isinstance(node, dict):
        key = draw(st.sampled_from([*node, "surprise"]) if node else st.just("surprise"))
        node[key] = draw(nasty)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(nasty)
    else:
        return draw(nasty)
    return value


events_bodies = st.one_of(
    mutated(valid_events),
    st.lists(mutated(valid_events), min_size=0, max_size=6),
)


# --- native payloads ---------------------------------------------------------------------------


def natives(source: str) -> st.SearchStrategy[dict[str, Any]]:
    t = valid_times()
    ids = st.text(min_size=1, max_size=10)
    if source == "booking-widget":
        return st.fixed_dictionaries(
            {
                "event": st.sampled_from(["appointment_booking", "event_booking"]),
                "occurred_at": t,
                "account_id": ids,
            },
            optional={
                "appointments": st.lists(st.fixed_dictionaries({"store_id": ids}), max_size=2),
                "events": st.lists(st.fixed_dictionaries({"event_id": ids}), max_size=2),
                "_ga": st.just("GA1.2.147852369.3692587411"),
                "utm_source": ids,
                "touchline_event_id": st.uuids().map(str),
            },
        )
    if source == "studio":
        data = st.fixed_dictionaries(
            {"id": ids, "membershipId": ids, "classId": ids, "startDateTime": t},
            optional={"orderId": ids, "currency": st.just("EUR"), "duration": st.integers()},
        )
        kinds = ["appointment.scheduled", "class.booked", "membership.activated", "order.placed"]
        return st.fixed_dictionaries(
            {
                "id": ids,
                "type": st.sampled_from(kinds),
                "occurredAt": t,
                "accountId": ids,
                "data": data,
            },
            optional={"client": st.fixed_dictionaries({"id": ids, "email": ids})},
        )
    if source == "call-tracking":
        return st.fixed_dictionaries(
            {"call_id": ids, "start_time": t, "account_id": ids},
            optional={"duration": st.integers(0, 10**4), "caller_number": ids},
        )
    row = st.fixed_dictionaries(
        {"type": st.sampled_from(["lead", "deal"]), "id": ids, "account_id": ids, "created_at": t},
        optional={"amount": st.just("12.50"), "currency": st.just("EUR"), "status": ids},
    )
    return row | st.fixed_dictionaries({"rows": st.lists(mutated(row), max_size=4)})


# --- the app and the checks -----------------------------------------------------------------------


@dataclass
class Tally:
    """What the run saw, for the bench's figures."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: int = 0
    refused: int = 0
    dead_letters: int = 0
    server_errors: int = 0


def write_body(body: Any) -> bytes:
    try:
        raw = orjson.dumps(body)
    except orjson.JSONEncodeError:  # integers beyond 64 bits
        raw = json.dumps(body, ensure_ascii=False).encode()
    return DEEP.sub(lambda m: b"[" * int(m.group(1)) + b"1" + b"]" * int(m.group(1)), raw)


@pytest.fixture(scope="module")
def door() -> Iterator[tuple[TestClient, FakePublisher]]:
    with OpenDoor() as opened:
        yield opened


class OpenDoor:
    """The app on a fake publisher, as a context manager (the bench opens it too)."""

    def __enter__(self) -> tuple[TestClient, FakePublisher]:
        self.fake = FakePublisher()
        app = create_app(
            SETTINGS,
            CONTRACTS,
            CODEC,
            "unused:9092",
            config=CONFIG,
            publisher_factory=lambda _on_error: self.fake,
        )
        self.client = TestClient(app, raise_server_exceptions=False)
        self.client.__enter__()
        return self.client, self.fake

    def __exit__(self, *exc: object) -> None:
        self.client.__exit__(*exc)


def check_original(original: bytes, candidates: list[bytes]) -> None:
    assert original, "a dead letter without its original bytes"
    assert any(
        original == c or (len(original) == MAX_ORIGINAL_BYTES and c.startswith(original))
        for c in candidates
    ), original[:200]


def element_bytes(raw: bytes, index: int) -> list[bytes]:
    try:
        payload = orjson.loads(raw)
        return [orjson.dumps(payload[index] if isinstance(payload, list) else payload), raw]
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, IndexError, KeyError):
        return [raw]


def post_and_check(
    door: tuple[TestClient, FakePublisher], route: str, body: Any, tally: Tally | None = None
) -> None:
    client, fake = door
    fake.published.clear()
    fake.sent.clear()
    raw = write_body(body)
    resp = client.post(route, content=raw, headers={"content-type": "application/json"})
    tally = tally if tally is not None else Tally()
    tally.cases += 1
    tally.statuses[resp.status_code] = tally.statuses.get(resp.status_code, 0) + 1
    if resp.status_code >= 500:
        tally.server_errors += 1
    assert resp.status_code in (202, 207, 400, 413), (resp.status_code, resp.text[:500])
    letters = [CODEC.decode(m.value) for m in fake.sent]
    assert all(name == DEAD_LETTER for name, _ in letters)
    answer = resp.json()
    if "rejected" not in answer:  # refused whole: one dead letter of the body
        assert answer["field"] and answer["reason"], answer
        (letter,) = (datum for _, datum in letters)
        assert letter["reason"]
        if answer["reason"] == "body_too_large" and not letter["original"]:
            assert len(raw) > CONFIG.max_body_bytes  # refused on Content-Length, body not read
        else:
            check_original(letter["original"], [raw])
        tally.refused += 1
        tally.dead_letters += 1
        return
    rejected = answer["rejected"]
    assert len(letters) == len(rejected)
    for entry, (_, letter) in zip(rejected, letters, strict=True):
        assert entry["errors"] and all(e["field"] and e["reason"] for e in entry["errors"])
        assert letter["reason"] and letter["stage"] == "ingest"
        check_original(letter["original"], element_bytes(raw, entry["index"]))
    check_accepted(fake, answer["accepted"])
    tally.accepted += answer["accepted"]
    tally.refused += len(rejected)
    tally.dead_letters += len(letters)


def check_accepted(fake: FakePublisher, accepted: int) -> None:
    assert len(fake.published) == accepted
    low, high = occurred_range(CONFIG.min_occurred_at, CONFIG.future_horizon_s, now_ms())
    for message in fake.published:
        assert len(message.value) <= CONFIG.max_event_bytes
        _, datum = CODEC.decode(message.value)
        assert low <= datum["envelope"]["occurred_at"] <= high


def any_case() -> st.SearchStrategy[tuple[str, Any]]:
    return st.one_of(
        st.tuples(st.just("/v1/events"), events_bodies),
        *(st.tuples(st.just(f"/v1/sources/{s}"), mutated(natives(s))) for s in SOURCES),
    )


PROPERTY = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


@PROPERTY
@given(case=any_case())
def test_no_input_gives_a_5xx_loses_a_refusal_or_accepts_what_a_later_stage_refuses(
    door: tuple[TestClient, FakePublisher], case: tuple[str, Any]
) -> None:
    post_and_check(door, *case)


def test_the_strategies_make_valid_events_that_are_accepted(
    door: tuple[TestClient, FakePublisher],
) -> None:
    """The contract strategies are not only noise: their unmutated events are accepted."""
    seen: list[int] = []

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(event=valid_events)
    def accepted(event: dict[str, Any]) -> None:
        client, fake = door
        fake.published.clear()
        resp = client.post(
            "/v1/events", content=orjson.dumps(event), headers={"content-type": "application/json"}
        )
        seen.append(resp.status_code)
        assert resp.status_code == 202, resp.text[:500]

    accepted()
    assert len(seen) >= 30
