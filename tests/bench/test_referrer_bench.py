"""Per-event cost of the channel classifier on referrer-only visits (issue 16).

Figures, each beside a baseline from the same run (a dict lookup of the referrer host, the
cheapest classifier there could be):

* ``enrichment_mix``: the enrichment bench's events (four referrers, so every lookup is cached),
  ``referrer_host`` + ``classify`` with the referrer and page URL as the worker passes them;
* ``distinct``: 20 000 referrers drawn from the public test URLs and the generated host list
  (thousands of distinct hosts, caches cleared first), the cost when lookups miss the caches.

Writes bench-results/referrer.json.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline import channels, source_categories, utm
from pipeline.utm import Campaign, effective_campaign, referrer_host
from tests.bench.test_enrichment_bench import UA_TEMPLATES, make_events

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench-results" / "referrer.json"
CASES = ROOT / "tests" / "unit" / "referrer_cases" / "snowplow-referer-tests.json"
OWN = frozenset({"studio.example"})
PAGE = "https://studio.example/book"


def per_call_us(fn: Callable[[Campaign, str | None], object], refs: list[str | None]) -> float:
    camps = [Campaign()] * len(refs)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for camp, ref in zip(camps, refs, strict=True):
            fn(camp, ref)
        best = min(best, (time.perf_counter() - start) / len(refs) * 1e6)
    return best


def classify(camp: Campaign, ref: str | None) -> str:
    host = referrer_host(ref)
    return channels.classify(camp, host, own_hosts=OWN, referrer=ref, page_url=PAGE)


def distinct_referrers(n: int) -> list[str | None]:
    rnd = random.Random(3)
    urls = [r["uri"] for r in json.loads(CASES.read_text())]
    hosts = list(json.loads(channels.HOSTS_PATH.read_text())["hosts"])
    return [
        rnd.choice(urls) if i % 3 == 0 else f"https://{rnd.choice(hosts)}/p{i % 50}"
        for i in range(n)
    ]


def clear_caches() -> None:
    source_categories.source_category.cache_clear()
    source_categories.path_rules.cache_clear()
    channels._host_channel.cache_clear()
    utm.referrer_host.cache_clear()
    utm.referrer_path.cache_clear()


@pytest.mark.bench
def test_referrer_bench() -> None:
    rnd = random.Random(7)
    uas = [UA_TEMPLATES[i % len(UA_TEMPLATES)].format(v=i % 40) for i in range(200)]
    events = make_events(20_000, uas, rnd)
    for e in events:
        effective_campaign(e["web"])
    mix: list[str | None] = [e["web"]["referrer"] for e in events]
    many = distinct_referrers(20_000)
    table = json.loads(channels.HOSTS_PATH.read_text())["hosts"]

    def lookup(_camp: Campaign, ref: str | None) -> object:
        return table.get(ref or "")

    baseline = per_call_us(lookup, mix)
    mix_us = per_call_us(classify, mix)

    def cold(camp: Campaign, ref: str | None) -> str:
        return classify(camp, ref)

    distinct_us = float("inf")
    for _ in range(3):  # the best of three passes, caches cleared before each
        clear_caches()
        start = time.perf_counter()
        for ref in many:
            cold(Campaign(), ref)
        distinct_us = min(distinct_us, (time.perf_counter() - start) / len(many) * 1e6)
    channels_seen = {classify(Campaign(), r) for r in many}
    figures = {
        "enrichment_mix_classify_us": round(mix_us, 3),
        "distinct_referrers_classify_us": round(distinct_us, 3),
        "baseline_host_dict_lookup_us": round(baseline, 3),
        "enrichment_mix_over_baseline": round(mix_us / baseline, 1),
        "distinct_over_baseline": round(distinct_us / baseline, 1),
        "distinct_referrers": len(set(many)),
        "events": len(mix),
    }
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    assert channels.AI_ASSISTANT in channels_seen and channels.EMAIL in channels_seen
