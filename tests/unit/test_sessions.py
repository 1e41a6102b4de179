from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.sessions import (
    SessionState,
    campaign_key,
    live,
    next_session,
    session_id_for,
    time_on_site,
)
from pipeline.utm import Campaign

MIN = 60_000
TIMEOUT = 30 * MIN
T0 = 1_700_000_000_000


def step(
    prev: SessionState | None,
    at: int,
    event_id: str,
    key: str | None = None,
    landing: str | None = None,
) -> tuple[SessionState, bool]:
    return next_session(
        prev,
        occurred_at=at,
        event_id=event_id,
        campaign_key=key,
        landing_page=landing,
        timeout_ms=TIMEOUT,
        client_id="c1",
    )


def test_first_event_starts_a_session() -> None:
    state, new = step(None, T0, "e1", "google|cpc", "https://s.example/?utm_source=google")
    assert new
    assert state == SessionState(
        session_id=session_id_for("c1", "e1"),
        started_at=T0,
        last_seen_at=T0,
        seq=1,
        landing_page="https://s.example/?utm_source=google",
        campaign_key="google|cpc",
    )


def test_continues_within_timeout() -> None:
    s1, _ = step(None, T0, "e1", landing="/a")
    s2, new = step(s1, T0 + 5 * MIN, "e2", landing="/b")
    assert not new
    assert s2.session_id == s1.session_id
    assert (s2.seq, s2.started_at, s2.last_seen_at) == (2, T0, T0 + 5 * MIN)
    assert s2.landing_page == "/a"  # the first page stays the landing page
    assert time_on_site(s2, T0 + 5 * MIN) == 5 * MIN


def test_timeout_boundary_is_inclusive() -> None:
    s1, _ = step(None, T0, "e1")
    just_before, new = step(s1, T0 + TIMEOUT - 1, "e2")
    assert not new and just_before.session_id == s1.session_id
    exactly, new = step(s1, T0 + TIMEOUT, "e3")
    assert new and exactly.session_id == session_id_for("c1", "e3") != s1.session_id
    assert (exactly.seq, exactly.started_at) == (1, T0 + TIMEOUT)


def test_inactivity_counts_from_last_event_not_start() -> None:
    state, _ = step(None, T0, "e0")
    for i in range(1, 10):  # one event every 20 minutes: a 3-hour session
        state, new = step(state, T0 + i * 20 * MIN, f"e{i}")
        assert not new
    assert state.seq == 10 and time_on_site(state, state.last_seen_at) == 180 * MIN


def test_new_campaign_starts_a_new_session() -> None:
    s1, _ = step(None, T0, "e1", "google|cpc")
    same, new = step(s1, T0 + MIN, "e2", "google|cpc")
    assert not new and same.session_id == s1.session_id
    other, new = step(same, T0 + 2 * MIN, "e3", "newsletter|email")
    assert new and other.campaign_key == "newsletter|email"


def test_no_campaign_never_splits() -> None:
    s1, _ = step(None, T0, "e1", "google|cpc")
    s2, new = step(s1, T0 + MIN, "e2", None)
    assert not new and s2.campaign_key == "google|cpc"
    # a direct session that later receives a campaign: the campaign differs -> new session
    d1, _ = step(None, T0, "d1", None)
    d2, new = step(d1, T0 + MIN, "d2", "google|cpc")
    assert new and d2.campaign_key == "google|cpc"


def test_late_event_within_session_joins_and_keeps_last_seen() -> None:
    s1, _ = step(None, T0, "e1", "k")
    s2, _ = step(s1, T0 + 10 * MIN, "e2")
    late, new = step(s2, T0 + 5 * MIN, "e3", "other-campaign")
    assert not new
    assert late.session_id == s1.session_id
    assert late.last_seen_at == T0 + 10 * MIN  # never backwards
    assert late.campaign_key == "k"  # a late event does not split by campaign
    assert late.seq == 3
    assert live(s2, late) == late


