"""The client ids Touchline makes, deterministic so a replay of the topics makes the same ones:
an event that resolves to no one makes ``c`` + a hash of its account and id; a split-off client is
``s`` + a hash of the account and what it was split through (pipeline/lua/split.lua makes the same
ids in Redis)."""

from __future__ import annotations

import hashlib
import re

ID_HEX = 19  # hex digits after the letter
_MADE = re.compile(rf"[cs][0-9a-f]{{{ID_HEX}}}")


def new_client_id(account: str, event_id: str) -> str:
    """The client an event makes when none of its identifiers has one."""
    return "c" + hashlib.sha1(f"{account}|{event_id}".encode()).hexdigest()[:ID_HEX]


def split_client_id(account: str, identifier: str) -> str:
    """The client split off through ``identifier`` (``event:<event_id>`` for a lookup's own)."""
    return "s" + hashlib.sha1(f"{account}|{identifier}".encode()).hexdigest()[:ID_HEX]


def own_client_id(account: str, event_id: str) -> str:
    """The client of an event whose identifiers, two or more, all proved shared: its own, however
    it arrived (the reports' ``split_events`` gives it the same, sinks/sql/ddl/022)."""
    return split_client_id(account, f"event:{event_id.lower()}")


def is_made(client_id: str) -> bool:
    """Whether ``client_id`` has the shape of an id made here (a letter and ``ID_HEX`` hex)."""
    return _MADE.fullmatch(client_id) is not None
