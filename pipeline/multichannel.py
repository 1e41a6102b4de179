"""Multichannel contacts: which distinct channels touched a client before a contact.

A touch counts for a contact at ``contact_at`` when ``contact_at - lookback_ms <= at <
contact_at``: a touch exactly ``lookback_ms`` before the contact counts, a touch one millisecond
older does not, and touches at the same millisecond as the contact or after it never count (the
contact cannot have been influenced by them; the contact's own touch is at ``contact_at``).

Touches are ordered by ``(at, event_id)`` whatever order they are given in, so the result does not
depend on the order in which identifiers and events arrived. ``channels_before`` lists distinct
channels in order of their first touch in the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Touch:
    at: int
    channel: str
    event_id: str


def in_window(touches: Iterable[Touch], before: int, lookback_ms: int) -> list[Touch]:
    """Touches with ``before - lookback_ms <= at < before``, ordered by (at, event_id)."""
    if lookback_ms < 0:
        raise ValueError(f"lookback_ms must not be negative, got {lookback_ms}")
    start = before - lookback_ms
    return sorted((t for t in touches if start <= t.at < before), key=lambda t: (t.at, t.event_id))


def channels_before(
    touches: Sequence[Touch],
    contact_at: int,
    lookback_ms: int,
    *,
    exclude: frozenset[str] = frozenset(),
) -> list[str]:
    """Distinct channels of the touches in the window, in first-seen order (``exclude`` drops
    channels that should not count, e.g. ``direct``)."""
    seen: dict[str, None] = {}
    for touch in in_window(touches, contact_at, lookback_ms):
        if touch.channel not in exclude:
            seen.setdefault(touch.channel, None)
    return list(seen)


def is_multichannel(
    touches: Sequence[Touch],
    contact_at: int,
    lookback_ms: int,
    min_channels: int = 2,
    *,
    exclude: frozenset[str] = frozenset(),
) -> bool:
    """Whether at least ``min_channels`` distinct channels touched the client before the contact."""
    if min_channels < 1:
        raise ValueError(f"min_channels must be at least 1, got {min_channels}")
    return len(channels_before(touches, contact_at, lookback_ms, exclude=exclude)) >= min_channels


def prune(touches: Sequence[Touch], now: int, lookback_ms: int, cap: int) -> list[Touch]:
    """The touches to keep in a client's history: no older than ``now - lookback_ms`` (touches
    after ``now`` — clock skew, late-arriving ids — are kept), one per event id, at most ``cap``
    of the newest, oldest first."""
    if cap < 0:
        raise ValueError(f"cap must not be negative, got {cap}")
    start = now - lookback_ms
    unique: dict[str, Touch] = {}
    for touch in touches:
        if touch.at >= start:
            kept = unique.get(touch.event_id)
            if kept is None or (touch.at, touch.channel) < (kept.at, kept.channel):
                unique[touch.event_id] = touch
    ordered = sorted(unique.values(), key=lambda t: (t.at, t.event_id))
    return ordered[-cap:] if cap else []
