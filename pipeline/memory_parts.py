"""``pipeline/lua/parts.lua`` over :class:`pipeline.memory_store.MemoryStore`'s dicts: the card's
counters per identifier set (revenue, contacts, first and last contact), so a split takes a
person's revenue and contacts with them. Field names and values as in Redis (the contact parts
of the layout before, ``c|``, ``f|`` and ``l|``, are still folded and moved)."""

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
    when, name, phone, location = str(at), ctx.get("name"), ctx.get("phone"), ctx.get("location")
    value = SEP.join(("1", when, name or "", phone or "", when, location or ""))
    _fold(a.parts.setdefault(client, {}), f"k|{key}", value)


def _fold_contact(into: dict[str, Any], field: str, value: str) -> None:
    """parts.lua's fold_contact: counts add up, the earliest first and latest last contact win."""
    cur = into.get(field)
    if cur is None:
        into[field] = value
        return
    n, fa, name, phone, la, loc = cur.split(SEP, 5)
    n2, fa2, name2, phone2, la2, loc2 = value.split(SEP, 5)
    if int(fa2) < int(fa):
        fa, name, phone = fa2, name2, phone2
    if int(la2) >= int(la):
        la, loc = la2, loc2
    into[field] = SEP.join((str(int(n) + int(n2)), fa, name, phone, la, loc))


def _fold(into: dict[str, Any], field: str, value: Any) -> None:
    kind = field[0]
    if kind in "rc":
        into[field] = int(into.get(field, 0)) + int(value)
        return
    if kind == "k":
        _fold_contact(into, field, value)
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
    for f, v in parts.items():
        if f[0] == "k":
            _, fa, name, phone, la, loc = v.split(SEP, 5)
            firsts.append(SEP.join((fa, name, phone)))
            lasts.append(f"{la}{SEP}{loc}")
    for f in ("fc_at", "name", "phone", "lc_at", "location"):
        card.pop(f, None)
    if firsts:
        at, name, phone = min(firsts, key=_at).split(SEP, 2)
        card.update(fc_at=int(at), name=name, phone=phone)
    if lasts:
        at, location = max(lasts, key=_at).split(SEP, 1)  # the first of the latest, as parts.lua
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
        elif field[0] in "ck":
            count = int(str(value).split(SEP, 1)[0])
            _add_to_card(a.card(source), "contact_count", -count)
            _add_to_card(a.card(to), "contact_count", count)
    if moved:
        _contacts_from_parts(a, source)
        _contacts_from_parts(a, to)


def has_tag(key: str, tags: set[str]) -> bool:
    """parts.lua's key_has_tag: the tags of a part's key (or of a hit) include one of ``tags``."""
    key = key.split("@", 1)[0]
    return any(key[j : j + TAG_LENGTH] in tags for j in range(0, len(key), TAG_LENGTH))
