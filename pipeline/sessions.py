"""Sessionization of one client's events, as a pure step function over the previous state.

``next_session(prev, ...)`` returns the state after the event and whether the event started a new
session. An event **starts a new session** when:

1. there is no previous state; or
2. it comes at or after the previous event and ``occurred_at - prev.last_seen_at >= timeout_ms``:
   exactly ``timeout_ms`` of inactivity (30 minutes by default) already starts a new session, one
   millisecond less does not; or
3. its ``campaign_key`` is not None and differs from the session's (GA-style: arriving through a
   new campaign starts a new session; an event without campaign info — internal navigation, a
   direct visit, an offline event — never does).

**Out-of-order events** (``occurred_at < prev.last_seen_at``) never move ``last_seen_at``
backwards and never split the session by campaign:

- a late event no more than ``timeout_ms`` before the session's start (``occurred_at >=
  prev.started_at - timeout_ms``) joins the current session; if it is earlier than the start, the
  start moves back to it (and its landing page and campaign become the session's, when it has
  them);
- an older event belonged to a session that has already ended: it gets a one-event session of its
  own (``is_new`` True) whose state is returned, but the client's live session stays ``prev``
  (``live(prev, state)`` picks it). The worker keeps a client's recent sessions instead and
  places such events with :func:`assign`, which builds on ``next_session``.

Session ids are deterministic: a UUIDv5 of the client id and the id of the session's first event,
so replaying the same events produces the same ids. ``seq`` counts events within the session,
starting at 1. Time on site of an event is ``occurred_at - started_at``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.utm import Campaign

SESSION_NAMESPACE = uuid.UUID("6f1c1f0e-3d5a-5b8e-9a43-7c1d2b0e9f21")


@dataclass(frozen=True)
class SessionState:
    session_id: str
    started_at: int
    last_seen_at: int
    seq: int
    landing_page: str | None
    campaign_key: str | None


def session_id_for(client_id: str | None, first_event_id: str) -> str:
    """The deterministic id of a session that started with ``first_event_id``."""
    return str(uuid.uuid5(SESSION_NAMESPACE, f"{client_id or ''}|{first_event_id}"))


def campaign_key(c: Campaign) -> str | None:
    """A key that changes when the visit's campaign changes (source, medium, campaign, term,
    content and click id type); None when the campaign carries no information at all."""
    parts = (c.source, c.medium, c.campaign, c.term, c.content, c.click_id_type)
    if all(p is None for p in parts):
        return None
    return "|".join("" if p is None else p.replace("\\", "\\\\").replace("|", "\\|") for p in parts)


def campaign_in_key(key: str | None) -> str | None:
    """The campaign (``utm_campaign``) a :func:`campaign_key` holds; None when it holds none."""
    if key is None:
        return None
    parts, part, escaped = [], [], False
    for ch in key:
        if escaped:
            part.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "|":
            parts.append("".join(part))
            part = []
        else:
            part.append(ch)
    parts.append("".join(part))
    return parts[2] or None if len(parts) > 2 else None


def _start(
    occurred_at: int,
    event_id: str,
    campaign_key: str | None,
    landing_page: str | None,
    client_id: str | None,
) -> SessionState:
    return SessionState(
        session_id=session_id_for(client_id, event_id),
        started_at=occurred_at,
        last_seen_at=occurred_at,
        seq=1,
        landing_page=landing_page,
        campaign_key=campaign_key,
    )


def next_session(
    prev: SessionState | None,
    *,
    occurred_at: int,
    event_id: str,
    campaign_key: str | None,
    landing_page: str | None,
    timeout_ms: int,
    client_id: str | None = None,
) -> tuple[SessionState, bool]:
    """(state after this event, whether it started a new session); see the module docstring.
    (States are built with the constructor: ``dataclasses.replace`` cost several times as much.)"""
    if timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be positive, got {timeout_ms}")
    if prev is None:
        return _start(occurred_at, event_id, campaign_key, landing_page, client_id), True
    if occurred_at < prev.last_seen_at:
        if occurred_at < prev.started_at - timeout_ms:
            return _start(occurred_at, event_id, campaign_key, landing_page, client_id), True
        if occurred_at < prev.started_at:
            return (
                SessionState(
                    prev.session_id,
                    occurred_at,
                    prev.last_seen_at,
                    prev.seq + 1,
                    landing_page or prev.landing_page,
                    campaign_key or prev.campaign_key,
                ),
                False,
            )
        return (
            SessionState(
                prev.session_id,
                prev.started_at,
                prev.last_seen_at,
                prev.seq + 1,
                prev.landing_page,
                prev.campaign_key,
            ),
            False,
        )
    expired = occurred_at - prev.last_seen_at >= timeout_ms
    new_campaign = campaign_key is not None and campaign_key != prev.campaign_key
    if expired or new_campaign:
        return _start(occurred_at, event_id, campaign_key, landing_page, client_id), True
    return (
        SessionState(
            prev.session_id,
            prev.started_at,
            occurred_at,
            prev.seq + 1,
            prev.landing_page or landing_page,
            prev.campaign_key or campaign_key,
        ),
        False,
    )


def live(prev: SessionState | None, state: SessionState) -> SessionState:
    """The state to keep as the client's current session after ``next_session`` returned
    ``state``: ``state``, unless it is a one-event session of a stray old event."""
    if prev is not None and state.last_seen_at < prev.last_seen_at:
        return prev
    return state


def time_on_site(state: SessionState, occurred_at: int) -> int:
    """Milliseconds from the session's start to the event (never negative)."""
    return max(0, occurred_at - state.started_at)


