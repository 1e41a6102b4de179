"""Reference attribution maths: how much of one conversion each channel (or key) gets.

The touches that count are those in the lookback window before the conversion, exactly as for
multichannel contacts (``pipeline.multichannel.in_window``: ``conversion_at - lookback_ms <= at <
conversion_at``), ordered by ``(at, event_id)``. Credits are summed per key (the touch's channel
unless ``key`` says otherwise) and add up to 1.0. A conversion with no touch in the window is
credited entirely to ``direct`` (``{"direct": 1.0}``), as web analytics does for visits with no
known source.

Models (``MODELS``):

- ``first_touch`` / ``last_touch``: all credit to the first / last touch;
- ``last_non_direct``: all credit to the last touch whose channel is not ``direct``; to the last
  touch if all are direct;
- ``linear``: equal credit per touch;
- ``time_decay``: weight ``2 ** (-(conversion_at - at) / half_life_ms)`` per touch, normalised
  (computed relative to the newest touch so that old touches never underflow all weights to 0);
- ``position_based``: 40 % first, 40 % last, 20 % shared equally by the touches between; one touch
  gets 100 %, two touches 50 % each.

The ClickHouse attribution queries are checked against this module.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipeline.multichannel import Touch, in_window

FIRST_TOUCH = "first_touch"
LAST_TOUCH = "last_touch"
LAST_NON_DIRECT = "last_non_direct"
LINEAR = "linear"
TIME_DECAY = "time_decay"
POSITION_BASED = "position_based"
MODELS = (FIRST_TOUCH, LAST_TOUCH, LAST_NON_DIRECT, LINEAR, TIME_DECAY, POSITION_BASED)

NO_TOUCH_KEY = "direct"
DIRECT_CHANNEL = "direct"
DAY_MS = 86_400_000
DEFAULT_HALF_LIFE_MS = 7 * DAY_MS


def _by_channel(touch: Touch) -> str:
    return touch.channel


def weights(
    touches: Sequence[Touch], conversion_at: int, model: str, *, half_life_ms: int
) -> list[float]:
    """The weight of each touch (already in window and ordered), summing to 1."""
    n = len(touches)
    if model == FIRST_TOUCH:
        return [1.0] + [0.0] * (n - 1)
    if model == LAST_TOUCH:
        return [0.0] * (n - 1) + [1.0]
    if model == LAST_NON_DIRECT:
        pick = next(
            (i for i in range(n - 1, -1, -1) if touches[i].channel != DIRECT_CHANNEL), n - 1
        )
        return [1.0 if i == pick else 0.0 for i in range(n)]
    if model == LINEAR:
        return [1.0 / n] * n
    if model == TIME_DECAY:
        newest = max(t.at for t in touches)
        raw = [2.0 ** (-(newest - t.at) / half_life_ms) for t in touches]
        total = sum(raw)
        return [w / total for w in raw]
    if model == POSITION_BASED:
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        middle = 0.2 / (n - 2)
        return [0.4] + [middle] * (n - 2) + [0.4]
    raise ValueError(f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}")


def credit(
    touches: Sequence[Touch],
    conversion_at: int,
    model: str,
    *,
    lookback_ms: int,
    half_life_ms: int = DEFAULT_HALF_LIFE_MS,
    key: Callable[[Touch], str] = _by_channel,
) -> dict[str, float]:
    """Credit per key for one conversion (see the module docstring); raises ValueError for an
    unknown model or a non-positive half life."""
    if model not in MODELS:
        raise ValueError(
            f"unknown attribution model {model!r}; expected one of {', '.join(MODELS)}"
        )
    if half_life_ms <= 0:
        raise ValueError(f"half_life_ms must be positive, got {half_life_ms}")
    window = in_window(touches, conversion_at, lookback_ms)
    if not window:
        return {NO_TOUCH_KEY: 1.0}
    out: dict[str, float] = {}
    for touch, weight in zip(
        window, weights(window, conversion_at, model, half_life_ms=half_life_ms), strict=True
    ):
        k = key(touch)
        out[k] = out.get(k, 0.0) + weight
    return out
