"""Docstrings shown to people (``--help``, the OpenAPI page): without reStructuredText markup.

The modules document themselves in reST (``:func:`x```, ````x````, ``text::``); `--help` and the
OpenAPI descriptions (Markdown) show the same text with that markup turned into what they read:
Markdown code spans for the API page, bare words for a terminal. Pure."""

from __future__ import annotations

import re
import textwrap

_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")  # :func:`ingest_config` -> ingest_config
_LITERAL = re.compile(r"``([^`]+)``")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def markdown(doc: str) -> str:
    """reST roles and literals as Markdown code spans; ``text::`` as ``text:``."""
    text = _ROLE.sub(r"`\1`", doc)
    text = _LITERAL.sub(r"`\1`", text)
    return re.sub(r"::$", ":", text, flags=re.MULTILINE)


def terminal(paragraph: str, width: int = 79) -> str:
    """One docstring paragraph as plain wrapped text for ``--help``."""
    text = _BOLD.sub(r"\1", _ROLE.sub(r"\1", _LITERAL.sub(r"\1", paragraph)))
    return textwrap.fill(" ".join(text.split()), width)
