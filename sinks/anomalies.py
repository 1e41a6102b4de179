"""Booking-health anomalies: an hour-of-week seasonal baseline (the median of the same hours in
the previous weeks), a robust score, an expected band and a minimum-volume guard. Pure.

Method, for each account and series (a metric of ``hourly_metrics``, ``events:<source>``, or the
conversion rate) and each hour t:

- window: the ``window_hours`` hours ending at t, summed (a 3-hour window sees a 60 % drop that
  one hour's counting noise hides);
- baseline: the same window one, two, ... ``baseline_weeks`` weeks earlier (those inside the
  account's data; at least ``min_baseline_weeks``, else no verdict). Counts are compared on
  Anscombe's scale y = 2 sqrt(x + 3/8), where Poisson noise has variance 1 at every level (so a
  quiet evening and a busy noon are judged alike): expected = the median of the past y; the
  residual u = y - expected. The conversion rate (successes / starts in the window) has the
  residual u = (p - median of past p) / sqrt(p(1 - p) / starts), its binomial noise;
- scale: 1.4826 x the MAD of the series' residuals over every hour with volume (expected count
  >= 5, or starts >= ``min_volume``) in the data read: the robust sigma of this series' residuals
  (day-to-day variation, the noise of a median of a few weeks), pooled over hours because four
  weekly values are too few to estimate a spread per hour; never below sqrt(1 + pi / 2n), the
  pure counting noise of a value and of the median of n weeks;
- score = u / scale; band = the values with |score| <= ``threshold``, back on the series' scale;
- guard: a drop needs an expected count >= ``min_volume``, a spike an actual count >=
  ``min_volume``, a conversion-rate alert ``min_volume`` booking starts in the window: quiet hours
  never alert.

Consecutive flagged hours of one series and direction are one alert (:func:`alerts`).
"""

from __future__ import annotations

import calendar
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from touchline.settings import Settings, default

WEEK_HOURS = 168
MAD_SIGMA = 1.4826
RATE = "conversion_rate"
COUNT_METRICS = (
    "booking_starts",
    "booking_successes",
    "calls",
    "contacts",
    "no_shows",
    "cancellations",
)

SeriesKey = tuple[str, str]  # (account, series)
Counts = dict[int, float]  # hour index (hours since the epoch, UTC) -> value


@dataclass(frozen=True)
class Config:
    baseline_weeks: int = default("anomaly_baseline_weeks")
    min_baseline_weeks: int = 2
    window_hours: int = default("anomaly_window_hours")
    threshold: float = default("anomaly_threshold")
    min_volume: float = default("anomaly_min_volume")

    @classmethod
    def from_settings(cls, s: Settings) -> Config:
        return cls(
            baseline_weeks=s.anomaly_baseline_weeks,
            window_hours=s.anomaly_window_hours,
            threshold=s.anomaly_threshold,
            min_volume=s.anomaly_min_volume,
        )


@dataclass(frozen=True)
class Point:
    account: str
    series: str
    hour: int
    actual: float
    expected: float
    lower: float
    upper: float
    score: float
    flag: int  # -1 drop, +1 spike, 0 normal


@dataclass(frozen=True)
class Alert:
    account: str
    series: str
    direction: int
    start: int  # first flagged hour
    end: int  # last flagged hour + 1
    peak: Point  # the point with the largest |score|


def hour_index(value: datetime | str | int | float) -> int:
    """Hours since the epoch of a UTC datetime (naive = UTC), its ISO text (as the sink's query
    endpoint sends it) or epoch seconds."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return calendar.timegm(value.utctimetuple()) // 3600
    return int(value) // 3600


def hour_datetime(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, tz=UTC)


@dataclass
class Series:
    """Every series of the rollup rows, and each account's span of data (first, last hour)."""

    counts: dict[SeriesKey, Counts]
    span: dict[str, tuple[int, int]]

    def value(self, key: SeriesKey, hour: int) -> float:
        return self.counts.get(key, {}).get(hour, 0.0)

    def window(self, key: SeriesKey, end: int, hours: int) -> float:
        return sum(self.value(key, h) for h in range(end - hours + 1, end + 1))


def series_from_rows(rows: Iterable[Sequence[Any]]) -> Series:
    """Rows of ``anomaly_hourly.sql`` (account, metric, series_source, hour, n, ...)."""
    counts: dict[SeriesKey, Counts] = defaultdict(dict)
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    for account, metric, source, hour, n, *_ in rows:
        h = hour_index(hour)
        name = f"{metric}:{source}" if source else metric
        counts[(account, name)][h] = float(n)
        first[account] = min(first.get(account, h), h)
        last[account] = max(last.get(account, h), h)
    span = {a: (first[a], last[a]) for a in first}
    return Series(dict(counts), span)


def series_names(series: Series, account: str) -> list[str]:
    names = {name for a, name in series.counts if a == account} | set(COUNT_METRICS)
    return [*sorted(names), RATE]


def anscombe(x: float) -> float:
    return 2.0 * math.sqrt(max(x, 0.0) + 0.375)


def _counts_of(y: float) -> float:
    return max((y / 2.0) ** 2 - 0.375, 0.0) if y > 0 else 0.0


