"""The live client card, as a call-tracking product shows it when the phone rings: who this is
and what touched them before. Reads the Redis store; rendering is pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipeline.touches import Touch, derive
from touchline.identity import extract
from touchline.normalize import PHONE_REGION


def identifier_key(
    *,
    phone: str | None = None,
    email: str | None = None,
    cid: str | None = None,
    region: str = PHONE_REGION,
) -> str | None:
    """The store key of the one identifier given, normalised like the worker does."""
    ids = extract({"phone": phone, "email": email, "cid": cid}, region)
    keys = ids.keys()
    return keys[0] if keys else None


def _when(ms: str | int | None) -> str:
    if ms in (None, ""):
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Rules:
    """What a touch is and when a contact is multichannel: the settings the worker uses."""

    timeout_ms: int
    lookback_ms: int
    min_channels: int


def touches_of(card: dict[str, Any], rules: Rules) -> list[Touch]:
    """The card's touches, derived in event time from the hits it keeps."""
    return derive(
        card["hits"],
        timeout_ms=rules.timeout_ms,
        lookback_ms=rules.lookback_ms,
        min_channels=rules.min_channels,
    )


def render(card: dict[str, Any], rules: Rules) -> str:
    """The card as text: identity, first touch, counters, revenue, then every touch kept (derived
    in event time from the card's hits, so arrival order does not change it)."""
    c = card["card"]
    touches = touches_of(card, rules)
    revenue = (
        ", ".join(
            f"{int(v) / 100:.2f} {k.split(':', 1)[1]}"
            for k, v in sorted(c.items())
            if k.startswith("revenue:")
        )
        or "0"
    )
    first = touches[0] if touches else None
    first_text = (
        f"{_when(first.at)}  {' / '.join(v for v in (first.channel, first.campaign) if v)}"
        if first
        else "-"
    )
    contacts = [t for t in touches if t.is_contact]
    lines = [
        f"client        {card['client_id']}",
        f"name          {c.get('name') or 'unknown'}",
        f"phone         {c.get('phone') or '-'}",
        f"location      {c.get('location') or '(undefined)'}",
        f"first touch   {first_text}",
        f"touches       {len(touches)}   contacts {len(contacts)}"
        f"   multichannel {sum(t.multichannel for t in contacts)}"
        f"   last contact {_when(c.get('lc_at'))}",
        f"channels      {', '.join(sorted({t.channel for t in touches})) or '-'}",
        f"revenue       {revenue}",
        "touches (oldest first):",
    ]
    previous: int | None = None
    for t in touches:
        gap = "" if previous is None else f"  (+{(t.at - previous) / 3_600_000:.1f} h)"
        kind = "contact" if t.is_contact else "touch"
        multi = f"  multichannel: {', '.join(t.channels_before)}" if t.multichannel else ""
        campaign = f" / {t.campaign}" if t.campaign else ""
        lines.append(f"  {_when(t.at)}  {kind:7}  {t.channel}{campaign}{gap}{multi}")
        previous = t.at
    return "\n".join(lines)
