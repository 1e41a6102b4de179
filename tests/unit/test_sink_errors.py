"""Which ClickHouse insert failures the sink retries and which it splits (sinks.errors)."""

from __future__ import annotations

import struct

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from sinks.errors import Kind, Refused, classify, code_of, describe

# What chDB / a server say (clickhouse-connect puts the code on .code; a message may carry it only).
PARTITIONS = (
    "Code: 252. DB::Exception: Too many partitions for single INSERT block (more than 100). The "
    "limit is controlled by 'max_partitions_per_insert_block' setting. (TOO_MANY_PARTS)"
)
MERGES_BEHIND = (
    "Code: 252. DB::Exception: Too many parts (300 with average size of 1.2 MiB) in table "
    "'db.events'. Merges are processing significantly slower than inserts. (TOO_MANY_PARTS)"
)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (DatabaseError(PARTITIONS, code=252), Kind.PERMANENT),
        (DatabaseError(PARTITIONS), Kind.PERMANENT),  # code from the message
        (DatabaseError(MERGES_BEHIND, code=252), Kind.TRANSIENT),
        (DatabaseError("Code: 241. Memory limit exceeded (MEMORY_LIMIT_EXCEEDED)"), Kind.TRANSIENT),
        (DatabaseError("Too many simultaneous queries", code=202), Kind.TRANSIENT),
        (DatabaseError("Timeout exceeded", code=159), Kind.TRANSIENT),
        (DatabaseError("Table db.events does not exist", code=60), Kind.TRANSIENT),
        (DatabaseError("Cannot parse input", code=27), Kind.PERMANENT),
        (DatabaseError("Type mismatch", code=53), Kind.PERMANENT),
        (DatabaseError("Value out of range", code=321), Kind.PERMANENT),
        (DatabaseError("Cannot parse UUID", code=376), Kind.PERMANENT),
        (DatabaseError("something new", code=4242), Kind.TRANSIENT),  # unknown: never drop
        (OperationalError("HTTPConnectionPool: Connection refused"), Kind.TRANSIENT),
        (ConnectionRefusedError(111, "Connection refused"), Kind.TRANSIENT),
        (ConnectionResetError(104, "Connection reset by peer"), Kind.TRANSIENT),
        (TimeoutError("timed out"), Kind.TRANSIENT),
        (DataError("Unable to create native array for column `v`"), Kind.PERMANENT),
        (ValueError("invalid literal for int() with base 10: 'x'"), Kind.PERMANENT),
        (TypeError("'NoneType' object is not iterable"), Kind.PERMANENT),
        (struct.error("ubyte format requires 0 <= number <= 255"), Kind.PERMANENT),
        (RuntimeError("?"), Kind.TRANSIENT),
    ],
)
def test_classify(exc: BaseException, kind: Kind) -> None:
    assert classify(exc) is kind


def test_code_of_prefers_the_attribute() -> None:
    assert code_of(DatabaseError("Code: 1. x", code=53)) == 53
    assert code_of(DatabaseError("Code: 241. x")) == 241
    assert code_of(ValueError("x")) is None


def test_describe_is_one_line_with_the_cause() -> None:
    try:
        try:
            struct.pack("B", 300)
        except struct.error as inner:
            raise DataError("Unable to create native array for column `v`: error") from inner
    except DataError as exc:
        text = describe(exc)
    assert text.startswith("DataError: Unable to create native array for column `v`")
    assert "ubyte format requires" in text and "\n" not in text
    assert "TOO_MANY_PARTS" in describe(DatabaseError(PARTITIONS + "\nstack trace"))
    assert str(Refused(ValueError("bad"))) == "ValueError: bad"
