"""Plain-Python computations of the report queries, written from their documented definitions
(not from the SQL), to check the SQL against. Ratios use round(x, 6) like the queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from pipeline.sessions import campaign_key
from pipeline.utm import Campaign
from sinks.parameters import DEFAULTS
from synthetic import FUNNEL_STEPS

DAY_MS = 86_400_000
BOOKING = "touchline.events.BookingStep"
STEPS_ALL = FUNNEL_STEPS[:8]  # the widget steps up to success (failed is not a funnel step)
Event = dict[str, Any]


def canonical_map(merges: list[Event], splits: Sequence[Event] = ()) -> dict[tuple[str, str], str]:
    """Each merged-away client with its canonical client: the latest of a client's merges and
    unmerges (identity splits of kind ``unmerge``; at equal times the unmerge) decides, an unmerged
    client is no alias; chains are followed."""
    latest: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}

    def consider(key: tuple[str, str], order: tuple[Any, ...], target: str) -> None:
        if key not in latest or order > latest[key][0]:
            latest[key] = (order, target)

    for m in merges:
        if m["from_client_id"] != m["to_client_id"]:
            key = (m["account_id"], m["from_client_id"])
            consider(key, (m["merged_at"], 0, m["event_id"]), m["to_client_id"])
    for x in splits:
        if x["kind"] == "unmerge":
            key = (x["account_id"], x["to_client_id"])
            consider(key, (x["split_at"], 1, x["event_id"]), x["to_client_id"])
    links = {key: target for key, (_, target) in latest.items() if key[1] != target}
    out = {}
    for (account, src), target in links.items():
        for _ in range(7):
            nxt = links.get((account, target))
            if nxt is None:
                break
            target = nxt
        out[(account, src)] = target
    return out


def split_owner(splits: Sequence[Event]) -> dict[tuple[str, str], str]:
    """(account, identifier) -> the client its events belong to: the latest split naming it."""
    latest: dict[tuple[str, str], tuple[tuple[Any, ...], str]] = {}
    for x in splits:
        for identifier in x["identifiers"]:
            key, order = (x["account_id"], identifier), (x["split_at"], x["event_id"])
            if key not in latest or order > latest[key][0]:
                latest[key] = (order, x["to_client_id"])
    return {key: client for key, (_, client) in latest.items()}


def canonical(
    events: list[Event], merges: list[Event], splits: Sequence[Event] = ()
) -> list[Event]:
    """Distinct events (by event_id) with client_id resolved: an event carrying a split identifier
    (its email, else phone, else cid) belongs to that split's client, then merges are followed."""
    cmap = canonical_map(merges, splits)
    owners = split_owner(splits)
    seen: dict[str, Event] = {}
    for e in events:
        client = e["client_id"]
        for kind in ("email", "phone", "cid"):
            owner = owners.get((e["account_id"], f"{kind}:{e[kind]}")) if e[kind] else None
            if owner is not None:
                client = owner
                break
        seen[e["event_id"]] = {
            **e,
            "stitched_client_id": e["client_id"],
            "client_id": cmap.get((e["account_id"], client), client),
        }
    return list(seen.values())


def _day(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).date()


def _in_range(e: Event, start: date, end: date) -> bool:
    return start <= _day(e["occurred_at"]) <= end


def _loc_ok(e: Event, location: str) -> bool:
    return (
        not location
        or (e["location_id"] or "") == location
        or any(x["store_id"] == location for x in e["lines"])
    )


def _svc_ok(e: Event, service: str) -> bool:
    return not service or any(x["service_id"] == service for x in e["lines"])


def _bd_value(e: Event, breakdown: str) -> str:
    def first(field: str) -> str:
        return next((x[field] for x in e["lines"] if x[field]), "")

    return {
        "store": lambda: first("store_id"),
        "service": lambda: first("service_id"),
        "resource": lambda: first("resource_id"),
        "device": lambda: e["device_type"],
        "": lambda: "all",
    }[breakdown]()


