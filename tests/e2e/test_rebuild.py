"""`touchline rebuild` (issue 12): after a live run and one erase, the test's Redis keys are
flushed and rebuilt from the raw topics; every person's card must come out as it was before the
flush, and the erased person must stay erased.

Real Kafka and Redis, `touchline worker` and `touchline rebuild` processes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.e2e import privacy_support as ps
from tests.support import drained, touchline_process, wait_for
from touchline import topics
from touchline.contracts import load_cached
from touchline.identity import extract
from touchline.settings import Settings

pytestmark = pytest.mark.e2e


def test_rebuild_recreates_every_card(live_settings: Settings, tmp_path: Path) -> None:
    s = ps.isolated(live_settings, tmp_path, "rebuild")
    topics.ready(s)
    events, truth = ps.journeys(clients=10, seed=8)
    ps.produce(s, [raw for _, raw in ps.encode(events)])
    lookups = {}
    for pid, person in truth.persons.items():
        keys = extract({"email": person.email, "cid": (person.cids or [None])[0]}).keys()
        if keys:
            lookups[pid] = keys[0]
    raw_group = {s.worker_id: topics.all_raw(s, load_cached(s.schemas_dir))}
    with touchline_process(s, "worker", log=tmp_path / "worker.log"):
        wait_for(lambda: drained(s, raw_group), 240, "the worker to drain", 2)
    # one person is erased first: the raw topics still hold their events, the rebuild must not
    # bring them back (it applies the suppression list, as the worker does)
    gone = next(pid for pid, key in lookups.items() if key.startswith("email:"))
    erased = ps.touchline(s, "erase", "--account", ps.ACCOUNT, "--email", lookups[gone][6:])
    assert erased.returncode == 0, erased.stderr[-2000:]
    before = ps.cards(s, lookups)
    assert before[gone] is None
    assert sum(1 for c in before.values() if c and "contact" in c) > 3, "too few cards to test"

    assert ps.flush(s) > 0
    assert set(ps.cards(s, lookups).values()) == {None}
    done = ps.touchline(s, "rebuild")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "enriched" in done.stdout, done.stdout
    after = ps.cards(s, lookups)
    r = redis.Redis.from_url(s.redis_url or "")
    assert not list(r.scan_iter(match=f"{s.topic_prefix}:*inflight:*")), "results not forgotten"
    r.close()
    differ = [pid for pid in before if after[pid] != before[pid]]
    assert not differ, f"{len(differ)} cards differ after the rebuild: {differ[:3]}"

    again = ps.touchline(s, "rebuild")
    assert again.returncode == 2 and "--flush" in again.stderr, again.stderr
