"""sinks.deriver: a derivation runs beside the sink's inserts, and its batches' offsets come back
to be committed only once it has finished (or failed for good); a sink stopping meanwhile gets
none, so those batches are redelivered."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from confluent_kafka import TopicPartition

from sinks import errors
from sinks.deriver import Deriver

POSITIONS = [TopicPartition("enriched", 0, 42)]
IDS = {("acc", "c1")}


class Clock:
    """A derivation that blocks until released, failing ``fail`` times first."""

    def __init__(self, fail: list[Exception] | None = None) -> None:
        self.release = threading.Event()
        self.fail = list(fail or [])
        self.calls = 0

    def __call__(self, ids: Any, splits: Any) -> None:
        self.calls += 1
        if self.fail:
            raise self.fail.pop(0)
        assert self.release.wait(10)


def deriver(derive: Clock, stop: threading.Event | None = None, **kw: Any) -> Deriver:
    return Deriver(derive, stop or threading.Event(), retry_initial_s=0.01, **kw)


def test_offsets_come_back_only_after_the_derivation_has_finished() -> None:
    derive = Clock()
    done: list[float] = []
    d = deriver(derive, on_done=done.append)
    d.start(IDS, [], POSITIONS)
    assert d.busy and d.finished() is None  # still deriving: nothing to commit
    with pytest.raises(RuntimeError):
        d.start(IDS, [], POSITIONS)  # one at a time
    derive.release.set()
    assert d.finished(wait=True) == POSITIONS
    assert not d.busy and d.finished() is None  # given once
    assert len(done) == 1


def test_a_transient_failure_is_retried_and_a_permanent_one_commits_anyway() -> None:
    failures: list[errors.Kind] = []
    derive = Clock(fail=[ConnectionError("refused")])
    derive.release.set()
    d = deriver(derive, on_failure=failures.append)
    d.start(IDS, [], POSITIONS)
    assert d.finished(wait=True) == POSITIONS
    assert derive.calls == 2 and failures == [errors.Kind.TRANSIENT]

    bad = Clock(fail=[ValueError("Code: 36. DB::Exception: BAD_ARGUMENTS")])
    d = deriver(bad, on_failure=failures.append)
    d.start(IDS, [], POSITIONS)
    # a defect, not the input's: logged and counted, the batches go on (rederive repairs it)
    assert d.finished(wait=True) == POSITIONS
    assert bad.calls == 1 and failures[-1] is errors.Kind.PERMANENT


def test_a_sink_stopping_while_a_derivation_is_retried_commits_nothing() -> None:
    stop = threading.Event()
    derive = Clock(fail=[ConnectionError("down")] * 1000)
    d = deriver(derive, stop)
    d.start(IDS, [], POSITIONS)
    stop.set()
    assert d.finished(wait=True) is None  # those batches are redelivered


def test_nothing_to_derive_gives_the_offsets_back_at_once() -> None:
    derive = Clock()
    d = deriver(derive)
    d.start(set(), [], POSITIONS)
    assert d.finished(wait=True) == POSITIONS and derive.calls == 0
