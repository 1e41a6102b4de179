"""Split scenarios (issue 10, item 4) run against any client store: the Lua scripts in real
Redis (tests/integration/test_lua_splits.py) and their mirror (tests/unit/test_memory_splits.py).

Three studio profiles share the phone "030 5550100" (max_share 2), each with its own email."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

from pipeline.client_ids import new_client_id
from pipeline.keys import account_base
from pipeline.memory_parts import SEP
from pipeline.memory_store import MemoryStore
from pipeline.store import ClientStore, Resolution, ResolveRequest, Store
from pipeline.touches import WEB, Hit, hit_tags, part_key
from touchline.codec import Codec
from touchline.contracts import load
from touchline.settings import REPO_ROOT
from touchline.validation import coerce

PHONE = "phone:+49305550100"
E1, E2, E3 = "email:one@x.de", "email:two@x.de", "email:three@x.de"
ACCOUNT = "acc"
CONTRACTS = load(REPO_ROOT / "schemas")
CODEC = Codec(CONTRACTS)
T0 = 1_790_000_000_000
MIN = 60_000
RAW_PHONE = "030 5550100"


def split_client(first: str, via: str = PHONE) -> str:
    """The client a component moves to when ``via`` proves shared: ``first`` is its first
    identifier."""
    return "s" + hashlib.sha1(f"{ACCOUNT}|{via}|{first}".encode()).hexdigest()[:19]


def own_client(event: str) -> str:
    """The client of an event that made its client through an identifier alone, once that
    identifier proves shared."""
    return "s" + hashlib.sha1(f"{ACCOUNT}|event:{event}".encode()).hexdigest()[:19]


def made(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The splits of a stored result without the time each was made at (a clock reading, UTC ms,
    one for all the splits of one identifier)."""
    at = {split["at"] for split in result["splits"]}
    assert len(at) <= 1 and all(isinstance(t, int) and t > T0 for t in at), at
    return [{k: v for k, v in split.items() if k != "at"} for split in result["splits"]]


def release(client: str, identifier: str = PHONE) -> dict[str, Any]:
    """The split saying that the shared ``identifier`` (last owned by ``client``) names no one."""
    via = identifier.split(":", 1)[0]
    return {"kind": "release", "to_client_id": "", "from_client_id": client,
            "identifiers": [identifier], "via": via}  # fmt: skip


def new_client(event: str) -> str:
    """The client an event makes when it resolves to no one (as the worker makes it, so the
    stores keep it in their packed form: pipeline/lookups.py)."""
    return new_client_id(ACCOUNT, event)


def resolve(loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, *ids: str) -> Any:
    request = ResolveRequest(ACCOUNT, event, new_client(event), at, list(ids))
    res = loop.run_until_complete(store.resolve_many([request]))[0]
    assert isinstance(res, Resolution), res
    return res


def record(
    loop: asyncio.AbstractEventLoop, store: Store, event: str, client: str, at: int, **more: Any
) -> Any:
    ctx = {
        "occurred_at": at,
        "lookback_ms": 30 * 86_400_000,
        "touch_cap": 10,
        "hit_cap": 10,
        "min_channels": 2,
        "is_touch": True,
        "is_contact": False,
        "channel": "organic_search",
        "revenue_minor": 0,
        "enrichment": {"processed_at": 1},
        **more,
    }
    out = loop.run_until_complete(store.record_many([(ACCOUNT, event, client, ctx)]))[0]
    assert isinstance(out, dict), out
    return out


def run(loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, *ids: str) -> Any:
    """Resolve and record one event; its stored result."""
    return record(loop, store, event, resolve(loop, store, event, at, *ids).client_id, at)


def owner(loop: asyncio.AbstractEventLoop, store: Store, identifier: str) -> str | None:
    """The canonical client that owns ``identifier`` now."""
    if isinstance(store, MemoryStore):
        a = store.accounts[ACCOUNT]
        return a.canonical(a.ids[identifier]) if identifier in a.ids else None
    assert isinstance(store, ClientStore)
    found = loop.run_until_complete(store.lookup(ACCOUNT, identifier))
    if found is None:
        return None
    return str(loop.run_until_complete(store.card(ACCOUNT, found))["client_id"])


