"""The web analytics client id, taken from whatever form a sender put it in.

A Google Analytics ``_ga`` cookie looks like ``GA1.2.147852369.3692587411``: a version
(``GA1``), the number of domain components the cookie was set on (``1`` for ``example.com``,
``2`` for ``.example.com``; older trackers write ``1-2``), then the client id itself — a random
number and the first-visit timestamp in seconds. Touchline keeps only the client id,
``147852369.3692587411``, which is also what GA's reports and the Measurement Protocol call the
client id.

Accepted (after trimming whitespace and surrounding quotes, and an optional ``_ga=`` prefix):

- a raw ``_ga`` value, ``GA<version>.<domain depth>[-<n>].<random>.<timestamp>``, for GA1 (Universal
  Analytics) and GA4 (``GA1.1...``) alike;
- an already normalised ``<random>.<timestamp>``.

Everything else is garbage and gives ``None``: empty strings, values with letters or other
separators, parts longer than 20 digits, and GA4 session cookies (``_ga_<container>``, values
``GS1.1.1692...`` / ``GS2.1.s1692...``) — those hold session state (session id, session number,
engagement), not a client id, so there is nothing sensible to take from them.
"""

from __future__ import annotations

import re

_RAW_GA = re.compile(r"GA\d{1,3}\.\d{1,3}(?:-\d{1,3})?\.(\d{1,20}\.\d{1,20})", re.ASCII)
_CLIENT_ID = re.compile(r"\d{1,20}\.\d{1,20}", re.ASCII)


def client_id_from_ga(value: str | None) -> str | None:
    """The client id in a ``_ga`` cookie value or an already normalised client id; None for
    garbage (see the module docstring)."""
    if value is None:
        return None
    text = value.strip().strip("\"'").strip()
    if text[:4].lower() == "_ga=":
        text = text[4:].strip()
    if not text:
        return None
    raw = _RAW_GA.fullmatch(text.upper() if text[:2].lower() == "ga" else text)
    if raw is not None:
        return raw.group(1)
    if _CLIENT_ID.fullmatch(text):
        return text
    return None