def test_late_event_before_start_moves_start_back() -> None:
    s1, _ = step(None, T0, "e1", None, "/second")
    early, new = step(s1, T0 - 10 * MIN, "e0", "google|cpc", "/first")
    assert not new and early.session_id == s1.session_id
    assert early.started_at == T0 - 10 * MIN
    assert early.last_seen_at == T0
    assert early.landing_page == "/first" and early.campaign_key == "google|cpc"
    # exactly one timeout before the start still joins
    edge, new = step(s1, T0 - TIMEOUT, "e-edge")
    assert not new and edge.started_at == T0 - TIMEOUT


def test_stray_old_event_gets_its_own_session_and_live_keeps_current() -> None:
    s1, _ = step(None, T0, "e1")
    s2, _ = step(s1, T0 + MIN, "e2")
    stray, new = step(s2, T0 - TIMEOUT - 1, "old")
    assert new
    assert stray.session_id == session_id_for("c1", "old")
    assert stray.seq == 1 and stray.last_seen_at == T0 - TIMEOUT - 1
    assert live(s2, stray) == s2
    assert live(None, stray) == stray


def test_session_id_depends_on_client_and_first_event() -> None:
    assert session_id_for("c1", "e1") == session_id_for("c1", "e1")
    assert session_id_for("c1", "e1") != session_id_for("c2", "e1")
    assert session_id_for(None, "e1") == session_id_for("", "e1")


def test_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="timeout_ms"):
        next_session(
            None, occurred_at=T0, event_id="e", campaign_key=None, landing_page=None, timeout_ms=0
        )


def test_time_on_site_never_negative() -> None:
    s1, _ = step(None, T0, "e1")
    assert time_on_site(s1, T0 - 5) == 0


def test_campaign_key() -> None:
    assert campaign_key(Campaign()) is None
    assert campaign_key(Campaign(source="google", medium="cpc")) == "google|cpc||||"
    assert campaign_key(Campaign(click_id_type="gclid")) == "|||||gclid"
    assert campaign_key(Campaign(term="yoga")) != campaign_key(Campaign(content="yoga"))
    # separators inside values cannot make two campaigns collide
    assert campaign_key(Campaign(source="a|b")) != campaign_key(Campaign(source="a", medium="b"))
    assert campaign_key(Campaign(source="a", campaign="X")) != campaign_key(
        Campaign(source="a", campaign="x")
    )


events = st.lists(
    st.tuples(
        st.integers(0, 6 * 3600_000),
        st.sampled_from([None, None, "google|cpc", "newsletter|email"]),
    ),
    max_size=30,
)


def run(evts: list[tuple[int, str | None]]) -> list[tuple[str, bool, int]]:
    state: SessionState | None = None
    out = []
    for i, (offset, key) in enumerate(evts):
        result, new = step(state, T0 + offset, f"e{i}", key)
        out.append((result.session_id, new, result.seq))
        state = live(state, result)
    return out


@given(events)
def test_sessionization_is_deterministic(evts: list[tuple[int, str | None]]) -> None:
    assert run(evts) == run(list(evts))


@given(events)
def test_invariants(evts: list[tuple[int, str | None]]) -> None:
    state: SessionState | None = None
    for i, (offset, key) in enumerate(evts):
        result, new = step(state, T0 + offset, f"e{i}", key)
        assert result.started_at <= result.last_seen_at
        if new:
            assert result.seq == 1 and result.session_id == session_id_for("c1", f"e{i}")
        else:
            assert state is not None
            assert result.session_id == state.session_id
            assert result.seq == state.seq + 1
            assert result.last_seen_at >= state.last_seen_at
        new_state = live(state, result)
        if state is not None:
            assert new_state.last_seen_at >= state.last_seen_at
        state = new_state


def test_replace_keeps_frozen() -> None:
    s1, _ = step(None, T0, "e1")
    with pytest.raises(AttributeError):
        s1.seq = 2  # type: ignore[misc]
    assert replace(s1, seq=2).seq == 2


