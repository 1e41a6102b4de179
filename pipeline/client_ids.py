"""The client ids Touchline makes, deterministic so a replay of the topics makes the same ones:
an event that resolves to no one makes ``c`` + a hash of its account and id; a split-off client is
``s`` + a hash of the account and what it was split through (pipeline/lua/split.lua makes the same
ids in Redis)."""

from __future__ import annotations

import hashlib


def new_client_id(account: str, event_id: str) -> str:
    """The client an event makes when none of its identifiers has one."""
    return "c" + hashlib.sha1(f"{account}|{event_id}".encode()).hexdigest()[:19]


def split_client_id(account: str, identifier: str) -> str:
    """The client split off through ``identifier`` (``event:<event_id>`` for a lookup's own)."""
    return "s" + hashlib.sha1(f"{account}|{identifier}".encode()).hexdigest()[:19]
