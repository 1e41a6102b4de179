"""The client store in memory, for unit tests of the processor's steps without Redis.

It follows ``pipeline/lua/resolve.lua`` and ``record.lua`` (the production store is
:class:`pipeline.store.ClientStore`, which runs them in Redis) and answers through the same
:class:`pipeline.store.Store` interface. ``tests/integration/test_memory_store.py`` runs the same
events through both and requires equal outputs, so the two cannot drift apart unnoticed. Not for
production: nothing expires and nothing is shared between processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from pipeline import dedupe, memory_parts, memory_splits
from pipeline.anchors import strong_kind
from pipeline.client_ids import own_client_id
from pipeline.record_context import session_id_of
from pipeline.store import Resolution, ResolveRequest, decode_result
from touchline.settings import default


def _copy(sessions: dict[str, Any]) -> dict[str, Any]:
    """A stored copy, as Redis keeps JSON text: later changes to the caller's dict do not leak."""
    copied: dict[str, Any] = orjson.loads(orjson.dumps(sessions))
    return copied


def _union(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    """common.lua's union_sessions: every session of a, then those of b that a lacks."""
    if not b:
        return a
    if not a:
        return b
    have = {session_id_of(s) for s in a.get("sessions") or []}
    extra = [s for s in b.get("sessions") or [] if session_id_of(s) not in have]
    return {**a, "sessions": [*(a.get("sessions") or []), *extra]}


@dataclass
class _Account:
    """One account's keys (``<prefix>:{<account>}:...`` in Redis, :mod:`pipeline.keys`)."""

    seen: dict[str, str] = field(default_factory=dict)  # applied event id -> short fingerprint
    inflight: dict[str, str] = field(default_factory=dict)  # event id -> result until forgotten
    lettered: dict[str, str] = field(default_factory=dict)  # event id -> its letter's reason
    ids: dict[str, str] = field(default_factory=dict)  # identifier -> client
    anchors: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> strong id -> kind
    shared: set[str] = field(default_factory=set)
    merged: dict[str, str] = field(default_factory=dict)  # merged client -> its canonical
    cards: dict[str, dict[str, Any]] = field(default_factory=dict)
    zsets: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # (kind, client)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, list[str]] = field(default_factory=dict)  # event id -> merged clients
    links: dict[str, dict[str, int]] = field(default_factory=dict)  # split.lua: client -> sets
    lookedupvia: dict[str, dict[str, bytes]] = field(default_factory=dict)  # pipeline/lookups.py
    lookup_marks: dict[str, tuple[str, str]] = field(default_factory=dict)  # event id -> k, own
    splits: dict[str, list[str]] = field(default_factory=dict)  # event id -> splits (JSON)
    split_clock: int = 0  # split.lua's splitclock: when the account's last splits were made
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)  # parts.lua: client -> parts

    def canonical(self, client: str) -> str:
        for _ in range(64):
            if client not in self.merged:
                return client
            client = self.merged[client]
        return client

    def card(self, client: str) -> dict[str, Any]:
        return self.cards.setdefault(client, {})

    def zset(self, kind: str, client: str) -> dict[str, int]:
        return self.zsets.setdefault((kind, client), {})


def _trim(zset: dict[str, int], lookback_ms: int, cap: int) -> None:
    """Drop members older than the newest minus ``lookback_ms``, then keep the ``cap`` newest."""
    newest = max(zset.values())
    for member in [m for m, at in zset.items() if at < newest - lookback_ms]:
        del zset[member]
    ranked = sorted(zset.items(), key=lambda kv: (kv[1], kv[0]))
    for member, _ in ranked[: max(0, len(ranked) - cap)]:
        del zset[member]


