"""Attribution of conversions to the touches before them under six models
(sinks/sql/queries/attribution.sql), touches derived in event time. Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reference.selection import (
    DAY_MS,
    STEPS_ALL,
    Event,
    in_range,
    location_ok,
    param,
    service_ok,
)
from reference.touches import event_time_touches

MODELS = ["first", "last", "last_non_direct", "linear", "time_decay", "position"]


def _weights(model: str, path: list[Event], conv_ts: int, half_life_days: float) -> list[float]:
    n = len(path)
    if model == "first":
        return [1.0 if i == 0 else 0.0 for i in range(n)]
    if model == "last":
        return [1.0 if i == n - 1 else 0.0 for i in range(n)]
    if model == "last_non_direct":
        idx = max((i for i, t in enumerate(path) if t["channel"] != "direct"), default=n - 1)
        return [1.0 if i == idx else 0.0 for i in range(n)]
    if model == "linear":
        return [1.0 / n] * n
    if model == "time_decay":
        raw = [0.5 ** ((conv_ts - t["occurred_at"]) / (half_life_days * DAY_MS)) for t in path]
        return [r / sum(raw) for r in raw]
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    return [0.4 if i in (0, n - 1) else 0.2 / (n - 2) for i in range(n)]


def attribution(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    lookback = p["lookback_days"] * DAY_MS
    conversions = [
        e
        for e in events
        if (e["revenue_minor"] > 0 or e["event_type"] == STEPS_ALL[-1])
        and (not p["account"] or e["account_id"] == p["account"])
        and in_range(e, p["from"], p["to"])
        and location_ok(e, p["location"])
        and service_ok(e, p["service"])
    ]
    touches = event_time_touches(events, p)
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    revenue: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    models = [m for m in MODELS if not p["model"] or m == p["model"]]
    for c in conversions:
        ts = c["occurred_at"]
        path = sorted(
            (
                t
                for t in touches.get((c["account_id"], c["client_id"]), [])
                if ts - lookback <= t["occurred_at"] <= ts and t["event_id"] != c["event_id"]
            ),
            key=lambda t: (t["occurred_at"], t["event_id"]),
        )
        multi = len({t["channel"] for t in path}) >= param(p, "min_channels")
        if not path:
            keys = ["(no touch)"]
        elif p["by"] == "campaign":
            keys = [t["utm_campaign"] or "(none)" for t in path]
        else:
            keys = [t["channel"] for t in path]
        for m in models:
            ws = _weights(m, path, ts, p["half_life_days"]) if path else [1.0]
            for key, w in zip(keys, ws, strict=True):
                acc = sums[(m, key)]
                acc[0] += w
                acc[1] += w * multi
                if c["revenue_minor"] > 0:  # per currency, never added up across currencies
                    per = revenue[(m, key)]
                    cur = c["currency"] or ""
                    per[cur] = per.get(cur, 0.0) + w * c["revenue_minor"]
    return [
        (
            m,
            key,
            round(v[0], 6),
            {cur: round(amount, 6) for cur, amount in revenue[(m, key)].items()},
            round(v[1] / v[0], 6) if v[0] else 0,
        )
        for (m, key), v in sorted(sums.items(), key=lambda kv: (MODELS.index(kv[0][0]), kv[0][1]))
    ]
