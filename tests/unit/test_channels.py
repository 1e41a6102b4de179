from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline import channels as ch
from pipeline.channels import CHANNELS, classify, load_rules, source_category
from pipeline.utm import Campaign

C = Campaign


@pytest.mark.parametrize(
    ("campaign", "expected"),
    [
        # Direct
        (C(source="(direct)", medium="(none)"), ch.DIRECT),
        (C(source="direct", medium="(not set)"), ch.DIRECT),
        (C(source="(direct)"), ch.DIRECT),
        # Paid Shopping -> paid_search (source list or campaign name)
        (C(source="amazon", medium="cpc"), ch.PAID_SEARCH),
        (C(source="partner", medium="ppc", campaign="Summer-Shopping"), ch.PAID_SEARCH),
        (C(source="partner", medium="cpc", campaign="e-shop promo"), ch.PAID_SEARCH),
        # Paid Search
        (C(source="google", medium="cpc"), ch.PAID_SEARCH),
        (C(source="bing", medium="ppc"), ch.PAID_SEARCH),
        (C(source="yandex", medium="paid"), ch.PAID_SEARCH),
        (C(source="google.de", medium="retargeting"), ch.PAID_SEARCH),
        (C(source="adwords", medium="cpc"), ch.PAID_SEARCH),
        # Paid Social / Paid Video
        (C(source="facebook", medium="paid_social"), ch.PAID_SOCIAL),
        (C(source="ig", medium="cpc"), ch.PAID_SOCIAL),
        (C(source="linkedin", medium="paid"), ch.PAID_SOCIAL),
        (C(source="youtube", medium="cpv"), ch.PAID_SOCIAL),
        (C(source="tiktok", medium="paidvideo"), ch.PAID_SOCIAL),
        # Display (GA4 lists it after the source-specific paid rules: facebook/cpm is paid social)
        (C(source="dv360", medium="display"), ch.DISPLAY),
        (C(source="network", medium="banner"), ch.DISPLAY),
        (C(source="network", medium="cpm"), ch.DISPLAY),
        (C(source="network", medium="interstitial"), ch.DISPLAY),
        (C(source="network", medium="expandable"), ch.DISPLAY),
        (C(source="facebook", medium="cpm"), ch.PAID_SOCIAL),
        # Paid Other -> other
        (C(source="partner-portal", medium="cpc"), ch.OTHER),
        # Organic Social
        (C(source="facebook", medium="post"), ch.ORGANIC_SOCIAL),
        (C(source="instagram"), ch.ORGANIC_SOCIAL),
        (C(source="club-flyer", medium="social-network"), ch.ORGANIC_SOCIAL),
        (C(source="anything", medium="sm"), ch.ORGANIC_SOCIAL),
        (C(source="l.facebook.com", medium="referral"), ch.ORGANIC_SOCIAL),
        # Organic Video -> organic_social
        (C(source="youtube", medium="description"), ch.ORGANIC_SOCIAL),
        (C(source="studio", medium="promo-video"), ch.ORGANIC_SOCIAL),
        # Organic Search
        (C(source="google", medium="organic"), ch.ORGANIC_SEARCH),
        (C(source="duckduckgo"), ch.ORGANIC_SEARCH),
        (C(source="anything", medium="organic"), ch.ORGANIC_SEARCH),
        # Organic Shopping -> referral
        (C(source="ebay", medium="listing"), ch.REFERRAL),
        # Email
        (C(source="newsletter", medium="email"), ch.EMAIL),
        (C(source="mailing", medium="e-mail"), ch.EMAIL),
        (C(source="e_mail"), ch.EMAIL),
        (C(source="crm", medium="e mail"), ch.EMAIL),
        (C(source="mailchimp", medium="blast"), ch.EMAIL),
        # the shopping-by-campaign-name rule is not applied to organic traffic
        (C(source="newsletter", medium="email", campaign="e-shop"), ch.EMAIL),
        # Affiliates
        (C(source="partner", medium="affiliate"), ch.AFFILIATE),
        (C(source="partner", medium="affiliates"), ch.AFFILIATE),
        # Referral
        (C(source="blog.example", medium="referral"), ch.REFERRAL),
        (C(source="partner", medium="app"), ch.REFERRAL),
        (C(source="partner", medium="link"), ch.REFERRAL),
        # SMS
        (C(source="sms", medium="text"), ch.SMS),
        (C(source="reminder", medium="sms"), ch.SMS),
        # Audio, push, unassigned -> other
        (C(source="spotify", medium="audio"), ch.OTHER),
        (C(source="app", medium="web-push"), ch.OTHER),
        (C(source="flyer", medium="print"), ch.OTHER),
        (C(campaign="only-a-name"), ch.OTHER),
    ],
)
def test_ga4_rules(campaign: Campaign, expected: str) -> None:
    assert classify(campaign, None) == expected


def test_case_insensitive() -> None:
    assert classify(C(source="Google", medium="CPC"), None) == ch.PAID_SEARCH
    assert classify(C(source="NEWSLETTER", medium="Email"), None) == ch.EMAIL


