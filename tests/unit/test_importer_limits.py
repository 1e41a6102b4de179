"""``touchline import`` applies the ingest limits: the valid event time, the event size, and dead
letters through the shared builder (originals over 512 KiB truncated). No Kafka needed."""

from __future__ import annotations

import io

import orjson

from producers.events import now_ms
from producers.importer import Row, convert_rows, read_rows
from tests.unit.test_api import CODEC, CONTRACTS, SETTINGS
from touchline.deadletter import MAX_ORIGINAL_BYTES


def rows(*lines: dict[str, object] | bytes) -> list[Row]:
    text = b"\n".join(x if isinstance(x, bytes) else orjson.dumps(x) for x in lines)
    return list(read_rows(io.StringIO(text.decode()), "jsonl"))


def row(**over: object) -> dict[str, object]:
    return {"type": "lead", "id": "L-1", "account_id": "a", "created_at": now_ms(), **over}


def dead_letter_of(message_value: bytes) -> dict[str, object]:
    _, datum = CODEC.decode(message_value)
    return datum


def test_import_refuses_times_outside_the_valid_range_and_clickhouse() -> None:
    bad = [
        row(created_at="1999-12-31T23:59:59Z"),
        row(created_at=now_ms() + 3_600_000),
        row(created_at="0001-01-01T00:00:00+01:00"),
        row(created_at="²"),
        row(closed_at=2**53 - 1),
    ]
    out = convert_rows(rows(row(), *bad), CONTRACTS, CODEC, SETTINGS, None)
    assert len(out.messages) == 1
    assert [n for n, _ in out.rejected] == [2, 3, 4, 5, 6]
    assert "$.envelope.occurred_at" in out.rejected[0][1]
    assert "$.envelope.occurred_at" in out.rejected[1][1]
    assert "$.created_at" in out.rejected[2][1]
    assert "$.created_at" in out.rejected[3][1]
    assert len(out.dead_letters) == 5


def test_import_refuses_an_event_over_the_size_limit_naming_the_field() -> None:
    huge = row(stage="s" * 600_000)
    out = convert_rows(rows(huge, row(stage="ok")), CONTRACTS, CODEC, SETTINGS, None)
    assert len(out.messages) == 1
    assert len(out.messages[0].value) <= SETTINGS.ingest_max_event_bytes
    ((number, reason),) = out.rejected
    assert number == 1
    assert reason.startswith("$.stage: the event is ")
    assert "over the 262144-byte limit" in reason
    (message,) = out.dead_letters
    letter = dead_letter_of(message.value)
    assert letter["stage"] == "ingest"
    assert str(letter["reason"]).startswith("import row 1: $.stage")
    assert "truncated" in str(letter["reason"])
    assert letter["original"] == orjson.dumps(huge)[:MAX_ORIGINAL_BYTES]
