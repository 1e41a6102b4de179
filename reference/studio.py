"""Appointments, classes and class cancellations (sinks/sql/queries/appointments.sql,
classes.sql, class_cancellations.sql). Pure."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from reference.selection import Event, envelope_location_ok, filtered, rate, service_ok


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
    for e in sorted(evs, key=lambda e: (e["occurred_at"], e["event_id"])):
        if v := value(e):
            return str(v)
    return "(none)"


def appointments(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    by: dict[str, list[Event]] = defaultdict(list)
    for e in filtered(events, p, "touchline.events.AppointmentEvent"):
        if p["service"] and not (
            service_ok(e, p["service"]) or e["attributes"].get("service_id") == p["service"]
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
        return (sch, conf, arr, canc, ns, rate(conf, sch), rate(arr, sch), rate(ns, seen))

    return _with_subtotals(units, row)


def classes(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    by: dict[tuple[str, str], list[Event]] = defaultdict(list)
    for e in filtered(events, p, "touchline.events.ClassEvent"):
        klass = e["attributes"].get("class_id") or next(
            (x["service_id"] for x in e["lines"] if x["service_id"]), "(none)"
        )
        if p["service"] and not (klass == p["service"] or service_ok(e, p["service"])):
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
            rate(both, c["b"]),
            rate(c["late"], c["x"]),
            rate(c["wc"], c["w"]),
        )

    return _with_subtotals(units, row)


def class_cancellations(events: list[Event], p: dict[str, Any]) -> list[tuple[Any, ...]]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for e in filtered(events, p):
        if e["event_type"] != "class_cancelled" or not envelope_location_ok(e, p["location"]):
            continue
        if p["service"] and not (
            e["attributes"].get("class_id") == p["service"] or service_ok(e, p["service"])
        ):
            continue
        loc = e["location_id"] or "(none)"
        counts[(loc, e["attributes"].get("cancellation_type") or "(unknown)")] += 1
    totals: dict[str, int] = defaultdict(int)
    for (loc, _), n in counts.items():
        totals[loc] += n
    return [(loc, t, n, round(n / totals[loc], 6)) for (loc, t), n in sorted(counts.items())]
