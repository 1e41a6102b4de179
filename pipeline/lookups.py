"""The lookups of the shared-identifier split (pipeline/lua/split.lua keeps them in Redis,
pipeline/memory_splits.py in memory): an event that carried one usable identifier ``k`` alone is
recorded under ``lookedupvia:<k>``, so it can go to a client of its own if ``k`` proves shared.

One hash field per event: the event id -> its client (the client it is stored with), its event
time (ms) and its own client: nothing when that is the client it makes when it resolves to no one
(``new_client_id``), ``s`` when it is the client it made through ``k``
(``split_client_id(account, "event:<id>")``), else the own client's id. The field is a canonical
UUID's 16 bytes after a zero byte (:func:`field`), any other id as it is. The value packs a
client id Touchline makes (``c``/``s`` + 19 hex digits) as its letter and 10 bytes and the time as
6 bytes, after a zero byte (:func:`value`): ~38 bytes an entry, where the text value before
(``"<client> <at>[ s| <own>]"``, still read) took ~55 and the JSON array field before that ~105.
The hash's field :data:`DEFAULT` names the client of its first entry, and an entry stored with
that client leaves it out (a byte 1, the time, the tail): ~27 bytes (pipeline/lua/lookups.lua).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

import orjson

from pipeline import client_ids
from pipeline.client_ids import new_client_id, split_client_id


class Lookup(NamedTuple):
    event_id: str
    client: str  # the client the event is stored with
    own: str  # the client it gets when its identifier is shared
    at: str  # its event time, UTC ms


@lru_cache(maxsize=8192)  # resolve and record both send it, one batch apart at most
def field(event_id: str) -> bytes:
    """The hash field of an event's lookup: ``\\x00`` + the 16 bytes of a canonical (lowercase)
    UUID, else the id's own bytes (pipeline/lua/split.lua's lookup_field)."""
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return event_id.encode()
    return b"\x00" + parsed.bytes if str(parsed) == event_id else event_id.encode()


def event_id_of(raw: bytes) -> str:
    """The event id (or, in the layout before, the JSON array) a lookup's hash field holds."""
    if len(raw) == 17 and raw[0] == 0:
        return str(uuid.UUID(bytes=raw[1:]))
    return raw.decode()


_TIME_BYTES = 6  # ms up to 2**48: the year 10889
DEFAULT = b"\x01"  # the field naming the client the entries without one are stored with


def value(account: str, lookup: Lookup, default: str | None = None) -> bytes:
    """The hash value kept for ``lookup`` (its field is the event id) in a hash whose default
    client is ``default``."""
    tail = ""
    if lookup.own == split_client_id(account, f"event:{lookup.event_id}"):
        tail = "s"
    elif lookup.own != new_client_id(account, lookup.event_id):
        tail = lookup.own
    return packed(lookup.client, lookup.at, tail, default)


def packed(client: str, at: str, tail: str, default: str | None = None) -> bytes:
    """A value of client, time and own (``tail``): without the client when it is the hash's
    ``default``, packed when it is one Touchline makes, when the time is a whole number of ms
    (pipeline/lua/lookups.lua's lookup_text); else as text."""
    ms = int(at) if at.isascii() and at.isdigit() else -1
    if str(ms) == at and ms < 1 << (8 * _TIME_BYTES):
        time = ms.to_bytes(_TIME_BYTES, "big")
        if client == default:
            return DEFAULT + time + tail.encode()
        if client_ids.is_made(client):
            client_bytes = client[:1].encode() + bytes.fromhex(client[1:] + "0")
            return b"\x00" + client_bytes + time + tail.encode()
    return " ".join(part for part in (client, at, tail) if part).encode()


def parts(raw: bytes, default: str | None = None) -> tuple[str, str, str]:
    """(client, time, tail) of a value :func:`packed` made (``default``: the hash's default
    client), or of the text value before."""
    if len(raw) >= 1 + _TIME_BYTES and raw[0] == 1:
        at = str(int.from_bytes(raw[1 : 1 + _TIME_BYTES], "big"))
        return default or "", at, raw[1 + _TIME_BYTES :].decode()
    if len(raw) >= 12 + _TIME_BYTES and raw[0] == 0:
        client = raw[1:2].decode() + raw[2:12].hex()[: client_ids.ID_HEX]
        at = str(int.from_bytes(raw[12 : 12 + _TIME_BYTES], "big"))
        return client, at, raw[12 + _TIME_BYTES :].decode()
    client, at, *rest = raw.decode().split(" ")
    return client, at, rest[0] if rest else ""


def read(account: str, name: str, raw: bytes, default: str | None = None) -> Lookup:
    """The lookup kept as ``name`` (its event id, :func:`event_id_of` the field) -> ``raw`` in a
    hash whose default client is ``default``, or in the layout before as a JSON array named so."""
    if name.startswith("["):
        event_id, client, own, at = orjson.loads(name)
        return Lookup(event_id, client, own, at)
    client, at, own = parts(raw, default)
    if own == "":
        own = new_client_id(account, name)
    elif own == "s":
        own = split_client_id(account, f"event:{name}")
    return Lookup(name, client, own, at)


def entries(account: str, fields: Mapping[bytes, bytes]) -> list[tuple[bytes, Lookup]]:
    """Every lookup of one ``lookedupvia:`` hash (field -> value, as Redis gives it) with its
    field, the :data:`DEFAULT` field read, not listed."""
    raw_default = fields.get(DEFAULT)
    default = raw_default.decode() if raw_default is not None else None
    return [
        (f, read(account, event_id_of(f), text, default))
        for f, text in fields.items()
        if f != DEFAULT
    ]