def hit_events(loop: asyncio.AbstractEventLoop, store: Store, client: str) -> list[str]:
    """The event ids of the hits ``client``'s card keeps, in event time."""
    if isinstance(store, MemoryStore):
        zset = store.accounts[ACCOUNT].zset("hits", client)
        hits = [Hit.from_member(m, at) for m, at in zset.items()]
    else:
        assert isinstance(store, ClientStore)
        hits = loop.run_until_complete(store.card(ACCOUNT, client))["hits"]
    return [h.event_id for h in sorted(hits, key=lambda h: (h.at, h.event_id))]


def run_with_hit(
    loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, *ids: str, **ctx: Any
) -> Any:
    """:func:`run` with the event's web hit, tagged with its identifiers as the worker tags it
    (and ``ctx`` for the record step, with the key of its counters as the worker makes it)."""
    client = resolve(loop, store, event, at, *ids).client_id
    hit = Hit(at, event, WEB, "organic_search", None, None, hit_tags(ids))
    part = part_key(list(ids), event)
    return record(loop, store, event, client, at, hit=hit.member(), part=part, **ctx)


def hits_follow_a_split(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """merge_split with hits: client b's two web visits (one with its email, one with its web
    client id alone; one event id a UUID, which Redis keeps in 16 bytes, one not) and the event
    that merged b into a through the phone (its email and the phone) move with b's identifiers
    when the phone proves shared, and so do a form with the phone and b's web client id (the
    shared phone names no one) and a CRM lead with the phone and b's CRM id; profile 1's own event
    stays."""
    names = ("p1", "b1", "p2", "f", "l")
    ev = {n: str(uuid.uuid5(uuid.NAMESPACE_URL, f"hits-{n}")) for n in names}
    a = run_with_hit(loop, store, ev["p1"], 1000, E1, PHONE)["client_id"]
    b = run_with_hit(loop, store, ev["b1"], 1500, "ext.crm:2", E2, "cid:2.2")["client_id"]
    run_with_hit(loop, store, "b2", 1600, "cid:2.2")
    assert run_with_hit(loop, store, ev["p2"], 2000, E2, PHONE)["merged_from"] == [b]
    run_with_hit(loop, store, ev["f"], 2100, PHONE, "cid:2.2")
    run_with_hit(loop, store, ev["l"], 2200, "ext.crm:2", PHONE)
    assert hit_events(loop, store, a) == [ev["p1"], ev["b1"], "b2", ev["p2"], ev["f"], ev["l"]]
    run_with_hit(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "s": split_client("cid:2.2"), "events": ev}


def a_lookup_after_its_identifier_was_claimed(
    loop: asyncio.AbstractEventLoop, store: Store
) -> dict[str, Any]:
    """b's web client id, merged into a through the phone, looks up a visit (the id alone); the
    phone proves shared and a claim moves b's email and client id, and the visit's hit, to b's
    split-off client s; then the client id proves shared too (a family tablet): the visit goes
    to a client of its own with its hit, which is with s."""
    a = run_with_hit(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    run_with_hit(loop, store, "b1", 1500, E2, "cid:2.2")
    run_with_hit(loop, store, "p2", 2000, E2, PHONE)
    run_with_hit(loop, store, "v", 2100, "cid:2.2")
    run_with_hit(loop, store, "p3", 3000, E3, PHONE)
    s = split_client("cid:2.2")
    assert hit_events(loop, store, s) == ["b1", "p2", "v"]
    run_with_hit(loop, store, "c4", 4000, "email:four@x.de", "cid:2.2")
    out = run_with_hit(loop, store, "c5", 4100, "email:five@x.de", "cid:2.2")
    lookups = [x for x in made(out) if x["kind"] == "lookup"]
    hits = {
        who: hit_events(loop, store, c) for who, c in (("a", a), ("s", s), ("v", new_client("v")))
    }
    return {
        "lookup": [(x["from_client_id"], x["to_client_id"], x["identifiers"]) for x in lookups],
        "hits": hits,
    }


# a_lookup_after_its_identifier_was_claimed's outcome: the lookup split names the client the visit
# is stored with (a, for the reports) and its own; the visit's hit went there from s
LOOKUP_AFTER_CLAIM = {
    "lookup": [(new_client("p1"), new_client("v"), ["event:v"])],
    "hits": {"a": ["p1"], "s": ["b1", "p2"], "v": ["v"]},
}


_F1 = str(uuid.uuid5(uuid.NAMESPACE_URL, "all-shared-f1"))


def forms_whose_identifiers_all_prove_shared(
    loop: asyncio.AbstractEventLoop, store: Store
) -> dict[str, Any]:
    """Two forms carry the desk phone and b's web client id (one event id a UUID, which Redis
    keeps in 16 bytes, one not); the phone proves shared and a claim moves b's identifiers, and
    the forms' hits, to b's split-off client s; then the client id proves shared too (a family
    tablet): nothing names whose the forms are, so each goes to a client of its own with its
    hit; a third form arriving after both proved shared gets its own client at once."""
    f1 = _F1
    a = run_with_hit(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    run_with_hit(loop, store, "b1", 1500, E2, "cid:2.2")
    run_with_hit(loop, store, "p2", 2000, E2, PHONE)
    run_with_hit(loop, store, f1, 2100, PHONE, "cid:2.2", is_contact=True, name="Desk")
    run_with_hit(loop, store, "f2", 2200, "cid:2.2", PHONE, revenue_minor=900, currency="EUR")
    run_with_hit(loop, store, "b2", 2300, E2, "cid:2.2", revenue_minor=5000, currency="EUR")
    # a fourth form resolved before both prove shared, recorded after (one batch, or another
    # worker's splits between its two steps)
    early = resolve(loop, store, "f4", 2400, PHONE, "cid:2.2")
    run_with_hit(loop, store, "p3", 3000, E3, PHONE)
    s = split_client("cid:2.2")
    assert hit_events(loop, store, s) == ["b1", "p2", f1, "f2", "b2"]
    assert loop.run_until_complete(card_of(store, s))["revenue:EUR"] == "5900"
    run_with_hit(loop, store, "c4", 4000, "email:four@x.de", "cid:2.2")
    # a form after the phone proved shared: looked up through the client id, resolved before it
    # proves shared too and recorded after: its lookup split names its client, not the rule above
    looked = resolve(loop, store, "l1", 4050, PHONE, "cid:2.2")
    run_with_hit(loop, store, "c5", 4100, "email:five@x.de", "cid:2.2")
    late = run_with_hit(loop, store, "f3", 4200, PHONE, "cid:2.2")["client_id"]
    f4 = _record_late(loop, store, "f4", 2400, early, revenue_minor=7, currency="EUR")
    l1 = _record_late(loop, store, "l1", 4050, looked)
    who = (
        ("a", a),
        ("s", s),
        *((f, own_client(f)) for f in (f1, "f2", "f4")),
        ("l1", new_client("l1")),
    )
    counted = ("revenue:EUR", "contact_count", "name")
    return {
        "hits": {w: hit_events(loop, store, c) for w, c in who},
        "counters": {
            w: {k: v for k, v in loop.run_until_complete(card_of(store, c)).items() if k in counted}
            for w, c in who
        },
        "late": late,
        "resolved early, recorded late": f4,
        "looked up, recorded late": l1,
    }


def _record_late(
    loop: asyncio.AbstractEventLoop, store: Store, event: str, at: int, res: Any, **ctx: Any
) -> str:
    """Record ``event`` (a form with the phone and b's client id) resolved as ``res`` before."""
    ids = [PHONE, "cid:2.2"]
    hit = Hit(at, event, WEB, "organic_search", None, None, hit_tags(ids)).member()
    more = {"ids": ids, "split_clock": res.split_clock, "part": part_key(ids, event), **ctx}
    return str(record(loop, store, event, res.client_id, at, hit=hit, **more)["client_id"])


# forms_whose_identifiers_all_prove_shared's outcome: each form on a client of its own
ALL_SHARED = {
    "hits": {
        "a": ["p1"],
        "s": ["b1", "p2", "b2"],
        _F1: [_F1],
        "f2": ["f2"],
        "f4": ["f4"],
        "l1": ["l1"],
    },
    "counters": {
        "a": {},
        "s": {"revenue:EUR": "5000"},
        _F1: {"contact_count": "1", "name": "Desk"},
        "f2": {"revenue:EUR": "900"},
        "f4": {"revenue:EUR": "7"},
        "l1": {},
    },
    "late": own_client("f3"),
    "resolved early, recorded late": own_client("f4"),
    "looked up, recorded late": new_client("l1"),
}


def resolved_then_split_in_one_batch(
    loop: asyncio.AbstractEventLoop, store: Store
) -> dict[str, Any]:
    """A visit with b's web client id is resolved (to a, which b was merged into), then the event
    that proves the phone shared, then the visit is recorded (one batch, or another worker's
    split between the two steps): the visit is stored, with its hit, where b's identifiers went."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    b = run(loop, store, "b1", 1500, E2, "cid:2.2")["client_id"]
    assert run(loop, store, "p2", 2000, E2, PHONE)["merged_from"] == [b]
    visit = resolve(loop, store, "v", 2500, "cid:2.2")
    assert visit.client_id == a
    third = resolve(loop, store, "p3", 3000, E3, PHONE)
    record(loop, store, "p3", third.client_id, 3000)
    hit = Hit(2500, "v", WEB, "organic_search", None, None, hit_tags(["cid:2.2"]))
    ids = {"ids": ["cid:2.2"], "split_clock": visit.split_clock}
    stored = record(loop, store, "v", visit.client_id, 2500, hit=hit.member(), **ids)
    return {"a": a, "stored": stored["client_id"]}


def counters_follow_a_split(
    loop: asyncio.AbstractEventLoop, store: Store, layout_before: bool = False
) -> dict[str, Any]:
    """merge_split with the card's counters: person 1 called twice (from the phone, with their
    email); b ordered for 50 EUR, wrote (with their email alone: looked up) and twice more (with
    their email and web client id), was merged into a through the phone, and a call came from
    the phone alone (looked up: a's); when the phone proves shared, b's revenue and contacts go
    to b's split-off client, the lone call to its own, and a keeps their own calls.
    ``layout_before``: the contact parts stored before the phone proves shared are rewritten as
    a worker of the layout before kept them (three fields each)."""

    def event(event_id: str, at: int, *ids: str, **ctx: Any) -> Any:
        client = resolve(loop, store, event_id, at, *ids).client_id
        return record(loop, store, event_id, client, at, part=hit_tags(ids), **ctx)

    call = {"is_contact": True, "is_touch": False}
    a = event("p1", 1000, E1, PHONE, **call, name="One", location="north")["client_id"]
    event("p1b", 1200, E1, PHONE, **call, name="Uno", location="east")
    b = event("b1", 1500, E2, "cid:2.2", revenue_minor=5000, currency="EUR")["client_id"]
    event("b2", 1600, E2, **call, name="Two", location="south")
    event("b3", 1700, E2, "cid:2.2", **call, name="Zwei", location="west")
    event("b4", 1800, E2, "cid:2.2", **call, name="Deux", location="south-west")
    assert event("p2", 2000, E2, PHONE)["merged_from"] == [b]
    assert event(DESK, 2500, PHONE, **call)["client_id"] == a
    if layout_before:
        loop.run_until_complete(contact_parts_as_before(store, a))
    event("p3", 3000, E3, PHONE)
    cards = {
        who: loop.run_until_complete(card_of(store, c))
        for who, c in (("a", a), ("s", split_client("cid:2.2")), ("desk", new_client(DESK)))
    }
    return cards


DESK = str(uuid.uuid5(uuid.NAMESPACE_URL, "counters-desk"))  # a call from the phone alone


async def contact_parts_as_before(store: Store, client: str) -> None:
    """``client``'s contact parts (``k|<key>``: count, first and last contact) as the layout
    before kept them: ``c|<key>`` (count), ``f|<key>`` (at, name, phone), ``l|<key>`` (at,
    location)."""
    if isinstance(store, MemoryStore):
        parts = store.accounts[ACCOUNT].parts.get(client, {})
    else:
        assert isinstance(store, ClientStore)
        key = account_base(store.prefix, ACCOUNT) + "parts:" + client
        raw = await store.redis.hgetall(key)
        parts = {f.decode(): v.decode() for f, v in raw.items()}
    old: dict[str, Any] = {}
    for field, value in list(parts.items()):
        if field.startswith("k|"):
            n, fa, name, phone, la, loc = value.split(SEP, 5)
            del parts[field]
            rest = field[1:]
            old |= {"c" + rest: n, "f" + rest: SEP.join((fa, name, phone))}
            old["l" + rest] = la + SEP + loc
    assert f"@{DESK}" in "".join(old), "no contact part of the desk call to rewrite"
    if isinstance(store, MemoryStore):
        parts.update({f: int(v) if f[0] == "c" else v for f, v in old.items()})
    else:
        await store.redis.delete(key)
        await store.redis.hset(key, mapping={**parts, **old})


# counters_follow_a_split's cards: a keeps their own calls; b's split-off client (s) their order
# and their contacts; the lone desk call a client of its own
COUNTER_CARDS = {
    "a": {
        "created_at": "1000",
        "contact_count": "2",
        "fc_at": "1000",
        "name": "One",
        "phone": "",
        "lc_at": "1200",
        "location": "east",
    },
    "s": {
        "created_at": "1500",
        "revenue:EUR": "5000",
        "contact_count": "3",
        "fc_at": "1600",
        "name": "Two",
        "phone": "",
        "lc_at": "1800",
        "location": "south-west",
    },
    "desk": {
        "created_at": "2500",
        "contact_count": "1",
        "fc_at": "2500",
        "name": "",
        "phone": "",
        "lc_at": "2500",
    },
}


async def card_of(store: Store, client: str) -> dict[str, str]:
    """The card's fields (as text) of ``client`` in either store."""
    if isinstance(store, MemoryStore):
        card = store.accounts[ACCOUNT].cards.get(client, {})
    else:
        assert isinstance(store, ClientStore)
        card = (await store.card(ACCOUNT, client))["card"]
    return {k: str(v) for k, v in card.items() if k != "touch_count"}


def claim_split(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """Profile 2 claims its email through the phone profile 1 owns; profile 3 proves the phone
    shared: profile 2's email moves to a client of its own."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    assert run(loop, store, "p2", 2000, E2, PHONE)["client_id"] == a  # claims E2 through PHONE
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "third": third}


def merge_split(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """Client b (E2 and a web client id) is merged into a through the phone; the phone proves
    shared: b's identifiers move to a client of their own."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    b = run(loop, store, "b1", 1500, E2, "cid:2.2")["client_id"]
    second = run(loop, store, "p2", 2000, E2, PHONE)
    assert second["client_id"] == a and second["merged_from"] == [b]
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "b": b, "third": third}


def call_first(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """A call from the phone alone makes the phone's first client; profile 1 claims its email
    through the phone, client b (E2 and a web client id) merges in through profile 2; profile 3
    proves the phone shared: the call goes to a client of its own, profile 1 keeps the call's
    client (the oldest link), and E2 with the client id moves to a client of its own."""
    call = run(loop, store, "call", 500, PHONE)["client_id"]
    assert run(loop, store, "p1", 1000, E1, PHONE)["client_id"] == call
    b = run(loop, store, "b1", 1500, E2, "cid:2.2")["client_id"]
    assert run(loop, store, "p2", 2000, E2, PHONE)["merged_from"] == [b]
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"call": call, "b": b, "third": third}


def lookup_then_merge_in_one_batch(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """A call looked up through the phone and an event that merges the phone's client into an
    older one are resolved in one batch, then recorded: the call is stored with the older client,
    and the lookup split names that client when the phone proves shared."""
    b = run(loop, store, "b1", 500, E2, "cid:2.2")["client_id"]
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    call = resolve(loop, store, "call", 1500, PHONE)
    merging = resolve(loop, store, "m", 1600, E1, E2)
    assert call.client_id == a and merging.client_id == b and merging.merged == (a,)
    stored = record(loop, store, "call", call.client_id, 1500)["client_id"]
    record(loop, store, "m", merging.client_id, 1600)
    run(loop, store, "p2", 2000, "email:four@x.de", PHONE)
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "b": b, "stored": stored, "third": third}


def lookup_then_shared_in_one_batch(
    loop: asyncio.AbstractEventLoop, store: Store
) -> dict[str, Any]:
    """A call looked up through the phone and the profile that proves the phone shared are
    resolved in one batch, then recorded: the split moves the call before it is recorded, so it
    is stored with its own client."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    run(loop, store, "p2", 2000, E2, PHONE)
    call = resolve(loop, store, "call", 2500, PHONE)
    third = resolve(loop, store, "p3", 3000, E3, PHONE)
    assert call.client_id == a
    result = record(loop, store, "p3", third.client_id, 3000)
    return {"a": a, "third": result, "call": record(loop, store, "call", a, 2500)}


def merge_through_a_claim(loop: asyncio.AbstractEventLoop, store: Store) -> dict[str, Any]:
    """Person 2's email, claimed through the phone, then merges client x (their web client id)
    into person 1's client: when the phone proves shared, the email and the web client id move
    together (the event that merged them linked them without the phone)."""
    a = run(loop, store, "p1", 1000, E1, PHONE)["client_id"]
    run(loop, store, "p2", 2000, E2, PHONE)  # claims E2 through PHONE
    x = run(loop, store, "x1", 2500, "cid:9.9")["client_id"]
    assert run(loop, store, "x2", 2600, E2, "cid:9.9")["merged_from"] == [x]  # through E2 alone
    third = run(loop, store, "p3", 3000, E3, PHONE)
    return {"a": a, "x": x, "third": third}


def raw(
    name: str, family: str, event_type: str, at: int, ids: dict[str, Any], **fields: Any
) -> Any:
    envelope = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"split-{name}")),
        "event_type": event_type,
        "occurred_at": at,
        "received_at": at,
        "source": fields.pop("source", "studio_system"),
        "account_id": "acc",
        "ids": ids,
        "web": fields.pop("web", None),
    }
    datum, errors = coerce(
        CONTRACTS.expanded[f"touchline.events.{family}"], {"envelope": envelope, **fields}
    )
    assert errors == [], errors
    return name, CODEC.encode(f"touchline.events.{family}", datum)


def journeys() -> list[tuple[str, bytes]]:
    """The events, in event time, each with the name of the person it belongs to."""
    ad = {
        "page_url": "https://studio.example/?utm_source=google&utm_medium=cpc&utm_campaign=yoga",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "yoga",
    }
    return [
        raw(
            "p1-profile",
            "ClientProfile",
            "client_profile_synced",
            T0,
            {"email": "one@x.de", "phone": RAW_PHONE},
            client_id="studio-1",
        ),
        raw(
            "p2-visit",
            "WebTouch",
            "page_view",
            T0 + 60 * MIN,
            {"cid": "GA1.2.222.333"},
            source="web",
            web=ad,
        ),
        raw(
            "p2-booking",
            "BookingStep",
            "appointment_booking_start",
            T0 + 65 * MIN,
            {"cid": "GA1.2.222.333", "email": "two@x.de"},
            source="web",
            web=ad,
        ),
        raw(
            "p2-profile",
            "ClientProfile",
            "client_profile_synced",
            T0 + 120 * MIN,
            {"email": "two@x.de", "phone": RAW_PHONE},
            client_id="studio-2",
        ),
        raw(
            "p2-form",
            "BookingStep",
            "appointment_booking_start",
            T0 + 150 * MIN,
            {"cid": "GA1.2.222.333", "phone": RAW_PHONE},
            source="web",
            web={"page_url": "https://studio.example/book"},
        ),
        raw(
            "p2-order",
            "OrderPlaced",
            "order_placed",
            T0 + 180 * MIN,
            {"email": "two@x.de"},
            order_id="o-2",
            total_minor=5000,
            currency="EUR",
        ),
        raw(
            "p3-profile",
            "ClientProfile",
            "client_profile_synced",
            T0 + 240 * MIN,
            {"email": "three@x.de", "phone": RAW_PHONE},
            client_id="studio-3",
        ),
        raw(
            "desk-call",
            "InboundContact",
            "contact_call",
            T0 + 300 * MIN,
            {"phone": "(030) 555-0100"},
            source="call_tracking",
            contact_id="call-1",
        ),
    ]


def journeys_with_a_shared_tablet(form: bool = False) -> list[tuple[str, bytes]]:
    """:func:`journeys`, and the studio's tablet at the desk (person 2's web client id, which
    their first visit carried alone) books for two more people later: the client id proves
    shared after the phone did. Without person 2's form (the desk phone and the tablet's client
    id, both shared in the end) unless ``form``."""
    ad = {"page_url": "https://studio.example/book"}
    return [
        *(e for e in journeys() if form or e[0] != "p2-form"),
        *[
            raw(
                f"p{n}-booking",
                "BookingStep",
                "appointment_booking_start",
                T0 + (320 + 10 * n) * MIN,
                {"cid": "GA1.2.222.333", "email": f"{word}@x.de"},
                source="web",
                web=ad,
            )
            for n, word in ((4, "four"), (5, "five"))
        ],
    ]
