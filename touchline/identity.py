"""Which identifiers an event carries, normalised. Pure.

An identifier is ``kind:value``: ``cid`` (web analytics client id), ``email`` (normalised),
``phone`` (E.164) and ``ext.<system>`` (a source system's client id). Email and source-system ids
are *strong*: they name one person. Client ids and phones are *weak*: a shared tablet or a
front-desk phone carries many people. The identity store (``pipeline.store``) counts the distinct
strong identifiers seen with each identifier; one seen with more than
``identity_max_share`` of them is treated as shared and no longer used to link or merge clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from touchline.clientid import client_id_from_ga
from touchline.normalize import (
    PHONE_REGION,
    normalize_email,
    normalize_external_id,
    normalize_phone,
)

STRONG_KINDS = ("email", "ext.")


@dataclass(frozen=True)
class Identifiers:
    cid: str | None
    email: str | None
    phone: str | None
    external: tuple[str, ...]  # "system:id" (normalize_external_id), sorted

    def keys(self) -> list[str]:
        """Every identifier as ``kind:value``, strongest first (the order resolution tries)."""
        out = [f"ext.{value}" for value in self.external]
        if self.email:
            out.append(f"email:{self.email}")
        if self.phone:
            out.append(f"phone:{self.phone}")
        if self.cid:
            out.append(f"cid:{self.cid}")
        return out


def is_strong(key: str) -> bool:
    return key.startswith(STRONG_KINDS)


def extract(ids: Mapping[str, Any], default_region: str = PHONE_REGION) -> Identifiers:
    """Normalise the envelope's identifiers; unusable values (garbage email, impossible phone)
    are dropped here, never guessed."""
    external = ids.get("external_ids") or {}
    # one client's events repeat the same identifiers: normalise each combination once
    return _extract(
        ids.get("cid"), ids.get("email"), ids.get("phone"), tuple(external.items()), default_region
    )


@lru_cache(maxsize=65536)
def _extract(
    cid: Any, email: Any, phone: Any, external: tuple[tuple[str, Any], ...], default_region: str
) -> Identifiers:
    return Identifiers(
        cid=client_id_from_ga(cid),
        email=normalize_email(email),
        phone=normalize_phone(phone, default_region),
        external=tuple(
            sorted(
                normalize_external_id(system, str(value))
                for system, value in external
                if value and str(value).strip()
            )
        ),
    )
