"""``pipeline/lua/parts.lua`` over :class:`pipeline.memory_store.MemoryStore`'s dicts: the card's
counters per identifier set (revenue, contacts, first and last contact), so a split takes a
person's revenue and contacts with them. Field names and values as in Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pipeline.touches import TAG_LENGTH

if TYPE_CHECKING:
    from pipeline.memory_store import _Account

SEP = "\x1f"


def _at(value: str) -> int:
    return int(value.split(SEP, 1)[0])


def add_revenue(a: _Account, client: str, key: str, currency: str, amount: int) -> None:
    parts = a.parts.setdefault(client, {})
    field = f"r|{key}|{currency}"
    parts[field] = int(parts.get(field, 0)) + amount


def add_contact(a: _Account, client: str, key: str, at: int, ctx: dict[str, Any]) -> None:
    parts = a.parts.setdefault(client, {})
    parts[f"c|{key}"] = int(parts.get(f"c|{key}", 0)) + 1
    first = parts.get(f"f|{key}")
    if first is None or at < _at(first):
        parts[f"f|{key}"] = SEP.join((str(at), ctx.get("name") or "", ctx.get("phone") or ""))
    last = parts.get(f"l|{key}")
    if last is None or at >= _at(last):
        parts[f"l|{key}"] = f"{at}{SEP}{ctx.get('location') or ''}"


def _fold(into: dict[str, Any], field: str, value: Any) -> None:
    kind = field[0]
    if kind in "rc":
        into[field] = int(into.get(field, 0)) + int(value)
        return
    cur = into.get(field)
    if (
        cur is None
        or (kind == "f" and _at(value) < _at(cur))
        or (kind == "l" and _at(value) >= _at(cur))
    ):
        into[field] = value


def merge(a: _Account, client: str, other: str) -> None:
    """parts.lua's merge_parts."""
    into = a.parts.setdefault(client, {})
    for field, value in a.parts.pop(other, {}).items():
        _fold(into, field, value)


def _add_to_card(card: dict[str, Any], field: str, by: int) -> None:
    value = int(card.get(field, 0)) + by
    if value <= 0 and by < 0:
        card.pop(field, None)
    else:
        card[field] = value


def _contacts_from_parts(a: _Account, client: str) -> None:
    card, parts = a.card(client), a.parts.get(client, {})
    firsts = [v for f, v in parts.items() if f[0] == "f"]
    lasts = [v for f, v in parts.items() if f[0] == "l"]
    for f in ("fc_at", "name", "phone", "lc_at", "location"):
        card.pop(f, None)
    if firsts:
        at, name, phone = min(firsts, key=_at).split(SEP, 2)
        card.update(fc_at=int(at), name=name, phone=phone)
    if lasts:
        last = lasts[0]
        for v in lasts[1:]:
            if _at(v) > _at(last):
                last = v
        at, location = last.split(SEP, 1)
        card["lc_at"] = int(at)
        if location:
            card["location"] = location


def move(a: _Account, source: str, to: str, match: Callable[[str], bool]) -> None:
    """parts.lua's move_parts: the parts of ``source`` whose key matches go to ``to``, with
    their counters."""
    parts, moved = a.parts.get(source, {}), False
    for field in [f for f in parts if match(f[2:].split("|", 1)[0])]:
        moved, value = True, parts.pop(field)
        _fold(a.parts.setdefault(to, {}), field, value)
        if field[0] == "r":
            name = "revenue:" + field.rsplit("|", 1)[1]
            _add_to_card(a.card(source), name, -int(value))
            _add_to_card(a.card(to), name, int(value))
        elif field[0] == "c":
            _add_to_card(a.card(source), "contact_count", -int(value))
            _add_to_card(a.card(to), "contact_count", int(value))
    if moved:
        _contacts_from_parts(a, source)
        _contacts_from_parts(a, to)


def has_tag(key: str, tags: set[str]) -> bool:
    """parts.lua's key_has_tag: the tags of a part's key (or of a hit) include one of ``tags``."""
    key = key.split("@", 1)[0]
    return any(key[j : j + TAG_LENGTH] in tags for j in range(0, len(key), TAG_LENGTH))
