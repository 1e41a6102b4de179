"""Source adapters: pure functions from a source's native payload to contract JSON events.

Each module maps one source; ``ADAPTERS`` names them as the API exposes them
(``POST /v1/sources/<name>``). An adapter raises :class:`AdapterError` naming the native field it
cannot map; the contract itself is checked afterwards by ``producers.events.prepare``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from producers.adapters import booking_widget, call_tracking, crm, studio
from producers.adapters.native import AdapterError

Convert = Callable[[Any, str | None], list[dict[str, Any]]]


@dataclass(frozen=True)
class Adapter:
    title: str
    doc: str
    convert: Convert


ADAPTERS: dict[str, Adapter] = {
    "booking-widget": Adapter(
        booking_widget.TITLE, booking_widget.__doc__ or "", booking_widget.convert
    ),
    "studio": Adapter(studio.TITLE, studio.__doc__ or "", studio.convert),
    "call-tracking": Adapter(
        call_tracking.TITLE, call_tracking.__doc__ or "", call_tracking.convert
    ),
    "crm": Adapter(crm.TITLE, crm.__doc__ or "", crm.convert),
}

__all__ = ["ADAPTERS", "Adapter", "AdapterError"]
