"""Enriched events (Avro datums) to ClickHouse rows of ``events``. Pure.

A row is a list in :data:`COLUMNS` order built straight from the decoded datum: its scalars taken
in one C-level ``itemgetter`` call, its timestamps kept as the Avro ``timestamp-millis`` values
(UTC epoch milliseconds, which are exactly ``DateTime64(3)``'s ticks, so nothing converts them to
``datetime`` and back), its ``lines`` transposed into the nested columns in one ``zip``. A batch
of rows goes to ``client.insert`` as it is (row-oriented: the driver transposes in compiled
code). Measured with cProfile before this shape: ``datetime`` creation in ``to_row`` and
clickhouse-connect's conversion back to ticks were the largest costs of the writer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

LINE_FIELDS = (
    "store_id",
    "store_name",
    "service_id",
    "service_name",
    "resource_id",
    "resource_name",
    "category",
    "quantity",
    "amount_minor",
)
SCALARS = (
    "event_id",
    "event_type",
    "family",
    "occurred_at",
    "received_at",
    "processed_at",
    "source",
    "account_id",
    "location_id",
    "client_id",
    "cid",
    "email",
    "phone",
    "session_id",
    "session_seq",
    "session_started_at",
    "landing_page",
    "time_on_site_ms",
    "channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "click_id_type",
    "referrer_host",
    "page_url",
    "device_type",
    "is_touch",
    "is_contact",
    "touch_seq",
    "multichannel",
    "channels_before",
    "revenue_minor",
    "currency",
)
TIMESTAMPS = {"occurred_at", "received_at", "processed_at", "session_started_at"}
# Columns added by later migrations (ALTER TABLE ... ADD COLUMN appends them), in their order.
ADDED = ("own_channel", "external_ids")
COLUMNS = (*SCALARS, *(f"lines.{f}" for f in LINE_FIELDS), "attributes", "payload_json", *ADDED)


_SCALARS = itemgetter(*SCALARS)
_LINE = itemgetter(*LINE_FIELDS)


def _ts(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC)


def to_row(event: dict[str, Any]) -> list[Any]:
    """The ``events`` row of an enriched datum, in :data:`COLUMNS` order; timestamps are UTC epoch
    milliseconds (``DateTime64(3, 'UTC')`` ticks, stored as they are)."""
    lines = event["lines"]
    if len(lines) == 1:  # most events: one list per field without zip's transposition
        nested: Any = [[value] for value in _LINE(lines[0])]
    elif lines:
        nested = map(list, zip(*map(_LINE, lines), strict=True))
    else:
        nested = [[] for _ in LINE_FIELDS]
    # An event enriched before own_channel existed has none: its stored channel, as the column's
    # DEFAULT gives the rows stored before the migration.
    own_channel = event.get("own_channel") or event["channel"]
    return [
        *_SCALARS(event),
        *nested,
        event["attributes"],
        event["payload_json"],
        own_channel,
        event.get("external_ids") or [],  # none from a worker before the column (migration 020)
    ]


MERGE_COLUMNS = (
    "merged_at",
    "account_id",
    "from_client_id",
    "to_client_id",
    "reason",
    "identifier_hash",
    "event_id",
)


def merge_to_row(merge: dict[str, Any]) -> list[Any]:
    """An IdentityMerge datum to a row of ``identity_merges``."""
    return [_ts(merge[c]) if c == "merged_at" else merge.get(c) for c in MERGE_COLUMNS]


def _split_columns() -> tuple[str, ...]:
    from touchline.contracts import SPLIT, load_cached
    from touchline.settings import default

    return tuple(f["name"] for f in load_cached(default("schemas_dir")).raw[SPLIT]["fields"])


# The columns of ``identity_splits``: the IdentitySplit schema's fields, in its order.
SPLIT_COLUMNS = _split_columns()


def split_key(row: list[Any]) -> str:
    """The last column of ``identity_splits``' sorting key (023) for a row made by
    :func:`split_to_row`: its identifiers, so two splits one event made to the same client (two
    identifiers it proved shared, each released) are two rows, while a redelivered one collapses."""
    return " ".join(row[SPLIT_COLUMNS.index("identifiers")])


def split_to_row(
    split: dict[str, Any], identifier: Callable[[str], str] | None = None
) -> list[Any]:
    """An IdentitySplit datum to a row of ``identity_splits``; ``identifier`` rewrites each
    identifier (the sink's pseudonymiser, when email and phone are stored as keyed hashes)."""
    if identifier is not None:
        split = {**split, "identifiers": [identifier(k) for k in split["identifiers"]]}
    return [_ts(split[c]) if c == "split_at" else split[c] for c in SPLIT_COLUMNS]
