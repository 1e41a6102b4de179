"""A client's touches derived in event time from the hits the card keeps. Pure.

The worker sees one client's events in arrival order (a topic per family, late webhooks, CRM rows
hours late, merges mid-visit), so whatever it decides on arrival can be wrong. The card therefore
keeps the *hits* themselves (web hits, inbound contacts, CRM leads, each with its own channel and
campaign key) and derives everything below from them, ordered by ``(at, event_id)``: the same set
of hits gives the same touches in any arrival order. ``sinks/sql/fragments`` derives the reports'
touches by the same rules.

* **Sessions** over the web hits: a hit starts a session when it is the first, when at least
  ``timeout_ms`` passed since the previous hit, or when its campaign key is set and differs from
  the session's (see :func:`pipeline.sessions.next_session`, of which this is the in-order case).
* **Touches**: every session start (with the channel and campaign of the hit that started it),
  every inbound contact and every CRM lead; a web hit that is also a contact is one touch.
* **Multichannel**: a contact is multichannel when the touches in ``[at - lookback_ms, at)``
  (itself excluded) come from at least ``min_channels`` distinct channels; ``channels_before``
  lists them in order of their first touch.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

from pipeline import lookups
from pipeline.sessions import campaign_in_key
from touchline.identity import is_strong

WEB, CONTACT, LEAD = 1, 2, 4  # Hit.flags
HIT_SEPARATOR = "\x1f"  # between a stored hit's flags, channel and campaign key
TAGGED_KINDS = ("ext.", "email:", "phone:", "cid:")  # the identifiers the reports split events by
TAG_LENGTH = 8  # hex digits (4 bytes where Redis keeps the member)


def identifier_tag(identifier: str) -> str:
    """An identifier's tag in a hit: the first 8 hex digits of its SHA-1 (split.lua computes the
    same with ``redis.sha1hex``), so a card need not keep the identifier itself."""
    return hashlib.sha1(identifier.encode()).hexdigest()[:TAG_LENGTH]


def tagged(identifiers: Iterable[str]) -> list[str]:
    """The source-system ids, email, phone and web client id among ``identifiers``
    (``kind:value``), in order."""
    return [k for k in identifiers if k.startswith(TAGGED_KINDS)]


def hit_tags(identifiers: Iterable[str]) -> str:
    """The tags of an event's source-system ids, email, phone and web client id (``kind:value``,
    in that order, the order the reports' ``split_events`` ranks them in), concatenated: when one
    of them is split off its client (an identifier it was linked through proved shared), the hit
    moves with it (``pipeline/lua/split.lua`` ``move_tagged``)."""
    return "".join(identifier_tag(k) for k in tagged(identifiers))


def part_key(identifiers: Sequence[str], event_id: str) -> str:
    """The key of the card's counters (revenue, contacts) an event adds to (parts.lua): the tags
    of its identifiers (``identifiers``: :func:`tagged`); when it carries two or more and none is
    an email or a source-system id (a desk phone and a tablet's web client id), also ``@`` and
    its id: should they all prove shared, its counters go to its own client, as its hit does."""
    tags = hit_tags(identifiers)
    weak = len(identifiers) >= 2 and not any(is_strong(k) for k in identifiers)
    return f"{tags}@{event_id}" if weak else tags


@dataclass(frozen=True)
class Hit:
    at: int
    event_id: str
    flags: int  # WEB | CONTACT | LEAD
    channel: str  # the hit's own channel
    campaign_key: str | None
    campaign: str | None  # utm_campaign, for display
    tags: str = ""  # hit_tags of the event's identifiers

    def member(self) -> str:
        """The hit as the card's sorted-set member (scored by ``at``); the campaign is not
        repeated: its campaign key holds it (:func:`pipeline.sessions.campaign_in_key`). Tags
        come sixth, after a null where members stored before kept the campaign."""
        fields = [self.event_id, self.flags, self.channel, self.campaign_key]
        return orjson.dumps([*fields, None, self.tags] if self.tags else fields).decode()

    @classmethod
    def from_member(cls, member: str | bytes, at: float) -> Hit:
        """A member as :meth:`member` makes it, or as Redis keeps it (:func:`stored_member`): a
        canonical UUID event id as a byte 1 and its 16 bytes, then flags, channel and campaign
        key separated by a byte 31 (no key: null); with tags, a byte 2, the 16 bytes, the number
        of tags and 4 bytes each, then the same; in the form before, a zero byte and the 16
        bytes, then the rest of the array."""
        raw = member.encode() if isinstance(member, str) else member
        if len(raw) > 17 and raw[0] in (1, 2):
            start, tags = 17, ""
            if raw[0] == 2:
                start = 18 + 4 * raw[17]
                tags = raw[18:start].hex()
            flags, channel, *key = raw[start:].decode().split(HIT_SEPARATOR, 2)
            event_id = str(uuid.UUID(bytes=raw[1:17]))
            k = key[0] if key else None
            return cls(int(at), event_id, int(flags), channel, k, campaign_in_key(k), tags)
        if len(raw) > 17 and raw[0] == 0:
            fields = [str(uuid.UUID(bytes=raw[1:17])), *orjson.loads(raw[17:])]
        else:
            fields = orjson.loads(raw)  # a member stored before carried the campaign fifth
        event_id, flags, channel, key = fields[:4]
        campaign = fields[4] if len(fields) > 4 else None
        tags = fields[5] if len(fields) > 5 else ""
        return cls(
            int(at), event_id, int(flags), channel, key, campaign or campaign_in_key(key), tags
        )


def stored_member(member: str) -> bytes:
    """The member Redis keeps for :meth:`Hit.member` (record.lua adds it as it is): for a
    canonical UUID event id, a byte 1 and its 16 bytes (a byte 2, the 16 bytes, the number of
    tags and each tag in 4 bytes, when tagged), then flags, channel and campaign key separated by
    a byte 31 (the key left out when null), 27 bytes less than the array, and tags in half the
    bytes of their hex; any other member as it is. :meth:`Hit.from_member` reads both."""
    fields = orjson.loads(member)
    event_id, flags, channel, key = fields[:4]
    tags = bytes.fromhex(fields[5]) if len(fields) > 5 else b""
    field = lookups.field(event_id)  # a canonical UUID as a zero byte and its 16 bytes
    if not (len(field) == 17 and field[0] == 0) or HIT_SEPARATOR in channel:
        return member.encode()
    rest = f"{flags}{HIT_SEPARATOR}{channel}"
    if key is not None:
        rest += HIT_SEPARATOR + key
    if tags:
        return b"\x02" + field[1:] + bytes([len(tags) // 4]) + tags + rest.encode()
    return b"\x01" + field[1:] + rest.encode()


@dataclass(frozen=True)
class Touch:
    at: int
    event_id: str
    channel: str
    campaign: str | None
    is_contact: bool
    channels_before: tuple[str, ...] = ()
    multichannel: bool = False
    since_previous_contact_ms: int | None = None


def session_starts(hits: Iterable[Hit], timeout_ms: int) -> set[str]:
    """Event ids of the web hits that start a session (hits in any order)."""
    starts: set[str] = set()
    last: int | None = None
    key: str | None = None
    for hit in sorted((h for h in hits if h.flags & WEB), key=lambda h: (h.at, h.event_id)):
        new_key = hit.campaign_key is not None and hit.campaign_key != key
        if last is None or hit.at - last >= timeout_ms or new_key:
            starts.add(hit.event_id)
            key = hit.campaign_key
        last = hit.at
    return starts


def derive(
    hits: Iterable[Hit], *, timeout_ms: int, lookback_ms: int, min_channels: int
) -> list[Touch]:
    """The client's touches, oldest first, with each contact's multichannel facts."""
    ordered = sorted(hits, key=lambda h: (h.at, h.event_id))
    starts = session_starts(ordered, timeout_ms)
    touches: list[Touch] = []
    previous_contact: int | None = None
    for hit in ordered:
        is_contact = bool(hit.flags & CONTACT)
        if not (hit.event_id in starts or is_contact or hit.flags & LEAD):
            continue
        touch = Touch(hit.at, hit.event_id, hit.channel, hit.campaign, is_contact)
        if is_contact:
            before = channels_before(touches, hit.at, lookback_ms)
            since = None if previous_contact is None else hit.at - previous_contact
            touch = Touch(
                hit.at,
                hit.event_id,
                hit.channel,
                hit.campaign,
                True,
                before,
                len(before) >= min_channels,
                since,
            )
            previous_contact = hit.at
        touches.append(touch)
    return touches


def channels_before(touches: list[Touch], at: int, lookback_ms: int) -> tuple[str, ...]:
    """Distinct channels of the touches in ``[at - lookback_ms, at)``, in first-touch order."""
    seen: dict[str, None] = {}
    for touch in touches:
        if at - lookback_ms <= touch.at < at:
            seen.setdefault(touch.channel, None)
    return tuple(seen)
