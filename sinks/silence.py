"""Source silence ("the booking widget stopped sending"): how surprising it is that a source has
sent nothing since its last event, by its hour-of-week arrival rate. Pure.

A source's events come in bursts of one client (a widget visit sends several steps within
minutes), so its arrivals are *clients*: the baseline rate r(h) of an hour h is the median of the
distinct clients of that source in the same hour of the week in the previous weeks
(``hourly_metrics.clients``; as :mod:`sinks.anomalies`, at least two weeks, else no verdict), per
minute r(h)/60. With Poisson arrivals the chance of no arrival since the last event is
e^-score, where the **silence score** is the expected number of arrivals in that time: the sum
over its minutes of r(h)/60. The source is silent once the score passes
``TOUCHLINE_ANOMALY_SILENCE_SCORE`` (11: e^-11 = 1.7e-5 per arrival, about half a false alert
in a month of 30,000 visits). The expected-rate guard is built in: at night, with r(h) near 0,
the score grows slowly; and explicitly, no hour whose baseline is under
``TOUCHLINE_ANOMALY_SILENCE_MIN_RATE`` clients alerts (a source quiet at night, or one that only
ever sends a trickle, is never called silent; a silence that began in the evening is reported
when the morning should have been busy). At 60 clients an hour the score passes 11 after 11
minutes, so a source is alerted within 15 minutes when it has at least 44 an hour.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sinks.anomalies import WEEK_HOURS, hour_index
from touchline.settings import Settings, default

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

Activity = dict[tuple[str, str], dict[int, float]]  # (account, source) -> hour -> clients
Expected = Callable[[int], float | None]  # hour index -> expected clients (None: unknown)


@dataclass(frozen=True)
class Rule:
    threshold: float = default("anomaly_silence_score")  # score above which a source is silent
    min_rate: float = default("anomaly_silence_min_rate")  # clients/hour the baseline must reach

    @classmethod
    def from_settings(cls, s: Settings) -> Rule:
        return cls(s.anomaly_silence_score, s.anomaly_silence_min_rate)

    def silent(self, score: float, expected_now: float | None) -> bool:
        return score > self.threshold and (expected_now or 0.0) >= self.min_rate


@dataclass(frozen=True)
class SilenceAlert:
    account: str
    source: str
    last_event_ms: int  # the last event before the silence
    alerted_ms: int  # when the score passed the threshold
    resumed_ms: int | None  # the next event, None if the stream ended silent


def activity_from_rows(rows: Iterable[Sequence[Any]]) -> Activity:
    """Distinct clients per (account, source) and hour from ``anomaly_hourly.sql`` rows."""
    out: Activity = {}
    for account, metric, source, hour, _n, clients in rows:
        if metric == "events" and source:
            out.setdefault((account, source), {})[hour_index(hour)] = float(clients)
    return out


def expected_activity(
    hours: dict[int, float], first_hour: int, weeks: int, min_weeks: int = 2
) -> Expected:
    """r(h): the median clients of hour h one to ``weeks`` weeks earlier, counting hours from
    ``first_hour`` (the start of the data) on; None with fewer than ``min_weeks`` such weeks."""
    cache: dict[int, float | None] = {}

    def expected(h: int) -> float | None:
        if h not in cache:
            past = [h - k * WEEK_HOURS for k in range(1, weeks + 1)]
            values = [hours.get(p, 0.0) for p in past if p >= first_hour]
            cache[h] = statistics.median(values) if len(values) >= min_weeks else None
        return cache[h]

    return expected


def hazard(clients_per_hour: float | None) -> float:
    """Expected arrivals per minute in an hour with this many expected clients."""
    if clients_per_hour is None or clients_per_hour <= 0:
        return 0.0
    return clients_per_hour / 60.0


def score(last_ms: int, now_ms: int, expected: Expected) -> float:
    """The silence score of no event in (last_ms, now_ms]: the hazard of each hour times the
    minutes of the silence that fall in it."""
    total, t = 0.0, last_ms
    while t < now_ms:
        h = t // HOUR_MS
        upto = min((h + 1) * HOUR_MS, now_ms)
        total += hazard(expected(h)) * (upto - t) / MINUTE_MS
        t = upto
    return total


def first_alert(last_ms: int, until_ms: int, expected: Expected, rule: Rule) -> int | None:
    """The first whole minute after ``last_ms`` (up to ``until_ms``) at which the source is
    silent by ``rule``, as a scan every minute would see it; None if it never is."""
    total, t = 0.0, last_ms
    while t < until_ms:
        step = min(MINUTE_MS - t % MINUTE_MS, until_ms - t)
        total += hazard(expected(t // HOUR_MS)) * step / MINUTE_MS
        t += step
        if rule.silent(total, expected((t - 1) // HOUR_MS)):
            return t
    return None


def stream_alerts(
    account: str,
    source: str,
    times_ms: Sequence[int],
    end_ms: int,
    expected: Expected,
    rule: Rule,
) -> list[SilenceAlert]:
    """Replay one source's events (sorted event times) through a per-minute silence scan: one
    alert per gap in which the source becomes silent by ``rule``."""
    out = []
    for i, last in enumerate(times_ms):
        nxt = times_ms[i + 1] if i + 1 < len(times_ms) else None
        at = first_alert(last, nxt if nxt is not None else end_ms, expected, rule)
        if at is not None:
            out.append(SilenceAlert(account, source, last, at, nxt))
    return out
