"""Which marketing channel an event came through.

The rules follow GA4's published default channel grouping where it applies, plus one channel of
Touchline's own, ``ai_assistant``. The lists of search engines, shopping sites, social networks,
video sites and AI assistants are generated data (``pipeline/channel_hosts.json``, from Matomo's
and GA4's lists by ``touchline channels refresh``, see ``pipeline.channel_data``); webmail hosts,
the few assistant, search and social hosts those lists lack, utm_source shorthands, the medium
values and which channel a click id implies are kept by hand in ``pipeline/channel_rules.json``,
whose categories are laid over the generated ones.

Inputs are the effective ``Campaign`` (``pipeline.utm``), the referrer host, and for events that
did not happen on a website the source system and event type. Source and medium are compared
lower-cased, as GA4 does.

Precedence (the first rule that matches decides):

1. **Offline origin without web campaign.** When the campaign has no source, medium, campaign
   name or click id: call-tracking events (``source_system == "call_tracking"`` or an event type in
   ``call_event_types``) are ``phone_call``; CRM-origin events (``source_system == "crm"``) are
   ``crm_offline``. A call or CRM event that *does* carry UTM tags is classified by them below.
2. **No campaign at all (no source and no medium):** a click id decides (``gclid``/``gbraid``/
   ``wbraid``/``msclkid``/``yclid`` → ``paid_search``, ``fbclid``/``ttclid``/``li_fat_id`` →
   ``paid_social``, ``dclid`` → ``display``); else the referrer: none (or one of ``own_hosts`` or
   their subdomains, or a payment redirect in ``ignored_referrers``) → ``direct``; a search host →
   ``organic_search``; social or video host → ``organic_social``; webmail host → ``email``; an
   AI-assistant host → ``ai_assistant``; any other host → ``referral``, unless it is the page's own
   site (same host or a subdomain either way) → ``direct``. A host matches an entry equal to it or
   to a parent domain, or ``<name>.<country suffix>`` for ``name.{}`` entries; the most specific
   wins. Where the data names a path on a host (``x.com/i/grok``), the referrer's path decides
   first. A subdomain nothing matches whose first label says webmail (``webmail.``, ``owa.``,
   ``wmail.``) is webmail.
3. **GA4 rules on source/medium/campaign name**, in GA4's order. A click id with no medium counts
   as a paid medium (``cpc``):
   a. source ``(direct)``/``direct`` with medium empty, ``(none)`` or ``(not set)`` → ``direct``;
   b. paid medium ``^(.*cp.*|ppc|retargeting|paid.*)$`` with a shopping source or a shopping
      campaign name (``^(.*(([^a-df-z]|^)shop|shopping).*)$``) → ``paid_search`` (GA4's Paid
      Shopping; Touchline has no shopping channel), with a search source → ``paid_search``, with
      a social or video source → ``paid_social`` (GA4's Paid Social and Paid Video);
   c. medium ``display|banner|expandable|interstitial|cpm`` → ``display``;
   d. any other paid medium (GA4's Paid Other) → the click id's channel if there is a click id,
      else ``other``;
   e. social source or social medium → ``organic_social``; video source or medium ``.*video.*``
      → ``organic_social`` (GA4's Organic Video);
   f. search source or medium ``organic`` → ``organic_search``;
   g. shopping source → ``referral`` (GA4's Organic Shopping);
   h. an AI-assistant source with no medium or a referral medium → ``ai_assistant``
      (``utm_source=chatgpt.com``, which ChatGPT adds to its links); then source or medium
      ``email|e-mail|e_mail|e mail`` (or a webmail source) → ``email``;
   i. medium ``affiliate|affiliates`` → ``affiliate``;
   j. medium ``referral|app|link`` → ``referral``;
   k. source or medium ``sms`` → ``sms``;
   l. medium ``audio``, push (``push$|mobile|notification``) or anything unmatched → ``other``
      (GA4's Audio, Mobile Push Notifications and Unassigned).

Deviations from GA4, all because Touchline's channel set is smaller or its traffic differs: no
Cross-network, shopping, video, audio or push channels (mapped as above); GA4's "Organic
Shopping by campaign name" is not applied (a booking business's "e-shop" email must stay email);
a bare ``fbclid`` counts as paid social (GA4 would call it a facebook referral, as Meta adds
fbclid to organic links too); ``ai_assistant`` is a channel (GA4: referral) unless
``ai_as_referral`` (``TOUCHLINE_AI_ASSISTANT_AS_REFERRAL``) folds it back; and webmail hosts are
``email`` (GA4 lists mail.yandex.ru, mail.rambler.ru and email.seznam.cz as search engines).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.source_categories import (
    AI,
    HOSTS_PATH,
    RULES_PATH,
    SEARCH,
    SHOPPING,
    SOCIAL,
    VIDEO,
    WEBMAIL,
    load_categories,
    path_category,
    path_rules,
    source_category,
)
from pipeline.utm import Campaign, referrer_host

__all__ = ["CHANNELS", "HOSTS_PATH", "RULES_PATH", "classify", "load_rules", "source_category"]

DIRECT = "direct"
ORGANIC_SEARCH = "organic_search"
PAID_SEARCH = "paid_search"
ORGANIC_SOCIAL = "organic_social"
PAID_SOCIAL = "paid_social"
EMAIL = "email"
REFERRAL = "referral"
DISPLAY = "display"
AFFILIATE = "affiliate"
SMS = "sms"
PHONE_CALL = "phone_call"
CRM_OFFLINE = "crm_offline"
OTHER = "other"
AI_ASSISTANT = "ai_assistant"

CHANNELS = (
    DIRECT,
    ORGANIC_SEARCH,
    PAID_SEARCH,
    ORGANIC_SOCIAL,
    PAID_SOCIAL,
    EMAIL,
    REFERRAL,
    DISPLAY,
    AFFILIATE,
    SMS,
    PHONE_CALL,
    CRM_OFFLINE,
    OTHER,
    AI_ASSISTANT,
)


@dataclass(frozen=True)
class Rules:
    ignored_referrers: frozenset[str]
    paid_medium: re.Pattern[str]
    display_mediums: frozenset[str]
    social_mediums: frozenset[str]
    video_medium: re.Pattern[str]
    organic_mediums: frozenset[str]
    email_values: frozenset[str]
    affiliate_mediums: frozenset[str]
    referral_mediums: frozenset[str]
    sms_values: frozenset[str]
    direct_sources: frozenset[str]
    direct_mediums: frozenset[str]
    shopping_campaign: re.Pattern[str]
    click_ids: dict[str, str]
    call_event_types: frozenset[str]


def _lowered(values: Any) -> frozenset[str]:
    return frozenset(str(v).strip().lower() for v in values)


def load_rules(path: Path = RULES_PATH, hosts_path: Path = HOSTS_PATH) -> Rules:
    """Read and check the rules files (and the source categories they lay over the generated
    host lists, ``pipeline.source_categories``); raises ValueError naming the bad key."""
    data = json.loads(path.read_text(encoding="utf-8"))
    try:
        load_categories(data, hosts_path)
        mediums = data["mediums"]
        sources = data["sources"]
        click_ids = {str(k): str(v) for k, v in data["click_ids"].items()}
        for click_id, channel in click_ids.items():
            if channel not in CHANNELS:
                raise ValueError(f"click_ids.{click_id}: {channel!r} is not a channel")
        return Rules(
            ignored_referrers=_lowered(data.get("ignored_referrers", [])),
            paid_medium=re.compile(mediums["paid_regex"]),
            display_mediums=_lowered(mediums["display"]),
            social_mediums=_lowered(mediums["social"]),
            video_medium=re.compile(mediums["video_regex"]),
            organic_mediums=_lowered(mediums["organic"]),
            email_values=_lowered(mediums["email"]) | _lowered(sources["email"]),
            affiliate_mediums=_lowered(mediums["affiliate"]),
            referral_mediums=_lowered(mediums["referral"]),
            sms_values=_lowered(mediums["sms"]) | _lowered(sources["sms"]),
            direct_sources=_lowered(sources["direct"]),
            direct_mediums=_lowered(mediums["direct"]),
            shopping_campaign=re.compile(data["shopping_campaign_regex"]),
            click_ids=click_ids,
            call_event_types=_lowered(data["call_event_types"]),
        )
    except (KeyError, TypeError, AttributeError, re.error) as exc:
        raise ValueError(f"{path}: bad channel rules: {type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=1)
def rules() -> Rules:
    return load_rules()


def _is_own(host: str, hosts: frozenset[str]) -> bool:
    labels = host.split(".")
    return any(".".join(labels[i:]) in hosts for i in range(len(labels)))


_OWN = "(own)"  # a host of the site itself or an ignored redirect: no referrer
_CATEGORY_CHANNEL = {SEARCH: ORGANIC_SEARCH, SOCIAL: ORGANIC_SOCIAL, VIDEO: ORGANIC_SOCIAL}
_CATEGORY_CHANNEL |= {WEBMAIL: EMAIL, AI: AI_ASSISTANT, SHOPPING: REFERRAL}


@lru_cache(maxsize=65536)
def _host_channel(host: str, own_hosts: frozenset[str]) -> tuple[str, str, bool]:
    """(normalised host, its channel by itself — ``_OWN``, a channel, or '' for an unknown host —,
    whether the data has path rules for it). Cached: a site's referrers repeat."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    own = frozenset(h.strip().lower().removeprefix("www.") for h in own_hosts)
    if not host or _is_own(host, own) or _is_own(host, rules().ignored_referrers):
        return host, _OWN, False
    category = source_category(host)
    return host, _CATEGORY_CHANNEL.get(category or "", ""), bool(path_rules(host))


