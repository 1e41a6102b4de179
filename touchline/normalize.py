"""Canonical forms of the identifiers identity stitching joins on.

- Email: trimmed (also of a ``mailto:`` prefix and surrounding ``<>``), lower-cased, and checked
  for the shape ``local@domain.tld`` (one ``@``, no whitespace or control characters, local part at
  most 64 and the whole at most 254 characters, domain labels of letters/digits/hyphens not starting
  or ending with a hyphen, a top-level label of at least two letters). Anything else is None.
  Gmail dots and ``+tags`` are kept: ``j.doe+x@gmail.com`` and ``jdoe@gmail.com`` may be one
  mailbox, but Touchline does not guess provider rules that are not published contracts, and
  merging two different people is worse than missing a merge.
- Phone: parsed with ``phonenumbers`` (numbers without a country code are read in
  ``default_region``; ``00``/``+`` prefixes, spaces, dashes, brackets and ``tel:`` are understood)
  and returned as E.164 (``+4930123456``) when the number is valid for its region; with
  ``strict=False`` a merely *possible* number (right length) is accepted too. None otherwise.
  Results are cached per input (parsing costs ~25 µs; numbers repeat).
- External id: ``<system>:<value>``, system lower-cased and trimmed, value trimmed (case kept:
  source systems' ids may be case-sensitive).
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from touchline.settings import default

_LABEL = re.compile(r"(?!-)[a-z0-9\-]{1,63}(?<!-)", re.ASCII)
_TLD = re.compile(r"(?:[a-z]{2,63}|xn--[a-z0-9\-]{1,59})", re.ASCII)
_LOCAL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>()\[\],;:\\\"@]")
MAX_PHONE_INPUT = 64
PHONE_REGION: str = default("phone_region")  # TOUCHLINE_PHONE_REGION's default


def normalize_email(value: str | None) -> str | None:
    """Trimmed, lower-cased email, or None if it does not have an email's shape."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    text = text.lower()
    if len(text) > 254 or text.count("@") != 1:
        return None
    local, domain = text.split("@")
    if not local or len(local) > 64 or _LOCAL_FORBIDDEN.search(local):
        return None
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    domain = domain.rstrip(".") if domain.endswith(".") and not domain.endswith("..") else domain
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if not _TLD.fullmatch(labels[-1]):
        return None
    return f"{local}@{domain}"


def normalize_phone(
    value: str | None, default_region: str = PHONE_REGION, *, strict: bool = True
) -> str | None:
    """E.164 form of a phone number; None unless it is valid (``strict``) or possible."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_PHONE_INPUT:
        return None
    return _e164(text, (default_region or "").upper(), strict)


@lru_cache(maxsize=65536)  # identity stitching sees the same numbers again and again
def _e164(text: str, default_region: str, strict: bool) -> str | None:
    try:
        number = phonenumbers.parse(text, default_region or None)
    except phonenumbers.NumberParseException:
        return None
    ok = phonenumbers.is_valid_number(number) if strict else phonenumbers.is_possible_number(number)
    if not ok:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_external_id(system: str, value: str) -> str:
    """``<system>:<value>``; raises ValueError for an empty system or value, or a system name
    containing ``:`` or whitespace (it would make the key ambiguous)."""
    name = (system or "").strip().lower()
    ident = (value or "").strip() if isinstance(value, str) else str(value).strip()
    if not name:
        raise ValueError("external id: system name is empty")
    if ":" in name or any(ch.isspace() for ch in name):
        raise ValueError(f"external id: system name {system!r} must not contain ':' or spaces")
    if not ident:
        raise ValueError(f"external id: value for system {name!r} is empty")
    return f"{name}:{ident}"