def assign(
    history: Sequence[SessionState],
    *,
    occurred_at: int,
    event_id: str,
    campaign_key: str | None,
    landing_page: str | None,
    timeout_ms: int,
    client_id: str | None = None,
    keep: int = 20,
    keep_ms: int | None = None,
) -> tuple[list[SessionState], SessionState, bool]:
    """Place an event among the client's recent sessions (oldest first, see :func:`_recent`).

    One client's events reach the worker out of time order (each event family has its own topic,
    and Kafka orders only within a partition), so a client keeps its recent sessions, not just
    the live one:

    - an event at or after the latest session's last event goes through :func:`next_session`;
    - a late event joins the most recent session it is within ``timeout_ms`` of
      (``started_at - timeout_ms <= occurred_at < last_seen_at + timeout_ms``), stretching it;
    - a late event no recent session covers starts a one-event session of its own.

    Returns (sessions after the event, the event's session, whether it started a new session).
    Limit: a visit scrambled by more than ``timeout_ms`` can still split in two here; the reports
    and the card derive visits in event time and are not affected by arrival order.
    """
    if timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be positive, got {timeout_ms}")
    sessions = sorted(history, key=lambda s: s.started_at)
    latest = sessions[-1] if sessions else None
    if latest is None or occurred_at >= latest.last_seen_at:
        state, is_new = next_session(
            latest,
            occurred_at=occurred_at,
            event_id=event_id,
            campaign_key=campaign_key,
            landing_page=landing_page,
            timeout_ms=timeout_ms,
            client_id=client_id,
        )
        after = [*sessions, state] if is_new else [*sessions[:-1], state]
        return _recent(after, keep, keep_ms), state, is_new
    for i in range(len(sessions) - 1, -1, -1):
        s = sessions[i]
        if s.started_at - timeout_ms <= occurred_at < s.last_seen_at + timeout_ms:
            earlier = occurred_at < s.started_at
            joined = SessionState(
                s.session_id,
                min(s.started_at, occurred_at),
                max(s.last_seen_at, occurred_at),
                s.seq + 1,
                (landing_page or s.landing_page) if earlier else s.landing_page,
                (campaign_key or s.campaign_key) if earlier else s.campaign_key,
            )
            sessions[i] = joined
            return _recent(sessions, keep, keep_ms), joined, False
    state = _start(occurred_at, event_id, campaign_key, landing_page, client_id)
    after = sorted([*sessions, state], key=lambda s: s.started_at)
    return _recent(after, keep, keep_ms), state, True


def _recent(sessions: list[SessionState], keep: int, keep_ms: int | None) -> list[SessionState]:
    """The newest ``keep`` of ``sessions`` (by start), without those last seen more than
    ``keep_ms`` before the newest ``last_seen_at``."""
    kept = sessions[-keep:]
    if keep_ms is None or not kept:
        return kept
    newest = max(s.last_seen_at for s in kept)
    return [s for s in kept if s.last_seen_at >= newest - keep_ms]