def _is_internal(host: str, page_url: str | None) -> bool:
    """The referrer is the page's own site (the same host, or one a subdomain of the other)."""
    if not page_url or host.rpartition(".")[0].rpartition(".")[2] not in page_url:
        return False  # cheap test first: the page URL does not even contain the host's name
    page = referrer_host(page_url)
    if page is None:
        return False
    return host == page or host.endswith("." + page) or page.endswith("." + host)


def _referral_channel(
    host: str | None,
    own_hosts: frozenset[str],
    referrer: str | None,
    page_url: str | None,
    ai_as_referral: bool,
) -> str:
    if host is None:
        return DIRECT
    host, channel, has_paths = _host_channel(host, own_hosts)
    if channel == _OWN:
        return DIRECT
    if has_paths:
        channel = _CATEGORY_CHANNEL.get(path_category(host, referrer) or "", channel)
    if channel == AI_ASSISTANT and ai_as_referral:
        return REFERRAL
    if not channel:
        return DIRECT if _is_internal(host, page_url) else REFERRAL
    return channel


def classify(
    campaign: Campaign,
    host: str | None,
    *,
    source_system: str | None = None,
    event_type: str | None = None,
    own_hosts: frozenset[str] = frozenset(),
    referrer: str | None = None,
    page_url: str | None = None,
    ai_as_referral: bool = False,
) -> str:
    """The channel of one event; see the module docstring for the rules and their order.
    ``referrer`` (the full URL) is read only for hosts with path rules, ``page_url`` only to tell
    an unknown referrer host from the page's own site."""
    r = rules()
    source = (campaign.source or "").strip().lower() or None
    medium = (campaign.medium or "").strip().lower() or None
    name = (campaign.campaign or "").strip().lower() or None
    click = campaign.click_id_type
    click_channel = r.click_ids.get(click) if click else None

    # 1. offline origin without web campaign
    if source is None and medium is None and name is None and click is None:
        if source_system == "call_tracking" or (
            event_type is not None and event_type.lower() in r.call_event_types
        ):
            return PHONE_CALL
        if source_system == "crm":
            return CRM_OFFLINE

    # 2. no source and no medium: click id, else referrer
    if source is None and medium is None:
        if click_channel is not None:
            return click_channel
        if name is None:
            return _referral_channel(host, own_hosts, referrer, page_url, ai_as_referral)

    return _ga4_channel(r, source, medium, name, click, ai_as_referral)


