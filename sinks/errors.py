"""Which failed ClickHouse inserts to retry and which to split. Pure: no I/O.

* **Transient**: the same insert can succeed later (server unreachable or overloaded, timeouts,
  memory or concurrency limits, merges behind, a missing table or denied access an operator must
  fix). The sink retries with backoff and never drops the rows.
* **Permanent for this batch**: retrying the same rows cannot help, but fewer rows may (a value
  ClickHouse cannot convert, a row the client cannot serialise, too many partitions or rows for one
  insert). The sink splits the batch and bisects to the rows that fail alone, which it dead-letters.

An error this module cannot attribute to the data is transient: dead-lettering rows because of a
server-side condition would empty the stream into the dead-letter topic, while retrying only stalls
it visibly (retries, lag and the alerts on them) until someone looks.

Codes are ClickHouse's ``src/Common/ErrorCodes.cpp``.
"""

from __future__ import annotations

import re
import struct
from enum import Enum

from clickhouse_connect.driver import exceptions as ch


class Kind(Enum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"


class Refused(Exception):
    """An insert failed for a reason that retrying the same rows cannot fix (``cause``)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.cause = cause


TOO_MANY_PARTS = 252  # merges behind (transient) or partitions per insert block (this batch)

TRANSIENT_CODES = frozenset(
    {
        159,  # TIMEOUT_EXCEEDED
        160,  # TOO_SLOW
        173,  # CANNOT_ALLOCATE_MEMORY
        201,  # QUOTA_EXPIRED (the quota interval ends)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        225,  # NO_ZOOKEEPER
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY (replica lost its keeper session)
        243,  # NOT_ENOUGH_SPACE
        279,  # ALL_CONNECTION_TRIES_FAILED
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        364,  # RECEIVED_ERROR_TOO_MANY_REQUESTS
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        473,  # DEADLOCK_AVOIDED
        999,  # KEEPER_EXCEPTION
        1000,  # POCO_EXCEPTION (network errors inside the server)
        # An operator must act, but the rows are fine: retry until they do.
        16,  # NO_SUCH_COLUMN_IN_TABLE
        60,  # UNKNOWN_TABLE
        81,  # UNKNOWN_DATABASE
        164,  # READONLY
        192,  # UNKNOWN_USER
        193,  # WRONG_PASSWORD
        194,  # REQUIRED_PASSWORD
        195,  # IP_ADDRESS_NOT_ALLOWED
        291,  # DATABASE_ACCESS_DENIED
        497,  # ACCESS_DENIED
        516,  # AUTHENTICATION_FAILED
    }
)

PERMANENT_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        19,  # SIZE_OF_FIXED_STRING_DOESNT_MATCH
        25,  # CANNOT_PARSE_ESCAPE_SEQUENCE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        36,  # BAD_ARGUMENTS
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        43,  # ILLEGAL_TYPE_OF_ARGUMENT
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        128,  # TOO_LARGE_ARRAY_SIZE
        131,  # TOO_LARGE_STRING_SIZE
        158,  # TOO_MANY_ROWS (fewer rows fit)
        190,  # SIZES_OF_ARRAYS_DOESNT_MATCH
        229,  # QUERY_IS_TOO_LARGE (fewer rows fit)
        248,  # INVALID_PARTITION_VALUE
        307,  # TOO_MANY_BYTES (fewer rows fit)
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        366,  # SIZES_OF_NESTED_COLUMNS_ARE_INCONSISTENT
        376,  # CANNOT_PARSE_UUID
        395,  # FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
        396,  # TOO_MANY_ROWS_OR_BYTES (fewer rows fit)
        407,  # DECIMAL_OVERFLOW
        467,  # CANNOT_PARSE_BOOL
        469,  # VIOLATED_CONSTRAINT
    }
)

_CODE = re.compile(r"\bCode:\s*(\d+)")
# "Too many partitions for single INSERT block (more than 100). The limit is controlled by
# 'max_partitions_per_insert_block' setting." Merges behind say "Too many parts (N). Merges are
# processing significantly slower than inserts".
_PARTITIONS_PER_INSERT = re.compile(r"partitions for single INSERT block|max_partitions_per_insert")

# Raised by the client while it serialises a row (before anything reaches the server).
_ROW_CONVERSION = (ch.DataError, TypeError, ValueError, OverflowError, struct.error)


def code_of(exc: BaseException) -> int | None:
    """ClickHouse's error code of ``exc``: the client's ``code`` or ``Code: N`` in the message."""
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match[1]) if match else None


def classify(exc: BaseException) -> Kind:
    code = code_of(exc)
    if code == TOO_MANY_PARTS:
        return Kind.PERMANENT if _PARTITIONS_PER_INSERT.search(str(exc)) else Kind.TRANSIENT
    if code in PERMANENT_CODES:
        return Kind.PERMANENT
    if code in TRANSIENT_CODES:
        return Kind.TRANSIENT
    if code is None and isinstance(exc, _ROW_CONVERSION):
        return Kind.PERMANENT
    return Kind.TRANSIENT  # connection errors, timeouts, and what cannot be told apart


def describe(exc: BaseException) -> str:
    """One line for logs and dead letters: the type and the first line of the message."""
    text = _first_line(exc)
    cause = exc.__cause__ or exc.__context__
    if cause is not None and _first_line(cause) and _first_line(cause) not in text:
        text = f"{text} ({type(cause).__name__}: {_first_line(cause)})"
    return f"{type(exc).__name__}: {text[:500]}"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""
