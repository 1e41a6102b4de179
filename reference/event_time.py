"""The reference's input, made in event time: events as the ingest API would accept them, run
through the worker's own steps (:class:`pipeline.processor.Processor` over the in-memory store
that mirrors the Lua scripts, ``pipeline/memory_store.py``) oldest first, one at a time in
``(occurred_at, event_id)`` order, with the settings' rules. What comes out is what the sink would
store had every source delivered on time: the enriched events, the identity merges and the
identity splits. :func:`expected` then computes a report query from them with the reference.

``touchline demo`` posts its events in arrival order and checks what ClickHouse answers against
this (``cli/demo.py``); reports that depend on arrival order would differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.memory_store import MemoryStore
from pipeline.processor import Output, Processor, processor_config
from producers.events import Prepared, prepare
from reference.attribution import attribution
from reference.cards import client_card, client_summary
from reference.funnel import booking_funnel, booking_outcomes
from reference.identity import canonical
from reference.selection import Event
from reference.studio import appointments, class_cancellations, classes
from reference.web import engagement, experiments, feedback
from sinks import clickhouse, parameters
from touchline.codec import Codec
from touchline.contracts import ENRICHED, MERGE, SPLIT, load_cached
from touchline.settings import Settings

# Report query name -> its reference (a query's rows, from the canonical events and the query's
# resolved parameters).
QUERIES: dict[str, Callable[[list[Event], dict[str, Any]], list[tuple[Any, ...]]]] = {
    "booking_funnel": booking_funnel,
    "booking_outcomes": booking_outcomes,
    "attribution": attribution,
    "client_card": client_card,
    "client_summary": client_summary,
    "appointments": appointments,
    "classes": classes,
    "class_cancellations": class_cancellations,
    "engagement": engagement,
    "experiments": experiments,
    "feedback": feedback,
}


@dataclass
class Stored:
    """What the sink would store: enriched events, identity merges and splits (Avro datums)."""

    events: list[Event] = field(default_factory=list)
    merges: list[Event] = field(default_factory=list)
    splits: list[Event] = field(default_factory=list)
    refused: int = 0  # events the ingest API would refuse (malformed)
    dead_letters: int = 0  # events the worker would dead-letter
    store: MemoryStore | None = None  # the worker's state after them: cards, identities

    def canonical(self) -> list[Event]:
        return canonical(self.events, self.merges, self.splits)


def run(
    events: Iterable[Any],
    settings: Settings,
    received_at: int,
    in_event_time: bool = True,
    batches: Iterable[int] = (),
) -> Stored:
    """The events (JSON objects, as posted) through validation and the worker's steps, in event
    time (``in_event_time=False``: in the order given, as they arrived; ``batches`` as in
    :func:`process`); each is received at ``received_at``."""
    contracts = load_cached(settings.schemas_dir)
    codec = Codec(contracts)
    values: list[bytes] = []
    refused = 0
    for event in events:
        prepared = prepare(contracts, event, received_at, phone_region=settings.phone_region)
        if isinstance(prepared, Prepared):
            values.append(codec.encode(prepared.family.name, prepared.datum))
        else:
            refused += 1
    out = process(values, settings, in_event_time, batches)
    out.refused = refused
    return out


def process(
    values: Iterable[bytes],
    settings: Settings,
    in_event_time: bool = True,
    batches: Iterable[int] = (),
) -> Stored:
    """Raw records (Avro, as on the raw topics) through the worker's steps, oldest first
    (``in_event_time=False``: in the order given), one at a time or, with ``batches``, in
    batches of those sizes (the last size repeats), as the worker takes them from Kafka."""
    codec = Codec(load_cached(settings.schemas_dir))
    records = list(values)
    if in_event_time:
        records.sort(key=lambda value: _event_time(codec, value))
    store = MemoryStore(settings.identity_max_share, settings.identity_provenance_cap)
    processor = Processor(codec, store, processor_config(settings))
    out = Stored(store=store)
    for output in asyncio.run(_in_batches(processor, records, list(batches) or [1])):
        if output.enriched is None:
            out.dead_letters += output.dead_letter is not None
            continue
        out.events.append(_decoded(codec, output.enriched[1], ENRICHED))
        out.merges.extend(_decoded(codec, value, MERGE) for _, value in output.merges)
        out.splits.extend(_decoded(codec, value, SPLIT) for _, value in output.splits)
    return out


def _event_time(codec: Codec, value: bytes) -> tuple[int, str]:
    envelope = codec.decode(value)[1]["envelope"]
    return int(envelope["occurred_at"]), str(envelope["event_id"])


async def _in_batches(processor: Processor, records: list[bytes], sizes: list[int]) -> list[Output]:
    out: list[Output] = []
    taken = 0
    while len(out) < len(records):
        batch = records[len(out) : len(out) + sizes[min(taken, len(sizes) - 1)]]
        out.extend(await processor.handle_batch([(value, None, None, None) for value in batch]))
        taken += 1
    return out


def _decoded(codec: Codec, value: bytes, name: str) -> Event:
    found, datum = codec.decode(value)
    if found != name:
        raise ValueError(f"expected a {name} record, the worker made a {found}")
    return datum


def expected(stored: Stored, query: str, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """The rows ``query`` must give over ``stored``, with its resolved parameters."""
    return QUERIES[query](stored.canonical(), dict(params))


def card_touches(stored: Stored, account: str, client: str) -> list[tuple[Any, ...]]:
    """The reference client card of ``client`` (any identifier) as the live card shows its
    touches: (time in ms, channel, contact or not, multichannel)."""
    params = parameters.resolve(
        clickhouse.query_sql("client_card"), {"account": account, "client": client}
    )
    return [(r[1], r[4], r[3] == "contact", r[6]) for r in expected(stored, "client_card", params)]