def _clients(
    events: list[Event], p: dict[str, Any], types: set[str] | None
) -> dict[str, list[Event]]:
    by: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e["family"] != BOOKING or (types is not None and e["event_type"] not in types):
            continue
        if p["account"] and e["account_id"] != p["account"]:
            continue
        if _in_range(e, p["from"], p["to"]):
            by[e["client_id"]].append(e)
    out = {}
    for client, evs in by.items():
        if any(_loc_ok(e, p["location"]) for e in evs) and any(
            _svc_ok(e, p["service"]) for e in evs
        ):
            out[client] = sorted(evs, key=lambda e: e["occurred_at"])
    return out


CHOSEN_IN_WIDGET = ("store", "service", "resource")


def _first_step(steps: list[str], breakdown: str) -> int:
    """0-based index of the funnel's first step: where the breakdown's value is chosen."""
    if breakdown == "resource":
        return steps.index("appointment_booking_step_resources")
    if breakdown in CHOSEN_IN_WIDGET:
        return steps.index("appointment_booking_step_stores_and_services")
    return 0


def _breakdown_of(evs: list[Event], breakdown: str, visits: dict[str, str]) -> str:
    if breakdown in VISIT_BREAKDOWNS:
        return visits.get(evs[0]["client_id"]) or "(none)"
    return next((v for e in evs if (v := _bd_value(e, breakdown))), "(none)")


VISIT_BREAKDOWNS = ("channel", "campaign")


def booking_visits(events: list[Event], p: dict[str, Any]) -> dict[str, str]:
    """Client -> the channel (or campaign) of their booking visit: the event-time session in
    progress at their first booking event in the range (latest session start at or before it, by
    time then event id); no entry when they have no web hit by then."""
    if p["breakdown"] not in VISIT_BREAKDOWNS:
        return {}
    first: dict[str, Event] = {}
    for e in events:
        if e["family"] != BOOKING or not _in_range(e, p["from"], p["to"]):
            continue
        if p["account"] and e["account_id"] != p["account"]:
            continue
        f = first.get(e["client_id"])
        if f is None or (e["occurred_at"], e["event_id"]) < (f["occurred_at"], f["event_id"]):
            first[e["client_id"]] = e
    timeout = _param(p, "session_timeout_minutes") * 60_000
    starts: dict[str, dict[str, Event]] = defaultdict(dict)
    for _, _, start in event_time_sessions(events, timeout).values():
        starts[start["client_id"]][start["event_id"]] = start
    out = {}
    for client, step in first.items():
        before = [
            s
            for s in starts.get(client, {}).values()
            if (s["occurred_at"], s["event_id"]) <= (step["occurred_at"], step["event_id"])
        ]
        if before:
            visit = max(before, key=lambda s: (s["occurred_at"], s["event_id"]))
            value = own_channel(visit) if p["breakdown"] == "channel" else visit["utm_campaign"]
            out[client] = value or ""
    return out


def funnel_level(stamps: list[tuple[int, int]], n: int, window_ms: int, strict: bool) -> int:
    """Highest k such that steps 1..k occur in order within window_ms of the step-1 event.
    Non-strict: any subsequence. Strict: scanning in time order, the funnel ends at the first
    step seen whose previous step has not been reached yet (since the latest start)."""
    best = 0
    if not strict:
        for i, (t0, s0) in enumerate(stamps):
            if s0 != 1:
                continue
            level, want = 1, 2
            for t, s in stamps[i + 1 :]:
                if t - t0 > window_ms:
                    break
                if s == want:
                    level, want = want, want + 1
            best = max(best, level)
        return min(best, n)
    reached: dict[int, int] = {}  # step -> start time of the chain that reached it
    started = False
    for t, s in stamps:
        if s == 1:
            reached[1] = t
            started = True
        elif started and (s - 1) not in reached:
            return next(k for k in range(1, n + 1) if k not in reached) - 1
        elif (s - 1) in reached and t <= reached[s - 1] + window_ms:
            reached[s] = reached[s - 1]
            if s == n:
                return n
    return max(reached, default=0)


