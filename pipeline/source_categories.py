"""What kind of site a utm_source value or a referrer is: GA4's source categories (``search``,
``shopping``, ``social``, ``video``) plus ``email`` (webmail) and ``ai`` (AI assistants).

The tables are ``pipeline/channel_hosts.json`` (generated from Matomo's and GA4's lists by
``touchline channels refresh``, see ``pipeline.channel_data``) with the hand-kept ``categories``
of ``pipeline/channel_rules.json`` laid over them:

* ``names``: a utm_source value as written (``fb``, ``google shopping``, ``perplexity``);
* ``hosts``: a host equal to the entry or a subdomain of it (``m.facebook.com``);
* ``tld_hosts``: ``<entry>.<country suffix>`` (``google`` → google.de, google.co.uk,
  google.com.br), also as a subdomain (``lightmailer.gmx.de``);
* ``paths``: a path prefix that decides over its host's category (``x.com`` + ``/i/grok``).

The most specific match wins: the host, then each parent domain, and at each level an exact host
before a country-suffix entry (mail.google.com beats google.{}). A subdomain nothing matches whose
first label says webmail (``webmail_host_label_regex``: webmail.x.de, owa.x.com, wmail.x.fr) is
webmail; a registrable domain never is by its name (dailymail.co.uk).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.utm import referrer_path

SEARCH = "search"
SHOPPING = "shopping"
SOCIAL = "social"
VIDEO = "video"
WEBMAIL = "email"
AI = "ai"

RULES_PATH = Path(__file__).with_name("channel_rules.json")
HOSTS_PATH = Path(__file__).with_name("channel_hosts.json")

# Second-level labels of country suffixes ('<name>.{}' matches google.co.uk, google.com.br).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ne", "or", "ac", "edu", "gov", "gob", "it"})


@dataclass(frozen=True)
class Categories:
    names: dict[str, str]
    hosts: dict[str, str]
    tld_hosts: dict[str, str]
    paths: dict[str, tuple[tuple[str, str], ...]]
    webmail_label: re.Pattern[str]


def load_categories(rules_data: Mapping[str, Any], hosts_path: Path = HOSTS_PATH) -> Categories:
    """The tables from the generated file and the rules file's ``categories`` (already parsed);
    KeyError/TypeError/AttributeError/re.error on a malformed file."""
    generated = json.loads(hosts_path.read_text(encoding="utf-8"))
    names = {str(k): str(v) for k, v in generated["names"].items()}
    hosts = {str(k): str(v) for k, v in generated["hosts"].items()}
    tld_hosts = {str(k): str(v) for k, v in generated["tld_hosts"].items()}
    for category, lists in rules_data["categories"].items():
        for name in lists.get("names", []):
            names[name.lower()] = category
        for brand in lists.get("brands", []):
            tld_hosts[brand.lower()] = category
            names[brand.lower()] = category
        for domain in lists.get("domains", []):
            hosts[domain.lower()] = category
    for key, value in tld_hosts.items():
        names.setdefault(key, value)
    paths = {
        str(host): tuple(sorted(((str(p), str(c)) for p, c in prefixes.items()), reverse=True))
        for host, prefixes in generated["paths"].items()
    }
    webmail_label = re.compile(rules_data["webmail_host_label_regex"])
    return Categories(names, hosts, tld_hosts, paths, webmail_label)


@lru_cache(maxsize=1)
def categories() -> Categories:
    return load_categories(json.loads(RULES_PATH.read_text(encoding="utf-8")))


def _suffix_keys(host: str) -> list[tuple[str, str | None]]:
    """(host or parent domain, its name before the country suffix or None), most specific first:
    ``a.google.co.uk`` → (a.google.co.uk, a.google), (google.co.uk, google), (co.uk, None)."""
    labels = host.split(".")
    n = len(labels)
    cut = n - 1
    if n > 2 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        cut = n - 2
    tld_ok = labels[-1].isalpha() and len(labels[-1]) >= 2
    return [
        (".".join(labels[i:]), ".".join(labels[i:cut]) if tld_ok and i < cut else None)
        for i in range(n - 1)
    ]


def _host_category(host: str, c: Categories) -> str | None:
    keys = _suffix_keys(host)
    for full, name in keys:
        category = c.hosts.get(full)
        if category is None and name is not None:
            category = c.tld_hosts.get(name)
        if category is not None:
            return category
    # only a subdomain's first label: keys[1] has a name when the host is below a registrable one
    if len(keys) > 1 and keys[1][1] and c.webmail_label.search(host.partition(".")[0]):
        return WEBMAIL
    return None


@lru_cache(maxsize=65536)
def source_category(value: str | None) -> str | None:
    """``search``, ``shopping``, ``social``, ``video``, ``email`` (webmail), ``ai`` (AI
    assistant) or None for a utm_source value or a referrer host."""
    if not value:
        return None
    text = value.strip().lower().rstrip(".")
    if text.startswith("www."):
        text = text[4:]
    c = categories()
    category = c.names.get(text)
    if category is not None:
        return category
    if "." in text and " " not in text:
        return _host_category(text, c)
    return None


@lru_cache(maxsize=8192)
def path_rules(host: str) -> tuple[tuple[str, str], ...]:
    """Path prefixes that decide over the category of ``host`` (longest first); () for most."""
    c = categories()
    for full, name in _suffix_keys(host):
        found = c.paths.get(full) or (c.paths.get(name + ".{}") if name else None)
        if found:
            return found
    return ()


def path_category(host: str, referrer: str | None) -> str | None:
    """The category a path rule gives the referrer URL ``referrer`` on ``host``, else None."""
    prefixes = path_rules(host)
    if not prefixes or not referrer:
        return None
    path = referrer_path(referrer)
    for prefix, category in prefixes:
        if path == prefix or path.startswith(prefix + "/"):
            return category
    return None
