"""Device type from a user agent: ``desktop``, ``mobile``, ``tablet``, ``bot`` or ``unknown``.

Parsing is the maintained ``ua-parser`` package (uap-core's regexes); this module only maps the
parser's device family/brand and OS family to the five types, in this order:

1. ``bot``: the parser's device family is ``Spider`` (Googlebot, bingbot, YandexBot, link
   previewers such as facebookexternalhit).
2. ``tablet``: device family ``iPad`` or ``Kindle``, brand ``Generic_Android_Tablet`` (uap-core's
   name for an Android device whose UA lacks the ``Mobile`` token), or a device family/model that
   names itself a tablet (``Galaxy Tab``, ``... Tablet``).
3. ``mobile``: a mobile OS (iOS, Android, Windows Phone, KaiOS/Firefox OS, ...), or a device the
   parser calls a phone (``iPhone``, ``iPod``, ``Generic Smartphone``).
4. ``desktop``: a desktop OS (Windows, macOS, Linux distributions, Chrome OS, BSDs).
5. ``unknown``: everything else, including empty input, non-browser clients (curl, HTTP libraries)
   and consoles/TVs without an OS the parser knows.

Known limits (uap-core's, not hidden here): an Android tablet whose brand the parser recognises
(e.g. ``Nexus 10``) is reported as ``mobile``; iPadOS 13+ Safari sends a macOS UA and is
reported as ``desktop``. Results are cached per user agent (``lru_cache``): UAs repeat a lot.
"""

from __future__ import annotations

from functools import lru_cache

import ua_parser

DESKTOP = "desktop"
MOBILE = "mobile"
TABLET = "tablet"
BOT = "bot"
UNKNOWN = "unknown"
DEVICE_TYPES = (DESKTOP, MOBILE, TABLET, BOT, UNKNOWN)

MAX_USER_AGENT_LENGTH = 1000
CACHE_SIZE = 16384

TABLET_FAMILIES = frozenset({"ipad", "kindle", "kindle fire", "playbook", "surface"})
TABLET_BRANDS = frozenset({"generic_android_tablet"})
PHONE_FAMILIES = frozenset({"iphone", "ipod", "generic smartphone", "generic feature phone"})
MOBILE_OS = frozenset(
    {
        "ios",
        "android",
        "windows phone",
        "windows mobile",
        "blackberry os",
        "firefox os",
        "kaios",
        "symbian os",
        "symbian^3",
        "tizen",
        "sailfish",
        "harmonyos",
        "ubuntu touch",
        "bada",
        "meego",
        "maemo",
    }
)
DESKTOP_OS = frozenset(
    {
        "mac os x",
        "macos",
        "linux",
        "ubuntu",
        "kubuntu",
        "debian",
        "fedora",
        "red hat",
        "suse",
        "opensuse",
        "mint",
        "linux mint",
        "arch linux",
        "gentoo",
        "mageia",
        "mandriva",
        "centos",
        "slackware",
        "chrome os",
        "chromecast os",
        "freebsd",
        "openbsd",
        "netbsd",
        "solaris",
        "sunos",
    }
)


def _is_desktop_os(os_family: str) -> bool:
    if os_family.startswith("windows"):
        return os_family not in ("windows phone", "windows mobile", "windows ce", "windows rt")
    return os_family in DESKTOP_OS


@lru_cache(maxsize=CACHE_SIZE)
def _device_type(user_agent: str) -> str:
    result = ua_parser.parse(user_agent)
    family = (result.device.family if result.device else "").lower()
    brand = ((result.device.brand or "") if result.device else "").lower()
    model = ((result.device.model or "") if result.device else "").lower()
    os_family = (result.os.family if result.os else "").lower()
    if family == "spider":
        return BOT
    if (
        family in TABLET_FAMILIES
        or brand in TABLET_BRANDS
        or "tablet" in family
        or "galaxy tab" in model
        or "galaxy tab" in family
    ):
        return TABLET
    if os_family in MOBILE_OS or family in PHONE_FAMILIES:
        return MOBILE
    if os_family and _is_desktop_os(os_family):
        return DESKTOP
    return UNKNOWN


def device_type(user_agent: str | None) -> str:
    """One of ``DEVICE_TYPES`` for a user agent string (see the module docstring)."""
    if not user_agent:
        return UNKNOWN
    text = user_agent.strip()[:MAX_USER_AGENT_LENGTH]
    if not text:
        return UNKNOWN
    return _device_type(text)


def warm_up() -> None:
    """Build the parser now (it compiles uap-core's rules on first use, a few hundred ms), so
    that cost falls at the worker's start rather than in its first batch."""
    ua_parser.parse("Mozilla/5.0")


def cache_clear() -> None:
    """Empty the per-user-agent cache (benchmarks measure cold calls with it)."""
    _device_type.cache_clear()