def _ga4_channel(
    r: Rules,
    source: str | None,
    medium: str | None,
    name: str | None,
    click: str | None,
    ai_as_referral: bool,
) -> str:
    """Step 3 of the module docstring: GA4's rules on source, medium and campaign name."""
    click_channel = r.click_ids.get(click) if click else None
    if source in r.direct_sources and (medium is None or medium in r.direct_mediums):
        return DIRECT
    category = source_category(source)
    paid = (medium is not None and r.paid_medium.match(medium) is not None) or (
        medium is None and click is not None
    )
    if paid:
        if category == SHOPPING or (name is not None and r.shopping_campaign.match(name)):
            return PAID_SEARCH
        if category == SEARCH:
            return PAID_SEARCH
        if category in (SOCIAL, VIDEO):
            return PAID_SOCIAL
    if medium in r.display_mediums:
        return DISPLAY
    if paid:
        return click_channel or OTHER
    if category == SOCIAL or medium in r.social_mediums:
        return ORGANIC_SOCIAL
    if category == VIDEO or (medium is not None and r.video_medium.match(medium)):
        return ORGANIC_SOCIAL
    if category == SEARCH or medium in r.organic_mediums:
        return ORGANIC_SEARCH
    if category == SHOPPING:
        return REFERRAL
    if category == AI and (medium is None or medium in r.referral_mediums):
        return REFERRAL if ai_as_referral else AI_ASSISTANT
    if category == WEBMAIL or source in r.email_values or medium in r.email_values:
        return EMAIL
    if medium in r.affiliate_mediums:
        return AFFILIATE
    if medium in r.referral_mediums:
        return REFERRAL
    if source in r.sms_values or medium in r.sms_values:
        return SMS
    return OTHER