def booking_funnel(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    steps = STEPS_ALL if p["profiles"] else [s for s in STEPS_ALL if not s.endswith("profiles")]
    n = len(steps)
    first = _first_step(steps, p["breakdown"])
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    visits = booking_visits(events, p)
    for evs in _clients(events, p, set(steps)).values():
        stamps = [(e["occurred_at"], steps.index(e["event_type"]) + 1) for e in evs]
        level = funnel_level(stamps, n, p["window_ms"], bool(p["strict"]))
        bd = _breakdown_of(evs, p["breakdown"], visits)
        if bd == "(none)" and p["breakdown"] in CHOSEN_IN_WIDGET:
            continue  # left before choosing a store / service / resource
        row = counts[bd]
        for k in range(level):
            row[k] += 1
    out = []
    for bd in sorted(counts):
        row = counts[bd]
        for k in range(first, n):
            prev = row[k - 1] if k > first else row[first]
            out.append(
                (
                    bd,
                    k + 1,
                    steps[k],
                    row[k],
                    round(row[k] / prev, 6) if prev else 0,
                    round(row[k] / row[first], 6) if row[first] else 0,
                    prev - row[k],
                )
            )
    return out


def nearest_rank(sorted_values: list[int], pct: int) -> int:
    return sorted_values[-(-pct * len(sorted_values) // 100) - 1]


def booking_outcomes(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    groups: dict[str, list[list[Event]]] = defaultdict(list)
    visits = booking_visits(events, p)
    for evs in _clients(events, p, None).values():
        bd = _breakdown_of(evs, p["breakdown"], visits)
        if bd != "(none)" or p["breakdown"] not in CHOSEN_IN_WIDGET:
            groups[bd].append(evs)
    out = []
    for bd in sorted(groups):
        started = succeeded = failed = 0
        ttc: list[int] = []
        for evs in groups[bd]:
            types = [e["event_type"] for e in evs]
            starts = [e["occurred_at"] for e in evs if e["event_type"] == STEPS_ALL[0]]
            started += bool(starts)
            succeeded += STEPS_ALL[-1] in types
            failed += "appointment_booking_step_failed" in types
            if starts:
                succ = [
                    e["occurred_at"]
                    for e in evs
                    if e["event_type"] == STEPS_ALL[-1] and e["occurred_at"] >= starts[0]
                ]
                if succ:
                    ttc.append((succ[0] - starts[0]) // 1000)
        ttc.sort()
        out.append(
            (
                bd,
                started,
                succeeded,
                failed,
                round(succeeded / started, 6) if started else 0,
                round(failed / started, 6) if started else 0,
                len(ttc),
                nearest_rank(ttc, 50) if ttc else None,
                nearest_rank(ttc, 90) if ttc else None,
            )
        )
    return out


def _param(p: dict[str, Any], name: str) -> int:
    """A parameter, else the query's default (the worker's setting)."""
    return int(p.get(name, DEFAULTS[name]))


def own_channel(e: Event) -> str:
    """The event's own channel; a row stored without one has its stored channel (the column's
    DEFAULT)."""
    return str(e.get("own_channel") or e["channel"])


def _key(e: Event) -> str | None:
    return campaign_key(
        Campaign(
            source=e["utm_source"],
            medium=e["utm_medium"],
            campaign=e["utm_campaign"],
            term=e["utm_term"],
            content=e["utm_content"],
            click_id_type=e["click_id_type"],
        )
    )


def event_time_sessions(
    events: list[Event], timeout: int
) -> dict[str, tuple[tuple[str, str], int, Event]]:
    """Every web hit's session in event time: event id -> ((account, canonical client), session
    number, the session's first hit). Per client, hits (session_id set) in (occurred_at, event_id)
    order; a hit starts a session when it is the client's first, comes at least ``timeout`` ms
    after the previous hit, or has a campaign key different from its session's (the key of the
    session's first hit)."""
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        if e["session_id"] is not None:
            by[(e["account_id"], e["client_id"])].append(e)
    out: dict[str, tuple[tuple[str, str], int, Event]] = {}
    for client, hits in by.items():
        hits.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        last: int | None = None
        number, key_now, first = 0, None, hits[0]
        for e in hits:
            key = _key(e)
            if (
                last is None
                or e["occurred_at"] - last >= timeout
                or (key is not None and key != key_now)
            ):
                number, key_now, first = number + 1, key, e
            last = e["occurred_at"]
            out.setdefault(e["event_id"], (client, number, first))
    return out


def event_time_touches(
    events: list[Event], p: dict[str, Any]
) -> dict[tuple[str, str], list[Event]]:
    """Each (account, canonical client)'s touches, derived in event time from the raw columns only
    (session_id presence, own channel, UTM columns, click id type, is_contact, event_type,
    occurred_at, event_id), never from the stored is_touch / multichannel / channels_before or the
    channel given to web events. A web hit (session_id set) starts a session when it is the
    client's first hit, comes at least the session timeout after the previous hit, or has a
    campaign key different from its session's (the key of the session's first hit); touches are
    session starts, inbound contacts and CRM leads, oldest first, each once, with ``channel`` its
    own channel, ``multichannel`` (contacts with at least ``min_channels`` distinct channels among
    the touches in [contact - lookback, contact)) and ``channels_before`` (those channels in
    first-touch order)."""
    timeout = _param(p, "session_timeout_minutes") * 60_000
    lookback = _param(p, "lookback_days") * DAY_MS
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in events:
        if e["session_id"] is not None or e["is_contact"] or e["event_type"] == "crm_lead":
            by[(e["account_id"], e["client_id"])].append(e)
    out: dict[tuple[str, str], list[Event]] = {}
    sessions = event_time_sessions(events, timeout)
    for client, evs in by.items():
        evs.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        touches: list[Event] = []
        for e in evs:
            session = sessions.get(e["event_id"])
            starts = session is not None and session[2]["event_id"] == e["event_id"]
            if starts or e["is_contact"] or e["event_type"] == "crm_lead":
                before: dict[str, None] = {}
                for t in touches:
                    if e["occurred_at"] - lookback <= t["occurred_at"] < e["occurred_at"]:
                        before.setdefault(t["channel"], None)
                touches.append(
                    {
                        **e,
                        "channel": own_channel(e),
                        "channels_before": list(before),
                        "multichannel": bool(e["is_contact"])
                        and len(before) >= _param(p, "min_channels"),
                    }
                )
        out[client] = touches
    return out


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
        and _in_range(e, p["from"], p["to"])
        and _loc_ok(e, p["location"])
        and _svc_ok(e, p["service"])
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
        multi = len({t["channel"] for t in path}) >= _param(p, "min_channels")
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


def _filtered(events: list[Event], p: dict[str, Any], family: str | None = None) -> list[Event]:
    return [
        e
        for e in events
        if (family is None or e["family"] == family)
        and (not p["account"] or e["account_id"] == p["account"])
        and _in_range(e, p["from"], p["to"])
    ]


def _find_clients(events: list[Event], p: dict[str, Any]) -> set[str]:
    x = p["client"]
    return {
        e["client_id"]
        for e in events
        if (not p["account"] or e["account_id"] == p["account"])
        and x in (e["client_id"], e["stitched_client_id"], e["cid"], e["email"], e["phone"])
    }


def client_card(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """(client_id, occurred_at ms, event_type, kind, channel, utm_campaign, multichannel,
    channels_before, since_previous_s), touches derived in event time."""
    ids = _find_clients(events, p)
    touches = event_time_touches(events, p)
    out = []
    for cid in sorted(ids):
        rows = sorted(
            (
                t
                for (account, client), ts in touches.items()
                if client == cid and (not p["account"] or account == p["account"])
                for t in ts
            ),
            key=lambda e: (e["occurred_at"], e["event_id"]),
        )
        prev: int | None = None
        for e in rows:
            since = None if prev is None else (e["occurred_at"] - prev) // 1000
            kind = "contact" if e["is_contact"] else "touch"
            out.append(
                (
                    cid,
                    e["occurred_at"],
                    e["event_type"],
                    kind,
                    e["channel"],
                    e["utm_campaign"],
                    e["multichannel"],
                    e["channels_before"],
                    since,
                )
            )
            prev = e["occurred_at"]
    return out


def client_summary(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    derived = event_time_touches(events, p)
    out = []
    for cid in sorted(_find_clients(events, p)):
        evs = [
            e
            for e in events
            if e["client_id"] == cid and (not p["account"] or e["account_id"] == p["account"])
        ]
        touches = sorted(
            (
                t
                for (account, client), ts in derived.items()
                if client == cid and (not p["account"] or account == p["account"])
                for t in ts
            ),
            key=lambda e: (e["occurred_at"], e["event_id"]),
        )
        first = touches[0] if touches else None
        out.append(
            (
                cid,
                sorted({e["stitched_client_id"] for e in evs}),
                sorted({e["cid"] for e in evs if e["cid"] is not None}),
                sorted({e["email"] for e in evs if e["email"] is not None}),
                sorted({e["phone"] for e in evs if e["phone"] is not None}),
                first["occurred_at"] if first else None,
                first["channel"] if first else "",
                (first["utm_campaign"] or "") if first else "",
                len(touches),
                sum(e["is_contact"] for e in evs),
                sum(t["multichannel"] for t in touches),
                sorted({e["channel"] for e in touches}),
                _per_currency(evs),
                sorted({e["currency"] for e in evs if e["revenue_minor"] and e["currency"]}),
                sum(1 for e in evs if e["revenue_minor"]),
            )
        )
    return out


def _per_currency(evs: list[Event]) -> dict[str, int]:
    """Revenue in minor units per currency code ('' when none), never added across currencies."""
    out: dict[str, int] = {}
    for e in evs:
        if e["revenue_minor"]:
            cur = e["currency"] or ""
            out[cur] = out.get(cur, 0) + e["revenue_minor"]
    return out


def _rate(a: int, b: int) -> float:
    return round(a / b, 6) if b else 0


def _with_subtotals(
    units: list[tuple[str, str, dict[str, bool]]], row: Any
) -> list[tuple[Any, ...]]:
    """Rows per (location, key), then per location ('(all)' key), then the total, sorted like
    GROUPING SETS ((location, key), (location), ()) ordered by grouping and value."""
    out = []
    for loc in sorted({u[0] for u in units}):
        for key in sorted({u[1] for u in units if u[0] == loc}):
            out.append((loc, key, *row([u[2] for u in units if u[0] == loc and u[1] == key])))
        out.append((loc, "(all)", *row([u[2] for u in units if u[0] == loc])))
    out.append(("(all)", "(all)", *row([u[2] for u in units])))
    return out


def _own_location(e: Event) -> str:
    """An appointment's or class's own location (its line's store), else the envelope's."""
    own = e["lines"][0]["store_id"] if e["lines"] else None
    return own or e["location_id"] or ""


def _first_known(evs: list[Event], value: Any) -> str:
    for e in sorted(evs, key=lambda e: e["occurred_at"]):
        if v := value(e):
            return str(v)
    return "(none)"


def appointments(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    by: dict[str, list[Event]] = defaultdict(list)
    for e in _filtered(events, p, "touchline.events.AppointmentEvent"):
        if p["service"] and not (
            _svc_ok(e, p["service"]) or e["attributes"].get("service_id") == p["service"]
        ):
            continue
        by[e["attributes"].get("appointment_id") or e["event_id"]].append(e)
    units = []
    for evs in by.values():
        loc = _first_known(evs, _own_location)
        staff = _first_known(
            evs,
            lambda e: (
                e["attributes"].get("staff_id")
                or next((x["resource_id"] for x in e["lines"] if x["resource_id"]), "")
            ),
        )
        kinds = {e["event_type"].removeprefix("appointment_") for e in evs}
        if not p["location"] or loc == p["location"]:
            units.append(
                (
                    loc,
                    staff,
                    {
                        k: k in kinds
                        for k in ("scheduled", "confirmed", "arrived", "cancelled", "no_show")
                    },
                )
            )

    def row(us: list[dict[str, bool]]) -> tuple[Any, ...]:
        sch = sum(u["scheduled"] for u in us)
        conf = sum(u["scheduled"] and u["confirmed"] for u in us)
        arr = sum(u["scheduled"] and u["arrived"] for u in us)
        canc = sum(u["cancelled"] for u in us)
        ns = sum(u["no_show"] for u in us)
        seen = sum(u["arrived"] or u["no_show"] for u in us)
        return (sch, conf, arr, canc, ns, _rate(conf, sch), _rate(arr, sch), _rate(ns, seen))

    return _with_subtotals(units, row)


def classes(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in _filtered(events, p, "touchline.events.ClassEvent"):
        klass = e["attributes"].get("class_id") or next(
            (x["service_id"] for x in e["lines"] if x["service_id"]), "(none)"
        )
        if p["service"] and not (klass == p["service"] or _svc_ok(e, p["service"])):
            continue
        by[(e["client_id"], klass)].append(e)
    units = []
    for (_, klass), evs in by.items():
        loc = _first_known(evs, _own_location)
        if p["location"] and loc != p["location"]:
            continue
        kinds = [e["event_type"] for e in evs]
        waits = [e["occurred_at"] for e in evs if e["event_type"] == "class_waitlist_joined"]
        units.append(
            (
                loc,
                klass,
                {
                    "b": "class_booked" in kinds,
                    "su": "class_signed_up" in kinds,
                    "x": "class_cancelled" in kinds,
                    "late": any(
                        e["event_type"] == "class_cancelled"
                        and e["attributes"].get("cancellation_type") == "late_cancel"
                        for e in evs
                    ),
                    "w": bool(waits),
                    "wc": bool(waits)
                    and any(
                        e["event_type"] == "class_signed_up" and e["occurred_at"] > min(waits)
                        for e in evs
                    ),
                },
            )
        )

    def row(us: list[dict[str, bool]]) -> tuple[Any, ...]:
        c = {k: sum(u[k] for u in us) for k in ("b", "su", "x", "late", "w", "wc")}
        both = sum(u["b"] and u["su"] for u in us)
        return (
            c["b"],
            c["su"],
            c["x"],
            c["late"],
            c["w"],
            c["wc"],
            _rate(both, c["b"]),
            _rate(c["late"], c["x"]),
            _rate(c["wc"], c["w"]),
        )

    return _with_subtotals(units, row)


def class_cancellations(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for e in _filtered(events, p):
        if e["event_type"] != "class_cancelled" or not _loc_only(e, p["location"]):
            continue
        if p["service"] and not (
            e["attributes"].get("class_id") == p["service"] or _svc_ok(e, p["service"])
        ):
            continue
        loc = e["location_id"] or "(none)"
        counts[(loc, e["attributes"].get("cancellation_type") or "(unknown)")] += 1
    totals: dict[str, int] = defaultdict(int)
    for (loc, _), n in counts.items():
        totals[loc] += n
    return [(loc, t, n, round(n / totals[loc], 6)) for (loc, t), n in sorted(counts.items())]


def _loc_only(e: Event, location: str) -> bool:
    return not location or (e["location_id"] or "") == location


def engagement(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Per web session derived in event time (event_time_sessions) that has WebTouch events in
    the range: its breakdown value is that of the session's first hit (its own channel, device,
    campaign), its flags those of its WebTouch events in the range."""
    timeout = _param(p, "session_timeout_minutes") * 60_000
    of = event_time_sessions(events, timeout)
    sessions: dict[tuple[tuple[str, str], int], list[Event]] = defaultdict(list)
    for e in _filtered(events, p, "touchline.events.WebTouch"):
        if e["session_id"] is not None and _loc_only(e, p["location"]):
            client, number, _first = of[e["event_id"]]
            sessions[(client, number)].append(e)
    firsts = {(c, n): f for c, n, f in of.values()}
    groups: dict[str, list[set[str]]] = defaultdict(list)
    for session, evs in sessions.items():
        first = firsts[session]
        bd = {
            "channel": own_channel(first),
            "device": first["device_type"],
            "campaign": first["utm_campaign"] or "",
            "": "all",
        }[p["breakdown"]]
        groups[bd or "(none)"].append({e["event_type"] for e in evs})
    out = []
    for bd in sorted(groups):
        ss = groups[bd]
        viewed = sum("page_view" in s for s in ss)
        clicked = sum("page_view" in s and "booking_cta_click" in s for s in ss)
        started = sum("form_start" in s for s in ss)
        submitted = sum("form_start" in s and "form_submit" in s for s in ss)
        out.append(
            (
                bd,
                viewed,
                clicked,
                _rate(clicked, viewed),
                started,
                submitted,
                round(1 - submitted / started, 6) if started else 0,
                sum("booking_cancel" in s for s in ss),
            )
        )
    return out


def experiments(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    first: dict[tuple[str, str, str], Event] = {}
    for e in _filtered(events, p):
        if e["event_type"] != "experiment_exposure" or not _loc_only(e, p["location"]):
            continue
        key = (e["account_id"], e["client_id"], e["attributes"]["experiment_id"])
        if key not in first or (e["occurred_at"], e["event_id"]) < (
            first[key]["occurred_at"],
            first[key]["event_id"],
        ):
            first[key] = e
    conversions = [
        e
        for e in events
        if (e["revenue_minor"] > 0 or e["event_type"] == STEPS_ALL[-1])
        and (not p["account"] or e["account_id"] == p["account"])
    ]
    window = p["window_days"] * DAY_MS
    tally: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (account, client, experiment), e in first.items():
        t = tally[(experiment, e["attributes"]["variant"])]
        t[0] += 1
        t[1] += any(
            c["account_id"] == account
            and c["client_id"] == client
            and e["occurred_at"] <= c["occurred_at"] <= e["occurred_at"] + window
            for c in conversions
        )
    return [(x, v, n, k, round(k / n, 6)) for (x, v), (n, k) in sorted(tally.items())]


def feedback(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    groups: dict[str, list[Event]] = defaultdict(list)
    for e in _filtered(events, p, "touchline.events.Feedback"):
        if not _loc_only(e, p["location"]) or not e["attributes"].get("score"):
            continue
        key = (e["location_id"] or "(none)") if p["by"] == "location" else e["channel"]
        groups[key].append(e)
    out = []
    for key in sorted(groups):
        nps = [
            int(e["attributes"]["score"]) for e in groups[key] if e["event_type"] == "feedback_nps"
        ]
        csat = [
            (int(e["attributes"]["score"]), int(e["attributes"].get("scale") or 5))
            for e in groups[key]
            if e["event_type"] == "feedback_csat"
        ]
        prom = sum(s >= 9 for s in nps)
        det = sum(s <= 6 for s in nps)
        out.append(
            (
                key,
                len(nps),
                prom,
                det,
                round((prom - det) * 100 / len(nps), 6) if nps else None,
                len(csat),
                round(sum(s * 5 >= sc * 4 for s, sc in csat) / len(csat), 6) if csat else None,
                round(sum(s for s, _ in csat) / len(csat), 6) if csat else None,
            )
        )
    return out
