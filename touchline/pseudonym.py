"""Optional pseudonymisation (``TOUCHLINE_CLICKHOUSE_PSEUDONYMISE``): ClickHouse stores email and
phone as keyed hashes (``h:`` + HMAC-SHA256 under ``TOUCHLINE_PRIVACY_KEY``) instead of the clear
values, in their columns and wherever the event's payload or attributes repeat them; a report
looked up by a clear email or phone hashes it the same way, so the client is still found.
Web client ids and source-system ids (``external_ids``) are stored as they are. Pure."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

import orjson

from touchline.normalize import normalize_email, normalize_phone

PREFIX = "h:"


def pseudonym(key: str, kind: str, value: str) -> str:
    """The stored form of a normalised email or phone (the same in every account, so a lookup
    needs no account)."""
    digest = hmac.new(key.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return PREFIX + digest[:32]


def lookup_value(value: str | None, key: str, region: str) -> str | None:
    """What a report's ``--client`` value is stored as: an email or phone becomes its pseudonym;
    a client id or web client id stays as it is."""
    if not value:
        return value
    email = normalize_email(value) if "@" in value else None
    if email:
        return pseudonym(key, "email", email)
    phone = normalize_phone(value, region)
    return pseudonym(key, "phone", phone) if phone else value


class RowPseudonymiser:
    """Rewrites a row of ``events`` (``sinks.rows.COLUMNS`` order) in place."""

    def __init__(self, columns: Sequence[str], key: str, region: str) -> None:
        self.key, self.region = key, region
        self.email, self.phone = columns.index("email"), columns.index("phone")
        self.payload, self.attributes = columns.index("payload_json"), columns.index("attributes")

    def __call__(self, row: list[Any]) -> list[Any]:
        clear = {}
        for kind, i in (("email", self.email), ("phone", self.phone)):
            if row[i]:
                clear[row[i]] = pseudonym(self.key, kind, row[i])
                row[i] = clear[row[i]]
        if clear:
            row[self.payload] = self._payload(row[self.payload], clear)
            row[self.attributes] = {
                k: self._value(v, clear) for k, v in (row[self.attributes] or {}).items()
            }
        return row

    def identifier(self, identifier: str) -> str:
        """An identity split's ``kind:value`` as the events' column stores it: an email or phone
        as ``kind:<pseudonym>``, so the split still finds its events and keeps no clear value."""
        kind, _, value = identifier.partition(":")
        return (
            f"{kind}:{pseudonym(self.key, kind, value)}"
            if kind in ("email", "phone")
            else identifier
        )

    def _payload(self, text: str, clear: dict[str, str]) -> str:
        try:
            walked = self._walk(orjson.loads(text), clear)
        except orjson.JSONDecodeError:  # not JSON (or empty): the clear values replaced as text
            for value, stored in clear.items():
                text = text.replace(value, stored)
            return text
        return orjson.dumps(walked, option=orjson.OPT_SORT_KEYS).decode()

    def _value(self, value: str, clear: dict[str, str]) -> str:
        """The pseudonym when ``value`` is, normalised, one of the event's email or phone."""
        if value in clear:
            return clear[value]
        for form in (normalize_email(value), normalize_phone(value, self.region)):
            if form is not None and form in clear:
                return clear[form]
        return value

    def _walk(self, node: Any, clear: dict[str, str]) -> Any:
        if isinstance(node, dict):
            return {k: self._walk(v, clear) for k, v in node.items()}
        if isinstance(node, list):
            return [self._walk(v, clear) for v in node]
        if isinstance(node, str):
            return self._value(node, clear)
        return node