@pytest.mark.parametrize(
    ("campaign", "expected"),
    [
        (C(click_id_type="gclid"), ch.PAID_SEARCH),
        (C(click_id_type="gbraid"), ch.PAID_SEARCH),
        (C(click_id_type="wbraid"), ch.PAID_SEARCH),
        (C(click_id_type="msclkid"), ch.PAID_SEARCH),
        (C(click_id_type="yclid"), ch.PAID_SEARCH),
        (C(click_id_type="fbclid"), ch.PAID_SOCIAL),
        (C(click_id_type="ttclid"), ch.PAID_SOCIAL),
        (C(click_id_type="li_fat_id"), ch.PAID_SOCIAL),
        (C(click_id_type="dclid"), ch.DISPLAY),
        # a click id makes a medium-less source paid
        (C(source="google", click_id_type="gclid"), ch.PAID_SEARCH),
        (C(source="instagram", click_id_type="fbclid"), ch.PAID_SOCIAL),
        (C(source="partner", click_id_type="gclid"), ch.PAID_SEARCH),
        # ...but a medium says otherwise
        (C(source="newsletter", medium="email", click_id_type="gclid"), ch.EMAIL),
        (C(source="facebook", medium="social", click_id_type="fbclid"), ch.ORGANIC_SOCIAL),
        (C(source="partner", medium="cpc", click_id_type="msclkid"), ch.PAID_SEARCH),
    ],
)
def test_click_ids(campaign: Campaign, expected: str) -> None:
    assert classify(campaign, "google.com") == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (None, ch.DIRECT),
        ("", ch.DIRECT),
        ("google.com", ch.ORGANIC_SEARCH),
        ("google.de", ch.ORGANIC_SEARCH),
        ("google.co.uk", ch.ORGANIC_SEARCH),
        ("google.com.br", ch.ORGANIC_SEARCH),
        ("www.bing.com", ch.ORGANIC_SEARCH),
        ("de.search.yahoo.com", ch.ORGANIC_SEARCH),
        ("yandex.ru", ch.ORGANIC_SEARCH),
        ("duckduckgo.com", ch.ORGANIC_SEARCH),
        ("l.facebook.com", ch.ORGANIC_SOCIAL),
        ("instagram.com", ch.ORGANIC_SOCIAL),
        ("t.co", ch.ORGANIC_SOCIAL),
        ("youtube.com", ch.ORGANIC_SOCIAL),
        ("mail.google.com", ch.EMAIL),  # most specific domain beats google.com
        ("outlook.live.com", ch.EMAIL),
        ("com.google.android.gm", ch.EMAIL),
        ("blog.example.org", ch.REFERRAL),
        ("amazon.de", ch.REFERRAL),
        ("googleblog.example", ch.REFERRAL),
        ("checkout.stripe.com", ch.DIRECT),  # payment redirect is not a referral
        ("www.paypal.com", ch.DIRECT),
    ],
)
def test_referrer_only(host: str | None, expected: str) -> None:
    assert classify(C(), host) == expected


def test_own_hosts_are_no_referrer() -> None:
    own = frozenset({"yoga-studio.example", "www.book.example"})
    assert classify(C(), "yoga-studio.example", own_hosts=own) == ch.DIRECT
    assert classify(C(), "shop.yoga-studio.example", own_hosts=own) == ch.DIRECT
    assert classify(C(), "book.example", own_hosts=own) == ch.DIRECT
    assert classify(C(), "other.example", own_hosts=own) == ch.REFERRAL
    assert classify(C(), "notyoga-studio.example", own_hosts=own) == ch.REFERRAL


def test_utm_beats_referrer() -> None:
    assert classify(C(source="newsletter", medium="email"), "google.com") == ch.EMAIL


def test_offline_origins() -> None:
    assert classify(C(), None, source_system="call_tracking") == ch.PHONE_CALL
    assert classify(C(), "google.com", source_system="call_tracking") == ch.PHONE_CALL
    assert classify(C(), None, source_system="web", event_type="contact_call") == ch.PHONE_CALL
    assert classify(C(), None, source_system="crm") == ch.CRM_OFFLINE
    assert classify(C(), None, source_system="crm", event_type="contact_call") == ch.PHONE_CALL
    assert classify(C(), None, source_system="studio_system") == ch.DIRECT
    # a tracked call with the web visit's campaign is classified by the campaign
    call = C(source="google", medium="cpc")
    assert classify(call, None, source_system="call_tracking") == ch.PAID_SEARCH
    assert classify(C(click_id_type="gclid"), None, source_system="crm") == ch.PAID_SEARCH


@pytest.mark.parametrize(
    ("value", "category"),
    [
        ("google", "search"),
        ("Google.COM", "search"),
        ("www.google.fr", "search"),
        ("fb", "social"),
        ("m.facebook.com", "social"),
        ("youtu.be", "video"),
        ("etsy", "shopping"),
        ("gmail.com", "email"),
        ("newsletter", "email"),
        ("acme", None),
        ("", None),
        (None, None),
    ],
)
def test_source_category(value: str | None, category: str | None) -> None:
    assert source_category(value) == category


def test_rules_file_is_data_and_checked(tmp_path: Path) -> None:
    data = json.loads(ch.RULES_PATH.read_text())
    assert {"search", "social", "video", "shopping", "email"} <= set(data["categories"])
    assert set(data["click_ids"].values()) <= set(CHANNELS)
    data["click_ids"]["gclid"] = "telepathy"
    bad = tmp_path / "rules.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"click_ids\.gclid"):
        load_rules(bad)
    del data["mediums"]
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="mediums"):
        load_rules(bad)


text = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(["cpc", "email", "google"]))


@given(
    text,
    text,
    text,
    st.sampled_from([None, "gclid", "fbclid", "dclid"]),
    text,
    st.sampled_from([None, "web", "crm", "call_tracking"]),
)
def test_always_a_known_channel(
    source: str | None,
    medium: str | None,
    name: str | None,
    click: str | None,
    host: str | None,
    system: str | None,
) -> None:
    campaign = C(source=source, medium=medium, campaign=name, click_id_type=click)
    assert classify(campaign, host, source_system=system) in CHANNELS
