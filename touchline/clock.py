"""The one wall clock, in epoch milliseconds: when ingest received an event, when the worker
processed it, when a stage refused it. Event time (``occurred_at``) comes from the events
themselves, never from here."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Wall-clock time in epoch milliseconds."""
    return int(time.time() * 1000)
