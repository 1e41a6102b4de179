"""What brought the visitor: the effective campaign of an event's web context.

Where the values come from, per event:

1. The five ``utm_*`` fields of the web context, when at least one of them is non-empty. They are
   taken together: a sender that fills the fields is trusted over any query string.
2. Else the ``utm_*`` parameters of the ``landing_page`` query string (the page the visit started
   on carries the campaign), when it has at least one.
3. Else those of the ``page_url`` query string.

Click ids (``gclid``, ``gbraid``, ``wbraid``, ``dclid``, ``msclkid``, ``yclid``, ``fbclid``,
``ttclid``, ``li_fat_id``) come from the web context's own fields (gclid, fbclid, yclid, msclkid)
first, then from the landing page's query, then the page URL's. ``click_id_type`` names the first
one found in that order of sources and, within a source, in the order listed above. A click id
marks the traffic as paid (``Campaign.is_paid``); source and medium are left as sent (Touchline
does not invent ``google / cpc`` for a bare gclid — the channel classifier draws that conclusion).

Normalisation: every value is trimmed and empty values become None; ``source`` and ``medium`` are
lower-cased (GA4's channel rules are case-insensitive, and ``Google`` / ``google`` are one source
in every report); ``campaign``, ``term`` and ``content`` keep their case, as they are names people
chose and read back in reports (the classifier lower-cases campaign names itself where it matches
them). Values longer than ``MAX_VALUE_LENGTH`` characters are cut to that length.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_VALUE_LENGTH = 500

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Click id parameters in order of precedence; the web context has fields for the first four kinds.
CLICK_IDS = (
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "msclkid",
    "yclid",
    "fbclid",
    "ttclid",
    "li_fat_id",
)
WEB_CLICK_ID_FIELDS = ("gclid", "msclkid", "yclid", "fbclid")


@dataclass(frozen=True)
class Campaign:
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    click_id_type: str | None = None

    @property
    def is_paid(self) -> bool:
        """True when an ad click id came with the visit."""
        return self.click_id_type is not None

    @property
    def is_empty(self) -> bool:
        """True when nothing at all is known about the campaign."""
        return all(
            v is None
            for v in (
                self.source,
                self.medium,
                self.campaign,
                self.term,
                self.content,
                self.click_id_type,
            )
        )


NO_CAMPAIGN = Campaign()


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_VALUE_LENGTH] if text else None


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def query_params(url: str | None) -> dict[str, str]:
    """The first non-empty value of every query parameter of ``url`` (names lower-cased); {} for
    None or an unparsable URL. Parameters after a ``#`` are read too (some single-page apps put
    the campaign in the fragment)."""
    if not url or not isinstance(url, str):
        return {}
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return {}
    query = parts.query
    if "=" in parts.fragment:
        fragment = parts.fragment.split("?", 1)[-1]
        query = f"{query}&{fragment}" if query else fragment
    out: dict[str, str] = {}
    try:
        parsed = parse_qs(query, keep_blank_values=False)
    except ValueError:
        return {}
    for name, values in parsed.items():
        key = name.strip().lower()
        for v in values:
            cleaned = _clean(v)
            if cleaned is not None and key not in out:
                out[key] = cleaned
    return out


def _utm_from(source: Mapping[str, Any]) -> dict[str, str | None] | None:
    values = {f: _clean(source.get(f)) for f in UTM_FIELDS}
    return values if any(v is not None for v in values.values()) else None


_CAMPAIGN_INPUTS = ("landing_page", "page_url", *UTM_FIELDS, *WEB_CLICK_ID_FIELDS)
_campaign_inputs = itemgetter(*_CAMPAIGN_INPUTS)


def effective_campaign(web: Mapping[str, Any] | None) -> Campaign:
    """The campaign of an event's web context (see the module docstring for the rules)."""
    if not web:
        return NO_CAMPAIGN
    # A visit's pages repeat the same landing page and tags: the result is cached by its inputs.
    try:
        inputs = _campaign_inputs(web)  # a decoded web context has every field
    except KeyError:
        inputs = tuple(web.get(f) for f in _CAMPAIGN_INPUTS)
    return _campaign(inputs)


@lru_cache(maxsize=8192)
def _campaign(inputs: tuple[Any, ...]) -> Campaign:
    web = dict(zip(_CAMPAIGN_INPUTS, inputs, strict=True))
    landing = query_params(web.get("landing_page"))
    page = query_params(web.get("page_url"))
    utm = _utm_from(web) or _utm_from(landing) or _utm_from(page) or {}
    click_id_type: str | None = None
    web_clicks = {f: web.get(f) for f in WEB_CLICK_ID_FIELDS}
    for params in (web_clicks, landing, page):
        click_id_type = next((c for c in CLICK_IDS if _clean(params.get(c)) is not None), None)
        if click_id_type is not None:
            break
    return Campaign(
        source=_lower(utm.get("utm_source")),
        medium=_lower(utm.get("utm_medium")),
        campaign=utm.get("utm_campaign"),
        term=utm.get("utm_term"),
        content=utm.get("utm_content"),
        click_id_type=click_id_type,
    )


@lru_cache(maxsize=8192)
def referrer_host(url: str | None) -> str | None:
    """The lower-cased host of a referrer URL without a leading ``www.`` (and without port,
    credentials or trailing dot); a bare host (``google.com/x``) is accepted. None for empty or
    host-less input (``about:blank``, ``not a url``)."""
    if not url or not isinstance(url, str):
        return None
    text = url.strip()
    if not text:
        return None
    if "://" not in text and not text.startswith("//"):
        text = "//" + text
    try:
        host = urlsplit(text).hostname
    except ValueError:
        return None
    if not host:
        return None
    host = host.strip().rstrip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host or any(ch.isspace() for ch in host) or ("." not in host and host != "localhost"):
        return None
    return host


@lru_cache(maxsize=8192)
def referrer_path(url: str | None) -> str:
    """The lower-cased path of a referrer URL without a trailing slash (``https://x.com/i/grok/``
    → ``/i/grok``); '' for none or an unparsable URL."""
    if not url or not isinstance(url, str):
        return ""
    text = url.strip()
    if "://" not in text and not text.startswith("//"):
        text = "//" + text
    try:
        path = urlsplit(text).path
    except ValueError:
        return ""
    return path.rstrip("/").lower()
