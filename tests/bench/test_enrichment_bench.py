"""Per-event cost of the pure enrichment rules (no I/O).

Figures: device_type cold (a user agent never seen before: ua-parser's regexes run) vs cached
(the same UA again), and the whole pure enrichment of one web event (campaign, referrer, channel,
device, session, client id, email/phone normalisation) against the walking skeleton's one-line
channel rule as the baseline, all measured in this run. Writes bench-results/enrichment.json.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline import devices
from pipeline.channels import classify
from pipeline.sessions import SessionState, campaign_key, live, next_session
from pipeline.utm import effective_campaign, referrer_host
from touchline.clientid import client_id_from_ga
from touchline.normalize import normalize_email, normalize_phone

RESULTS = Path(__file__).resolve().parents[2] / "bench-results" / "enrichment.json"

UA_TEMPLATES = [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{v} Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.{v}.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.{v}.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.{v} Safari/605.1.15",
    "Mozilla/5.0 (iPad; CPU OS 16_{v} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.0 Mobile/15E148 Safari/604.1",
]


def per_call_us(fn: Callable[[Any], object], inputs: list[Any]) -> float:
    start = time.perf_counter()
    for value in inputs:
        fn(value)
    return (time.perf_counter() - start) / len(inputs) * 1e6


def make_events(n: int, uas: list[str], rnd: random.Random) -> list[dict[str, Any]]:
    campaigns = [
        "?utm_source=google&utm_medium=cpc&utm_campaign=Brand&gclid=Cj0K",
        "?utm_source=newsletter&utm_medium=email&utm_campaign=Spring",
        "?fbclid=IwAR",
        "",
        "",
    ]
    referrers = [None, "https://www.google.de/", "https://l.facebook.com/", "https://blog.example/"]
    return [
        {
            "cid": f"GA1.2.{rnd.randrange(10**9)}.{1_700_000_000 + i}",
            "email": f" User{i % 500}@Example.COM ",
            "phone": f"030 {1_000_000 + i % 500}",
            "occurred_at": 1_700_000_000_000 + i * 60_000,
            "event_id": f"e{i}",
            "web": {
                "landing_page": "https://studio.example/yoga" + rnd.choice(campaigns),
                "page_url": "https://studio.example/book",
                "referrer": rnd.choice(referrers),
                "user_agent": rnd.choice(uas),
            },
        }
        for i in range(n)
    ]


def enrich(event: dict[str, Any], state: dict[str, SessionState]) -> str:
    web = event["web"]
    campaign = effective_campaign(web)
    channel = classify(
        campaign,
        referrer_host(web["referrer"]),
        source_system="web",
        own_hosts=frozenset({"studio.example"}),
    )
    devices.device_type(web["user_agent"])
    cid = client_id_from_ga(event["cid"]) or event["event_id"]
    normalize_email(event["email"])
    normalize_phone(event["phone"])
    prev = state.get(cid)
    new, _ = next_session(
        prev,
        occurred_at=event["occurred_at"],
        event_id=event["event_id"],
        campaign_key=campaign_key(campaign),
        landing_page=web["landing_page"],
        timeout_ms=30 * 60_000,
        client_id=cid,
    )
    state[cid] = live(prev, new)
    return channel


def skeleton(event: dict[str, Any]) -> str:
    return str((event["web"].get("utm_medium") or "direct").lower())


@pytest.mark.bench
def test_enrichment_bench() -> None:
    rnd = random.Random(7)
    n_cold = 2000
    cold_uas = [UA_TEMPLATES[i % len(UA_TEMPLATES)].format(v=i) for i in range(n_cold)]
    devices.device_type("warm-up: loads ua-parser's regexes once")
    devices.cache_clear()
    cold = per_call_us(devices.device_type, cold_uas)  # every UA new: parser runs
    hot_inputs = [rnd.choice(cold_uas[:50]) for _ in range(50_000)]
    for ua in cold_uas[:50]:
        devices.device_type(ua)
    cached = per_call_us(devices.device_type, hot_inputs)

    n = 20_000
    uas = [UA_TEMPLATES[i % len(UA_TEMPLATES)].format(v=i % 40) for i in range(200)]
    events = make_events(n, uas, rnd)
    baseline = per_call_us(skeleton, events)
    state: dict[str, SessionState] = {}
    devices.cache_clear()
    full = per_call_us(lambda e: enrich(e, state), events)

    figures = {
        "device_type_cold_us": round(cold, 2),
        "device_type_cached_us": round(cached, 3),
        "device_type_cold_over_cached": round(cold / cached, 1),
        "enrich_event_us": round(full, 2),
        "enrich_events_per_s_one_core": round(1e6 / full),
        "baseline_skeleton_channel_us": round(baseline, 3),
        "enrich_over_baseline": round(full / baseline, 1),
        "events": n,
        "distinct_user_agents": len(uas),
    }
    print(json.dumps(figures, indent=2))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    assert len(state) > 0
