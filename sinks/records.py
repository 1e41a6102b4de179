"""The sink's Kafka records as ClickHouse rows: each record decoded once and sorted into event,
merge and split rows, or a dead letter with the reason (undecodable, unexpected schema, does not
convert). Records of erased people are dropped (``Suppression``); with pseudonymisation on, email
and phone (and split identifiers) are stored as keyed hashes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Message

from sinks import rows
from touchline.codec import Codec, DecodeError
from touchline.contracts import ENRICHED, MERGE, SPLIT
from touchline.suppression import Suppression, stored_identifiers

Item = tuple[Message, list[Any]]  # the Kafka message and the row made of it


@dataclass
class Converted:
    events: list[Item] = field(default_factory=list)
    merges: list[Item] = field(default_factory=list)
    splits: list[Item] = field(default_factory=list)
    dead: list[tuple[Message, str]] = field(default_factory=list)


@dataclass
class Converter:
    codec: Codec
    suppression: Suppression | None = None  # erased people: their records are dropped, counted
    pseudonymise: Callable[[list[Any]], list[Any]] | None = None  # touchline.pseudonym

    def convert(self, msgs: list[Message]) -> Converted:
        out = Converted()
        for msg in msgs:
            try:
                name, datum = self.codec.decode(msg.value() or b"")
                if self._suppressed(name, datum):
                    continue
                if name == ENRICHED:
                    row = rows.to_row(datum)
                    out.events.append((msg, self.pseudonymise(row) if self.pseudonymise else row))
                elif name == MERGE:
                    out.merges.append((msg, rows.merge_to_row(datum)))
                elif name == SPLIT:
                    hashed = getattr(self.pseudonymise, "identifier", None)
                    out.splits.append((msg, rows.split_to_row(datum, hashed)))
                else:
                    out.dead.append((msg, f"unexpected schema {name} on {msg.topic()}"))
            except DecodeError as exc:
                out.dead.append((msg, f"undecodable: {exc}"))
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                out.dead.append((msg, f"does not convert to a ClickHouse row: {exc!r}"))
        return out

    def _suppressed(self, name: str, datum: dict[str, Any]) -> bool:
        if self.suppression is None or name not in (ENRICHED, MERGE, SPLIT):
            return False
        return self.suppression.drops(*stored_identifiers(datum), "sink")
