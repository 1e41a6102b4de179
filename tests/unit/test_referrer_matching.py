"""Host matching for referrer-only visits (issue 16): subdomains, country suffixes, redirect hosts,
webmail, path rules, the site's own hosts, and the ai_assistant channel with its GA4 fold."""

from __future__ import annotations

import pytest

from pipeline import channels as ch
from pipeline import enrichment
from pipeline.channels import classify, source_category
from pipeline.utm import NO_CAMPAIGN, Campaign, referrer_host, referrer_path


def channel(url: str, **kw: object) -> str:
    return classify(NO_CAMPAIGN, referrer_host(url), referrer=url, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # subdomains and country domains
        ("https://m.facebook.com/", ch.ORGANIC_SOCIAL),
        ("https://aolsearch.aol.co.uk/aol/search?q=yoga", ch.ORGANIC_SEARCH),
        ("https://www.google.com.br/", ch.ORGANIC_SEARCH),
        ("https://images.google.fr/imgres?q=x", ch.ORGANIC_SEARCH),
        ("https://de.search.yahoo.com/", ch.ORGANIC_SEARCH),
        ("https://www.bing.com/", ch.ORGANIC_SEARCH),
        ("https://www.ecosia.org/search?q=massage", ch.ORGANIC_SEARCH),
        ("https://bsky.app/profile/x", ch.ORGANIC_SOCIAL),
        ("https://ok.ru/", ch.ORGANIC_SOCIAL),
        # webmail, its redirectors and apps: email, not referral
        ("https://lightmailer.gmx.de/", ch.EMAIL),
        ("https://deref-gmx.net/mail/client/abc/dereferrer/?redirectUrl=x", ch.EMAIL),
        ("https://deref-web-02.de/mail/client/x/dereferrer/", ch.EMAIL),
        ("https://navigator.web.de/", ch.EMAIL),
        ("https://email.t-online.de/em", ch.EMAIL),
        ("https://mail.google.com/mail/u/0/", ch.EMAIL),
        ("https://outlook.live.com/mail/0/", ch.EMAIL),
        ("android-app://com.google.android.gm/", ch.EMAIL),
        ("https://webmail.physio-praxis.de/", ch.EMAIL),
        ("https://owa.example-clinic.ch/owa/", ch.EMAIL),
        # more specific entry beats its parent: Gemini is google.com, GA4's mail.yandex.ru search
        ("https://gemini.google.com/app", ch.AI_ASSISTANT),
        ("https://mail.yandex.ru/", ch.EMAIL),
        ("https://suche.web.de/web?q=yoga", ch.ORGANIC_SEARCH),
        # AI assistants
        ("https://chatgpt.com/", ch.AI_ASSISTANT),
        ("https://www.perplexity.ai/search/x", ch.AI_ASSISTANT),
        ("https://claude.ai/chat/1", ch.AI_ASSISTANT),
        ("https://copilot.microsoft.com/", ch.AI_ASSISTANT),
        # a path the data names decides on a general host
        ("https://x.com/i/grok?conversation=1", ch.AI_ASSISTANT),
        ("https://x.com/i/grok/", ch.AI_ASSISTANT),
        ("https://x.com/i/grokking", ch.ORGANIC_SOCIAL),
        ("https://x.com/someone/status/1", ch.ORGANIC_SOCIAL),
        # not webmail: a newspaper whose name has 'mail' in it, a plain site
        ("https://www.dailymail.co.uk/news", ch.REFERRAL),
        ("https://blog.example.org/post", ch.REFERRAL),
    ],
)
def test_referrer_only_channel(url: str, expected: str) -> None:
    assert channel(url) == expected


def test_paths_are_read_only_with_the_url() -> None:
    assert classify(NO_CAMPAIGN, "x.com") == ch.ORGANIC_SOCIAL
    assert referrer_path("https://X.com/I/Grok/?a=1") == "/i/grok"
    assert referrer_path(None) == "" and referrer_path("http://[::1") == ""


def test_the_sites_own_hosts_are_direct() -> None:
    page = "https://www.yoga-studio.example/book?x=1"
    assert channel("https://yoga-studio.example/classes", page_url=page) == ch.DIRECT
    assert channel("https://shop.yoga-studio.example/", page_url=page) == ch.DIRECT
    assert channel("https://other.example/", page_url=page) == ch.REFERRAL
    own = frozenset({"studio.example"})
    assert channel("https://pay.studio.example/", own_hosts=own) == ch.DIRECT
    # a known host is never internal, even on a page of that host
    assert channel("https://www.google.com/", page_url="https://google.com/x") == ch.ORGANIC_SEARCH


def test_ai_assistant_folds_into_referral_on_request() -> None:
    assert channel("https://chatgpt.com/", ai_as_referral=True) == ch.REFERRAL
    assert channel("https://x.com/i/grok", ai_as_referral=True) == ch.REFERRAL
    tagged = Campaign(source="chatgpt.com")  # ChatGPT adds utm_source=chatgpt.com to its links
    assert classify(tagged, None) == ch.AI_ASSISTANT
    assert classify(tagged, None, ai_as_referral=True) == ch.REFERRAL
    assert classify(Campaign(source="chatgpt.com", medium="referral"), None) == ch.AI_ASSISTANT
    # a campaign that says otherwise wins: a paid or email medium is not the assistant
    assert classify(Campaign(source="chatgpt.com", medium="cpc"), None) == ch.OTHER
    assert classify(Campaign(source="perplexity", medium="email"), None) == ch.EMAIL
    assert ch.AI_ASSISTANT in ch.CHANNELS


def test_enrichment_passes_referrer_page_and_setting() -> None:
    datum = {
        "envelope": {
            "source": "web",
            "event_type": "page_view",
            "web": {"referrer": "https://x.com/i/grok", "page_url": "https://studio.example/"},
        }
    }
    assert enrichment.static("touchline.events.PageView", datum).channel == ch.AI_ASSISTANT
    folded = enrichment.static("touchline.events.PageView", datum, frozenset(), True)
    assert folded.channel == ch.REFERRAL
    datum["envelope"]["web"]["referrer"] = "https://studio.example/prices"  # type: ignore[index]
    assert enrichment.static("touchline.events.PageView", datum).channel == ch.DIRECT


@pytest.mark.parametrize(
    ("value", "category"),
    [
        ("chatgpt.com", "ai"),
        ("perplexity", "ai"),
        ("gmx", "email"),
        ("gmx.at", "email"),
        ("google.co.uk", "search"),
        ("co.uk", None),
        ("com.google.android.gm", "email"),
    ],
)
def test_source_categories(value: str, category: str | None) -> None:
    assert source_category(value) == category
