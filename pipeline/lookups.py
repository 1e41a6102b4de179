"""The lookups of the shared-identifier split (pipeline/lua/split.lua keeps them in Redis,
pipeline/memory_splits.py in memory): an event that carried one usable identifier ``k`` alone is
recorded under ``lookedupvia:<k>``, so it can go to a client of its own if ``k`` proves shared.

One hash field per event: the event id -> ``"<client> <at>"``, where client is the client the event
is stored with and at its event time (ms), then `` s`` when its own client is the one it made
through ``k`` (``split_client_id(account, "event:<id>")``), nothing when it is the client it makes
when it resolves to no one (``new_client_id``), or `` <own>`` for any other. The field is a
canonical UUID's 16 bytes after a zero byte (:func:`field`), any other id as it is. So an entry
costs ~55 bytes, where the layout before kept a JSON array ``[event_id, client, own, at]`` as the
field (~105 bytes); such fields (they start with ``[``) are still read.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import orjson

from pipeline.client_ids import new_client_id, split_client_id


class Lookup(NamedTuple):
    event_id: str
    client: str  # the client the event is stored with
    own: str  # the client it gets when its identifier is shared
    at: str  # its event time, UTC ms


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


def value(account: str, lookup: Lookup) -> str:
    """The hash value kept for ``lookup`` (its field is the event id)."""
    text = f"{lookup.client} {lookup.at}"
    if lookup.own == new_client_id(account, lookup.event_id):
        return text
    if lookup.own == split_client_id(account, f"event:{lookup.event_id}"):
        return text + " s"
    return f"{text} {lookup.own}"


def read(account: str, name: str, text: str) -> Lookup:
    """The lookup kept as ``name`` (its event id, :func:`event_id_of` the field) -> ``text``, or
    in the layout before as a JSON array named so."""
    if name.startswith("["):
        event_id, client, own, at = orjson.loads(name)
        return Lookup(event_id, client, own, at)
    client, at, *rest = text.split(" ")
    own = rest[0] if rest else ""
    if own == "":
        own = new_client_id(account, name)
    elif own == "s":
        own = split_client_id(account, f"event:{name}")
    return Lookup(name, client, own, at)
