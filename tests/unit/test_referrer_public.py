"""Referrer-only channels over public referrer data (issue 16): at least 95 % per kind.

Two tables, both public and neither chosen here:

* ``referrer_cases/snowplow-referer-tests.json``: the referrer URLs of Snowplow's referer-parser
  test suite (see ``referrer_cases/NOTICE.md``), labelled by that project (search, social, email,
  chatbot). They are independent of the lists the classifier is built from.
* every entry of the generated ``pipeline/channel_hosts.json`` (Matomo's search, social and
  AI-assistant lists, GA4's source categories) as a referrer URL: ``name.{}`` patterns as
  ``name.de`` and ``name.co.uk``, path rules with their path. This checks the matching (country
  suffixes, subdomains, precedence, the hand-kept lists laid over them), not the lists.

Each event has no UTM tags and no click id: the referrer alone decides, as for most page views of
a studio's site. The figures per kind are printed (``pytest -s``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from pipeline import channels as ch
from pipeline.utm import NO_CAMPAIGN, referrer_host

CASES = Path(__file__).with_name("referrer_cases") / "snowplow-referer-tests.json"
KIND_CHANNEL = {
    "search": ch.ORGANIC_SEARCH,
    "social": ch.ORGANIC_SOCIAL,
    "email": ch.EMAIL,
    "chatbot": ch.AI_ASSISTANT,
    "video": ch.ORGANIC_SOCIAL,
    "ai": ch.AI_ASSISTANT,
}
KINDS = ("search", "social", "email", "ai")
MIN_SHARE = 0.95

Case = tuple[str, str, str]  # (kind, referrer URL, expected channel)


def snowplow_cases() -> list[Case]:
    rows = json.loads(CASES.read_text(encoding="utf-8"))
    kind = {"chatbot": "ai"}
    return [
        (kind.get(r["medium"], r["medium"]), r["uri"], KIND_CHANNEL[r["medium"]])
        for r in rows
        if r["medium"] in KIND_CHANNEL
    ]


def list_cases() -> list[Case]:
    data = json.loads(ch.HOSTS_PATH.read_text(encoding="utf-8"))
    kind = {"video": "social"}
    out: list[Case] = []
    for host, category in data["hosts"].items():
        if category in KIND_CHANNEL and "." in host:
            out.append((kind.get(category, category), f"https://{host}/", KIND_CHANNEL[category]))
    for name, category in data["tld_hosts"].items():
        for suffix in ("de", "co.uk"):
            url = f"https://{name}.{suffix}/"
            out.append((kind.get(category, category), url, KIND_CHANNEL[category]))
    for host, prefixes in data["paths"].items():
        for path, category in prefixes.items():
            url = f"https://{host.replace('{}', 'de')}{path}/x?y=1"
            out.append((kind.get(category, category), url, KIND_CHANNEL[category]))
    return out


def channel_of(url: str) -> str:
    return ch.classify(NO_CAMPAIGN, referrer_host(url), source_system="web", referrer=url)


def shares(cases: list[Case]) -> dict[str, tuple[int, int, list[str]]]:
    """kind -> (as expected, cases, the misses)."""
    seen: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: dict[str, list[str]] = defaultdict(list)
    for kind, url, expected in cases:
        got = channel_of(url)
        seen[kind][1] += 1
        if got == expected:
            seen[kind][0] += 1
        else:
            misses[kind].append(f"{url[:80]} -> {got}")
    return {k: (ok, n, misses[k]) for k, (ok, n) in seen.items()}


TABLES = {"snowplow referer-parser tests": snowplow_cases, "matomo + ga4 lists": list_cases}


@pytest.mark.parametrize("table", list(TABLES))
def test_public_referrers_classified_per_kind(table: str) -> None:
    figures = shares(TABLES[table]())
    print(f"\n{table}:")
    for kind in KINDS:
        if kind in figures:
            ok, n, missed = figures[kind]
            print(f"  {kind:<7} {ok:>4} of {n:<4} {ok / n:7.1%}   misses: {missed[:5]}")
    low = {k: f"{ok}/{n}" for k, (ok, n, _) in figures.items() if ok < MIN_SHARE * n}
    assert low == {}, f"under {MIN_SHARE:.0%}: {low}"


def test_tables_hold_a_few_hundred_urls_of_every_kind() -> None:
    cases = snowplow_cases() + list_cases()
    per_kind = {k: sum(1 for c in cases if c[0] == k) for k in KINDS}
    assert sum(per_kind.values()) >= 300
    assert min(per_kind.values()) >= 10, per_kind
    # the independent table has every kind
    assert {c[0] for c in snowplow_cases()} == set(KINDS)
