"""What to generate, and the timeline's units. Nothing here reads the clock."""

from __future__ import annotations

from dataclasses import dataclass

from touchline.contracts import BOOKING_STEP, load_cached
from touchline.settings import get_settings

# The nine widget steps, in order, as the BookingStep contract lists them.
FUNNEL_STEPS = list(load_cached(get_settings().schemas_dir).families[BOOKING_STEP].event_types)

T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
YEAR = 365 * DAY


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. ``start_ms`` anchors the timeline; nothing reads the clock."""

    clients: int
    seed: int
    malformed_share: float = 0.0
    account_id: str = "demo-studio"
    start_ms: int = T0
    days: int = 60
    profiles_enabled: bool = True
    # share of persons who give the landline of a household of HOUSEHOLD people (each with their
    # own email) instead of a mobile: a phone that proves shared and splits who it linked
    household_share: float = 0.0


HOUSEHOLD = 4  # a family: more people than the default identity_max_share (2) lets one phone link
# share of a household's people whose first device is the family tablet: a web client id that
# proves shared too, so a call or a callback from it with the landline is nobody's but its own
FAMILY_TABLET_SHARE = 0.75