# --- assign: a client's recent sessions, for events that arrive out of time order -------------

ASSIGN_TIMEOUT = 30 * 60_000


def place(
    history: list[SessionState], at: int, eid: str, key: str | None = None
) -> tuple[list[SessionState], SessionState, bool]:
    from pipeline.sessions import assign

    return assign(
        history,
        occurred_at=at,
        event_id=eid,
        campaign_key=key,
        landing_page=None,
        timeout_ms=ASSIGN_TIMEOUT,
        client_id="c",
    )


def test_assign_in_order_behaves_like_next_session() -> None:
    h, s1, new1 = place([], 0, "a")
    h, s2, new2 = place(h, 60_000, "b")
    h, s3, new3 = place(h, 60_000 + ASSIGN_TIMEOUT, "c")
    assert (new1, new2, new3) == (True, False, True)
    assert s1.session_id == s2.session_id != s3.session_id
    assert len(h) == 2


def test_a_late_event_joins_the_past_session_that_covers_it() -> None:
    h, first, _ = place([], 0, "a")
    h, _, _ = place(h, 10 * 60_000, "b")
    h, second, _ = place(h, 5 * 3_600_000, "c")  # a later visit
    h, late, new = place(h, 5 * 60_000, "late")  # belongs to the first visit
    assert not new and late.session_id == first.session_id
    assert late.seq == 3 and late.last_seen_at == 10 * 60_000  # never moves backwards
    assert [s.session_id for s in h] == [first.session_id, second.session_id]


def test_a_late_event_just_before_a_past_session_moves_its_start() -> None:
    h, first, _ = place([], ASSIGN_TIMEOUT, "a")
    h, _, _ = place(h, 10 * ASSIGN_TIMEOUT, "b")
    h, late, new = place(h, 0, "early")  # exactly one timeout before the start: joins
    assert not new and late.session_id == first.session_id and late.started_at == 0


def test_a_late_event_no_session_covers_starts_its_own_in_time_order() -> None:
    h, _, _ = place([], 10 * ASSIGN_TIMEOUT, "a")
    h, lone, new = place(h, 0, "stray")  # more than a timeout before any session
    assert new and lone.seq == 1
    assert [s.session_id for s in h] == [lone.session_id, h[1].session_id]
    h, again, new_again = place(h, 60_000, "stray2")  # its neighbour joins it
    assert not new_again and again.session_id == lone.session_id


def test_assign_keeps_at_most_keep_sessions() -> None:
    from pipeline.sessions import assign

    h: list[SessionState] = []
    for i in range(30):
        h, _, _ = assign(
            h,
            occurred_at=i * 2 * ASSIGN_TIMEOUT,
            event_id=str(i),
            campaign_key=None,
            landing_page=None,
            timeout_ms=ASSIGN_TIMEOUT,
            keep=20,
        )
    assert len(h) == 20 and h[0].started_at == 10 * 2 * ASSIGN_TIMEOUT


def test_assign_keeps_only_sessions_seen_within_keep_ms_of_the_newest() -> None:
    from pipeline.sessions import assign

    hour = 3_600_000
    h: list[SessionState] = []
    for i, at in enumerate((0, 10 * hour, 30 * hour, 33 * hour)):
        h, _, _ = assign(
            h,
            occurred_at=at,
            event_id=str(i),
            campaign_key=None,
            landing_page=None,
            timeout_ms=ASSIGN_TIMEOUT,
            keep_ms=24 * hour,
        )
    assert [s.started_at for s in h] == [10 * hour, 30 * hour, 33 * hour]
    # a stray page older than the window still gets its own visit, which is not kept
    h, stray, new = assign(
        h,
        occurred_at=2 * hour,
        event_id="stray",
        campaign_key=None,
        landing_page=None,
        timeout_ms=ASSIGN_TIMEOUT,
        keep_ms=24 * hour,
    )
    assert new and stray.started_at == 2 * hour
    assert [s.started_at for s in h] == [10 * hour, 30 * hour, 33 * hour]
