"""Web sessions: a visit from one of many channels (paid search with gclid, paid social with
fbclid, organic search and social, email, referral, direct), its page views, and the A/B test of
the booking CTA."""

from __future__ import annotations

from typing import Any

from synthetic.catalog import PAGES, SITE
from synthetic.config import MINUTE
from synthetic.truth import Person
from synthetic.world import World

# channel -> (weight, utm_source, utm_medium, campaigns, referrer, click id field)
Channel = tuple[float, str | None, str | None, tuple[str, ...], str | None, str | None]
CHANNELS: dict[str, Channel] = {
    "paid_search": (
        0.22,
        "google",
        "cpc",
        ("brand", "yoga_generic", "massage_berlin"),
        None,
        "gclid",
    ),
    "organic_search": (0.2, None, None, (), "https://www.google.com/", None),
    "paid_social": (
        0.12,
        "instagram",
        "paid_social",
        ("reels_spring", "stories_trial"),
        None,
        "fbclid",
    ),
    "organic_social": (0.08, None, None, (), "https://www.instagram.com/", None),
    "email": (0.1, "newsletter", "email", ("monthly", "winback"), None, None),
    "referral": (0.08, None, None, (), "https://www.yelp.com/biz/studio", None),
    "direct": (0.2, None, None, (), None, None),
}
CHANNEL_NAMES = list(CHANNELS)
CHANNEL_WEIGHTS = [c[0] for c in CHANNELS.values()]
TERMS = ("yoga studio", "massage near me", "physio berlin", "pilates class")
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1",
)
EXPERIMENT = "exp-book-cta"
# (variant, CTA id, CTA text, click rate)
VARIANTS = (
    ("control", "cta-book-now", "Book now", 0.22),
    ("b", "cta-book-today", "Book your first session today", 0.3),
)


def session(w: World, person: Person, t: int, cid: str) -> tuple[int, dict[str, Any]]:
    """One visit on device ``cid``: page views, maybe the CTA test. Returns (end, web context)."""
    rng = w.rng
    channel = rng.choices(CHANNEL_NAMES, CHANNEL_WEIGHTS)[0]
    person.channels.append(channel)
    landing = rng.randrange(len(PAGES))
    web = _arrival(w, channel, PAGES[landing][0])
    pages = 1 + int(rng.random() * 4)
    ids = {"cid": cid}
    for n in range(pages):
        path, title = PAGES[(landing + n) % len(PAGES)]
        page_web = {**web, "page_url": f"{SITE}{path}"}
        w.emit(
            person,
            "page_view",
            "web",
            t,
            ids,
            {"page_title": title, "time_on_page_ms": rng.randrange(3_000, 120_000)},
            page_web,
        )
        t += rng.randrange(10_000, 3 * MINUTE)
    if rng.random() < 0.45:  # the booking CTA is on every page; half the visitors see the test
        t = cta_test(w, person, t, ids, web)
    return t + rng.randrange(5_000, MINUTE), web


def _arrival(w: World, channel: str, landing_path: str) -> dict[str, Any]:
    """The web context of a visit from ``channel``: UTM tags, click id, referrer, landing page."""
    rng = w.rng
    _, source, medium, campaigns, referrer, click_id = CHANNELS[channel]
    query = ""
    web: dict[str, Any] = {"user_agent": rng.choice(USER_AGENTS)}
    if source is not None:
        campaign = rng.choice(campaigns)
        web.update(utm_source=source, utm_medium=medium, utm_campaign=campaign)
        query = f"?utm_source={source}&utm_medium={medium}&utm_campaign={campaign}"
        if channel == "paid_search":
            web["utm_term"] = rng.choice(TERMS)
        web["utm_content"] = f"v{rng.randrange(1, 4)}"
    if click_id is not None:
        web[click_id] = f"{click_id[:2].upper()}{rng.getrandbits(64):016x}"
        query += f"&{click_id}={web[click_id]}"
    if referrer is not None:
        web["referrer"] = referrer
    web["landing_page"] = f"{SITE}{landing_path}{query}"
    return web


def cta_test(w: World, person: Person, t: int, ids: dict[str, Any], web: dict[str, Any]) -> int:
    """The person sees their variant of the booking CTA and may click it. Returns the time after."""
    rng = w.rng
    # Sticky assignment: a person always sees the same variant.
    variant, cta_id, cta_text, click_rate = VARIANTS[int(person.person_id[1:]) % 2]
    w.emit(
        person,
        "experiment_exposure",
        "experiment",
        t,
        ids,
        {"experiment_id": EXPERIMENT, "variant": variant, "cta_id": cta_id},
        web,
    )
    w.exposed.setdefault(variant, set()).add(person.person_id)
    if rng.random() < click_rate:
        t += rng.randrange(2_000, 40_000)
        w.emit(
            person,
            "booking_cta_click",
            "web",
            t,
            ids,
            {"cta_id": cta_id, "cta_text": cta_text, "hash": "book"},
            {**web, "page_url": f"{SITE}/#book"},
        )
        w.clicked.setdefault(variant, set()).add(person.person_id)
    return t
