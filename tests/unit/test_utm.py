from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.utm import Campaign, effective_campaign, query_params, referrer_host


def test_nothing_gives_empty_campaign() -> None:
    assert effective_campaign(None) == Campaign()
    assert effective_campaign({}) == Campaign()
    assert effective_campaign({"page_url": "https://studio.example/book"}).is_empty


def test_fields_win_over_query_string_and_are_taken_together() -> None:
    web = {
        "utm_source": "  Newsletter ",
        "utm_medium": "EMAIL",
        "utm_campaign": " Spring Yoga ",
        "utm_term": "",
        "utm_content": None,
        "landing_page": "https://s.example/?utm_source=google&utm_medium=cpc&utm_term=yoga",
    }
    c = effective_campaign(web)
    # source/medium lower-cased, campaign keeps its case, empty -> None, no mixing with the URL
    assert c == Campaign("newsletter", "email", "Spring Yoga", None, None, None)


def test_landing_page_query_string_used_when_no_fields() -> None:
    web = {
        "landing_page": "https://s.example/yoga?utm_source=Google&utm_medium=CPC"
        "&utm_campaign=Brand%20DE&utm_term=yoga+berlin&utm_content=ad-1&gclid=Cj0K",
        "page_url": "https://s.example/book?utm_source=other",
    }
    c = effective_campaign(web)
    assert c == Campaign("google", "cpc", "Brand DE", "yoga berlin", "ad-1", "gclid")
    assert c.is_paid


def test_page_url_used_when_landing_page_has_no_utm() -> None:
    web = {
        "landing_page": "https://s.example/",
        "page_url": "https://s.example/book?utm_source=fb&utm_medium=paid_social",
    }
    assert effective_campaign(web) == Campaign(source="fb", medium="paid_social")


def test_blank_utm_fields_fall_back_to_url() -> None:
    web = {"utm_source": "  ", "landing_page": "https://s.example/?utm_medium=sms"}
    assert effective_campaign(web) == Campaign(medium="sms")


def test_repeated_and_blank_params_take_first_non_empty() -> None:
    assert query_params("https://x.example/?utm_source=&utm_source=a&utm_source=b") == {
        "utm_source": "a"
    }


def test_utm_in_fragment_is_read() -> None:
    web = {"landing_page": "https://s.example/#/book?utm_source=insta&utm_medium=social"}
    assert effective_campaign(web) == Campaign(source="insta", medium="social")


@pytest.mark.parametrize(
    ("web", "expected"),
    [
        ({"gclid": "abc"}, "gclid"),
        ({"fbclid": "x"}, "fbclid"),
        ({"yclid": "1"}, "yclid"),
        ({"msclkid": "m"}, "msclkid"),
        ({"gclid": " ", "landing_page": "https://s.example/?msclkid=m"}, "msclkid"),
        ({"landing_page": "https://s.example/?wbraid=w"}, "wbraid"),
        ({"landing_page": "https://s.example/?gbraid=g"}, "gbraid"),
        ({"landing_page": "https://s.example/?dclid=d"}, "dclid"),
        ({"landing_page": "https://s.example/?ttclid=t"}, "ttclid"),
        ({"landing_page": "https://s.example/?li_fat_id=l"}, "li_fat_id"),
        ({"page_url": "https://s.example/?GCLID=g"}, "gclid"),
        # web field beats the URL; within one source the listed order decides
        ({"fbclid": "f", "landing_page": "https://s.example/?gclid=g"}, "fbclid"),
        ({"landing_page": "https://s.example/?fbclid=f&gclid=g"}, "gclid"),
    ],
)
def test_click_ids(web: dict[str, Any], expected: str) -> None:
    c = effective_campaign(web)
    assert c.click_id_type == expected
    assert c.is_paid
    assert c.source is None and c.medium is None  # nothing invented


def test_garbage_urls_do_not_raise() -> None:
    for url in ["http://[::1", "::::", "%%%", "https://x.example/?a=%ZZ&utm_source=%E2%82"]:
        effective_campaign({"landing_page": url, "page_url": url})
    assert query_params(None) == {}


def test_long_values_are_cut() -> None:
    c = effective_campaign({"utm_campaign": "x" * 5000})
    assert c.campaign is not None and len(c.campaign) == 500


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Google.de/search?q=yoga", "google.de"),
        ("https://l.facebook.com/l.php?u=x", "l.facebook.com"),
        ("http://user:pw@WWW.Example.com:8080/path", "example.com"),
        ("android-app://com.google.android.gm/", "com.google.android.gm"),
        ("google.com/some/page", "google.com"),
        ("https://example.com./", "example.com"),
        ("https://www.example.co.uk", "example.co.uk"),
    ],
)
def test_referrer_host(url: str, host: str) -> None:
    assert referrer_host(url) == host


@pytest.mark.parametrize(
    "url", [None, "", "  ", "about:blank", "not a url", "https://", "http://[::1", "(not set)"]
)
def test_referrer_host_garbage(url: str | None) -> None:
    assert referrer_host(url) is None


@given(
    st.dictionaries(
        st.sampled_from(
            ["utm_source", "utm_medium", "landing_page", "page_url", "gclid", "referrer"]
        ),
        st.text(max_size=60),
    )
)
def test_effective_campaign_never_raises_and_normalises(web: dict[str, str]) -> None:
    c = effective_campaign(web)
    for value in (c.source, c.medium, c.campaign, c.term, c.content):
        assert value is None or (value == value.strip() and value)
    assert c.source is None or c.source == c.source.lower()
    referrer_host(web.get("referrer"))
