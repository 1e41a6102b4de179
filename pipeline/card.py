"""The live client card, as a call-tracking product shows it when the phone rings: who this is
and what touched them before. Reads the Redis store; rendering is pure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline.identity import extract


def identifier_key(
    *,
    phone: str | None = None,
    email: str | None = None,
    cid: str | None = None,
    region: str = "DE",
) -> str | None:
    """The store key of the one identifier given, normalised like the worker does."""
    ids = extract({"phone": phone, "email": email, "cid": cid}, region)
    keys = ids.keys()
    return keys[0] if keys else None


def _when(ms: str | int | None) -> str:
    if ms in (None, ""):
        return "-"
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(card: dict[str, Any]) -> str:
    """The card as text: identity, first touch, counters, revenue, then every touch kept."""
    c = card["card"]
    revenue = (
        ", ".join(
            f"{int(v) / 100:.2f} {k.split(':', 1)[1]}"
            for k, v in sorted(c.items())
            if k.startswith("revenue:")
        )
        or "0"
    )
    first = (
        " / ".join(v for v in (c.get("ft_channel"), c.get("ft_source"), c.get("ft_campaign")) if v)
        or "-"
    )
    lines = [
        f"client        {card['client_id']}",
        f"name          {c.get('name') or 'unknown'}",
        f"phone         {c.get('phone') or '-'}",
        f"location      {c.get('location') or '(undefined)'}",
        f"first touch   {_when(c.get('ft_at'))}  {first}",
        f"touches       {c.get('touch_count', 0)}   contacts {c.get('contact_count', 0)}"
        f"   last contact {_when(c.get('lc_at'))}",
        f"channels      {', '.join(card['channels']) or '-'}",
        f"revenue       {revenue}",
        "touches kept (oldest first):",
    ]
    previous: int | None = None
    for member, at in card["touches"]:
        channel = member.split("|", 1)[1] if "|" in member else "?"
        gap = "" if previous is None else f"  (+{(at - previous) / 3_600_000:.1f} h)"
        lines.append(f"  {_when(at)}  {channel}{gap}")
        previous = at
    return "\n".join(lines)
