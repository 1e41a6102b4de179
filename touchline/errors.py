"""Errors that end a command with one line telling the user what to do."""

from __future__ import annotations

from pydantic import ValidationError


class TouchlineError(Exception):
    """A problem the user can fix; the CLI prints ``touchline: <message>`` and exits 2."""


def settings_error(exc: ValidationError) -> str:
    """One line naming each refused variable and why, e.g. ``TOUCHLINE_LOOKBACK_DAYS: Input should
    be less than or equal to 365 (got 400)``."""
    return "; ".join(
        f"TOUCHLINE_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']} (got {e.get('input')!r})"
        for e in exc.errors()
    )