class MemoryStore:
    """resolve.lua and record.lua over Python dicts; ``max_share`` as in ClientStore."""

    def __init__(
        self, max_share: int, provenance_cap: int = default("identity_provenance_cap")
    ) -> None:
        self.max_share = max_share
        self.provenance_cap = provenance_cap
        self.accounts: dict[str, _Account] = {}

    async def resolve_many(self, requests: list[ResolveRequest]) -> list[Resolution | Exception]:
        out: list[Resolution | Exception] = []
        for r in requests:
            try:
                out.append(self._resolve(self.accounts.setdefault(r.account, _Account()), r))
            except Exception as exc:  # one event's failure stays in its slot, as in Lua
                out.append(exc)
        return out

    async def record_many(
        self, requests: list[tuple[str, str, str, dict[str, Any]]]
    ) -> list[dict[str, Any] | Exception]:
        out: list[dict[str, Any] | Exception] = []
        for account, event_id, client, ctx in requests:
            try:
                a = self.accounts.setdefault(account, _Account())
                out.append(decode_result(self._record(a, (account, event_id), client, ctx)))
            except Exception as exc:
                out.append(exc)
        return out

    async def forget(self, applied: list[tuple[str, str]]) -> None:
        for account, event_id in applied:
            self.accounts.get(account, _Account()).inflight.pop(event_id, None)

    async def letter(self, lettered: list[tuple[str, str, str]]) -> None:
        for account, event_id, reason in lettered:
            self.accounts.setdefault(account, _Account()).lettered[event_id] = reason

    async def unletter(self, applied: list[tuple[str, str]]) -> None:
        for account, event_id in applied:
            self.accounts.get(account, _Account()).lettered.pop(event_id, None)

    def _usable(
        self, a: _Account, ids: list[str], account: str, event_id: str
    ) -> tuple[list[str], int]:
        """Step 1 of resolve.lua: identifiers not shared by more than max_share strong ones."""
        usable, shared = [], 0
        for i, k in enumerate(ids):
            was_shared = too_many = k in a.shared
            anchors = a.anchors.setdefault(k, {})
            for j, other in enumerate(ids):
                kind = strong_kind(other)
                if too_many or j == i or not kind or kind == strong_kind(k) or other in anchors:
                    continue
                anchors[other] = kind
                if sum(1 for seen in anchors.values() if seen == kind) > self.max_share:
                    too_many = True
                    a.shared.add(k)
            if too_many:
                shared += 1
            else:
                usable.append(k)
            if too_many and not was_shared:
                a.anchors.pop(k)  # a shared identifier needs no more anchors
                memory_splits.split_through(a, account, event_id, k)
        return usable, shared

    def _resolve(self, a: _Account, r: ResolveRequest) -> Resolution:
        if r.event_id in a.inflight:
            prior = decode_result(a.inflight[r.event_id])
            if r.event_id in a.lettered:
                prior["lettered"] = a.lettered[r.event_id]
            return Resolution(prior["client_id"], None, prior)
        if r.event_id in a.seen:
            return Resolution("", None, {"applied": a.seen[r.event_id]})
        usable, shared = self._usable(a, list(r.identifiers), r.account, r.event_id)
        owners: list[str] = []
        owned: dict[str, str] = {}
        for k in usable:
            if k in a.ids:
                owner = a.canonical(a.ids[k])
                owned[k] = owner
                if owner not in owners:
                    owners.append(owner)

        def created(c: str) -> int:
            return int(a.card(c).get("created_at") or 0)

        if not owners:
            client = r.new_client
            if not usable and shared >= 2:  # every identifier shared: the event's own client
                client = own_client_id(r.account, r.event_id)
            a.card(client).setdefault("created_at", r.occurred_at)
        else:
            client = owners[0]
            for o in owners[1:]:
                if created(o) < created(client) or (created(o) == created(client) and o < client):
                    client = o
        merges = [o for o in owners if o != client]
        for o in merges:
            self._merge(a, client, o)
        if merges:
            a.pending[r.event_id] = merges
        for k in usable:
            if k not in owned:
                a.ids[k] = client
        memory_splits.record_provenance(
            a,
            usable,
            owned,
            client,
            merges,
            r.occurred_at,
            self.provenance_cap,
            (r.account, r.event_id, r.new_client),
        )
        session = a.sessions.get(client)
        session = _copy(session) if session else None
        return Resolution(client, session, None, shared, tuple(merges), a.split_clock)

    def _merge(self, a: _Account, client: str, o: str) -> None:
        """Step 3 of resolve.lua: client ``o`` merged into ``client``."""
        card, other = a.card(client), a.cards.pop(o, {})

        def min_field(f: str, extra: tuple[str, ...]) -> None:
            if f in other and (f not in card or int(other[f]) < int(card[f])):
                card[f] = other[f]
                for e in extra:
                    if e in other:
                        card[e] = other[e]
                    else:
                        card.pop(e, None)

        min_field("created_at", ())
        min_field("fc_at", ("name", "phone"))
        if "lc_at" in other and ("lc_at" not in card or int(other["lc_at"]) > int(card["lc_at"])):
            card["lc_at"] = other["lc_at"]
            if "location" in other:
                card["location"] = other["location"]
        for f, v in other.items():
            if f in ("touch_count", "contact_count") or f.startswith("revenue:"):
                card[f] = int(card.get(f, 0)) + int(v)
        mine = a.zset("hits", client)
        for member, at in a.zsets.pop(("hits", o), {}).items():
            mine[member] = min(at, mine.get(member, at))
        memory_splits.merge_links(a, client, o, self.provenance_cap)
        memory_parts.merge(a, client, o)
        carried = _union(a.sessions.get(client), a.sessions.pop(o, None))
        if carried:
            a.sessions[client] = carried
        a.merged[o] = client

    def _record(
        self, a: _Account, event: tuple[str, str], item_client: str, ctx: dict[str, Any]
    ) -> str:
        event_id = event[1]
        if event_id in a.inflight:
            return a.inflight[event_id]
        if event_id in a.seen:
            return orjson.dumps({"applied": a.seen[event_id]}).decode()
        client, looked_up = memory_splits.lookup_client(
            a, event_id, item_client, a.canonical(item_client)
        )
        client = memory_splits.split_since(a, ctx, client, event, looked_up)
        part = ctx.get("part") or ""
        if looked_up and "@" not in part:  # one with weak identifiers alone has its own already
            part += f"@{event_id}"
        at = ctx["occurred_at"]
        card = a.card(client)
        touch_seq = int(card.get("touch_count", 0))
        if ctx["is_touch"]:
            touch_seq = card["touch_count"] = touch_seq + 1
        if ctx.get("hit"):
            hits = a.zset("hits", client)
            hits[ctx["hit"]] = at
            _trim(hits, ctx["lookback_ms"], ctx["hit_cap"])
        contact_seq = 0
        if ctx["is_contact"]:
            contact_seq = self._contact(a, client, ctx)
            memory_parts.add_contact(a, client, part, at, ctx)
        currency = ctx.get("currency") or ""
        if ctx["revenue_minor"] != 0 and currency:
            key = f"revenue:{currency}"
            card[key] = int(card.get(key, 0)) + ctx["revenue_minor"]
            memory_parts.add_revenue(a, client, part, currency, ctx["revenue_minor"])
        if ctx.get("session"):
            mine = _copy(ctx["session"])
            if client != item_client:  # merged since it was resolved: keep the canonical's too
                mine = _union(mine, a.sessions.get(client)) or mine
            a.sessions[client] = mine
        result = {
            "client_id": client,
            "touch_seq": touch_seq,
            "contact_seq": contact_seq,
            "merged_from": a.pending.pop(event_id, []),
            "splits": a.splits.pop(event_id, []),
            "enrichment": orjson.dumps(ctx["enrichment"]).decode(),
        }
        encoded = orjson.dumps(result).decode()
        a.seen[event_id] = dedupe.short_fingerprint(
            (ctx.get("enrichment") or {}).get("fingerprint", "")
        )
        a.inflight[event_id] = encoded
        return encoded

    def _contact(self, a: _Account, client: str, ctx: dict[str, Any]) -> int:
        """record.lua's contact part: the contact's number on the card."""
        card = a.card(client)
        contact_seq = card["contact_count"] = int(card.get("contact_count", 0)) + 1
        at = ctx["occurred_at"]
        if "fc_at" not in card or at < int(card["fc_at"]):
            card.update(fc_at=at, name=ctx.get("name") or "", phone=ctx.get("phone") or "")
        if "lc_at" not in card or at >= int(card["lc_at"]):
            card["lc_at"] = at
            if ctx.get("location"):
                card["location"] = ctx["location"]
        return contact_seq