@dataclass(frozen=True)
class _Residual:
    t: int
    actual: float
    expected: float
    u: float  # residual in noise units (before the pooled scale)
    volume: float  # what the guard reads: expected count, or booking starts
    unit: float  # rate: binomial sd of the window; counts: 0 (band on Anscombe's scale)
    centre: float  # counts: the median on Anscombe's scale; rate: the median rate


def _past(series: Series, account: str, t: int, cfg: Config) -> list[int]:
    """The window ends one, two, ... weeks before t that lie inside the account's data."""
    start = series.span[account][0]
    ends = [t - k * WEEK_HOURS for k in range(1, cfg.baseline_weeks + 1)]
    return [e for e in ends if e - cfg.window_hours + 1 >= start]


def _count_residual(series: Series, key: SeriesKey, t: int, cfg: Config) -> _Residual | None:
    past = _past(series, key[0], t, cfg)
    if len(past) < cfg.min_baseline_weeks:
        return None
    actual = series.window(key, t, cfg.window_hours)
    centre = statistics.median(anscombe(series.window(key, e, cfg.window_hours)) for e in past)
    expected = _counts_of(centre)
    return _Residual(t, actual, expected, anscombe(actual) - centre, expected, 0.0, centre)


def _rate_residual(series: Series, account: str, t: int, cfg: Config) -> _Residual | None:
    starts, wins = (account, "booking_starts"), (account, "booking_successes")
    n = series.window(starts, t, cfg.window_hours)
    history = []
    for e in _past(series, account, t, cfg):
        past_n = series.window(starts, e, cfg.window_hours)
        if past_n > 0:
            history.append(series.window(wins, e, cfg.window_hours) / past_n)
    if n <= 0 or len(history) < cfg.min_baseline_weeks:
        return None
    actual = series.window(wins, t, cfg.window_hours) / n
    expected = statistics.median(history)
    p = min(max(expected, 0.01), 0.99)
    unit = math.sqrt(p * (1 - p) / n)
    return _Residual(t, actual, expected, (actual - expected) / unit, n, unit, expected)


def _scale(residuals: list[_Residual], rate: bool, cfg: Config) -> float:
    floor = math.sqrt(1.0 + math.pi / (2 * cfg.baseline_weeks))
    pooled = [r.u for r in residuals if r.volume >= (cfg.min_volume if rate else 5.0)]
    if len(pooled) < 10:
        return floor
    centre = statistics.median(pooled)
    mad = statistics.median(abs(u - centre) for u in pooled)
    return max(MAD_SIGMA * mad, floor)


def _point(key: SeriesKey, r: _Residual, scale: float, rate: bool, cfg: Config) -> Point:
    score = r.u / scale
    z = cfg.threshold * scale
    if rate:
        lower, upper = max(r.centre - z * r.unit, 0.0), min(r.centre + z * r.unit, 1.0)
        big = abs(score) > cfg.threshold and r.volume >= cfg.min_volume
        flag = (1 if score > 0 else -1) if big else 0
    else:
        lower, upper = _counts_of(r.centre - z), _counts_of(r.centre + z)
        flag = 0
        if score < -cfg.threshold and r.expected >= cfg.min_volume:
            flag = -1
        elif score > cfg.threshold and r.actual >= cfg.min_volume:
            flag = 1
    return Point(key[0], key[1], r.t, r.actual, r.expected, lower, upper, score, flag)


def series_points(
    series: Series, key: SeriesKey, cfg: Config, first: int, last: int
) -> list[Point]:
    """The points of one series for the hours first..last; the scale pools the account's span."""
    start, end = series.span[key[0]]
    rate = key[1] == RATE
    residuals = []
    for t in range(start, end + 1):
        r = _rate_residual(series, key[0], t, cfg) if rate else _count_residual(series, key, t, cfg)
        if r is not None:
            residuals.append(r)
    scale = _scale(residuals, rate, cfg)
    return [_point(key, r, scale, rate, cfg) for r in residuals if first <= r.t <= last]


def detect(
    series: Series, cfg: Config, first: int | None = None, last: int | None = None
) -> list[Point]:
    """Points of every series of every account for the hours first..last (default: the
    account's whole span); hours without enough baseline weeks have no point."""
    points = []
    for account, (start, end) in sorted(series.span.items()):
        lo = start if first is None else max(first, start)
        hi = end if last is None else min(last, end)
        for name in series_names(series, account):
            points.extend(series_points(series, (account, name), cfg, lo, hi))
    return points


def alerts(points: Iterable[Point]) -> list[Alert]:
    """Runs of consecutive flagged hours of one series in one direction."""
    out: list[Alert] = []
    ordered = sorted((p for p in points if p.flag), key=lambda p: (p.account, p.series, p.hour))
    for p in ordered:
        prev = out[-1] if out else None
        if (
            prev is not None
            and (prev.account, prev.series, prev.direction) == (p.account, p.series, p.flag)
            and prev.end == p.hour
        ):
            peak = p if abs(p.score) > abs(prev.peak.score) else prev.peak
            out[-1] = Alert(p.account, p.series, p.flag, prev.start, p.hour + 1, peak)
        else:
            out.append(Alert(p.account, p.series, p.flag, p.hour, p.hour + 1, p))
    return out
