"""Generated EnrichedEvent datums and identity merges with planted structure, for report tests.

Defaults come from the EnrichedEvent schema itself (no field list is copied here)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any

from synthetic import FUNNEL_STEPS
from touchline.contracts import ENRICHED, load_cached
from touchline.settings import REPO_ROOT

STEPS = FUNNEL_STEPS[:8]  # the widget steps up to success (failed is not a funnel step)
CHANNELS = ["direct", "organic_search", "paid_search", "email", "paid_social", "phone_call"]
CAMPAIGNS = [None, "spring", "brand", "retarget"]
SOURCES = ["google", "newsletter", "facebook"]
DEVICES = ["desktop", "mobile", "tablet"]
STORES = ["s1", "s2", "s3"]
SERVICES = ["cut", "color", "massage"]
STAFF = ["r1", "r2", "r3", "r4"]
DAY_MS = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
# Report parameters over the whole generated year, with the rules' parameters spelled out.
BASE: dict[str, Any] = {
    "account": "",
    "from": date(2025, 1, 1),
    "to": date(2025, 12, 31),
    "location": "",
    "service": "",
    "session_timeout_minutes": 30,
    "lookback_days": 90,
    "min_channels": 2,
}
SESSION_MS = 30 * 60_000  # the default session timeout


def defaults() -> dict[str, Any]:
    schema = load_cached(REPO_ROOT / "schemas").raw[ENRICHED]
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        if "default" in f:
            d = f["default"]
            out[f["name"]] = (
                list(d) if isinstance(d, list) else (dict(d) if isinstance(d, dict) else d)
            )
    return out


def line(**values: Any) -> dict[str, Any]:
    base = {
        "store_id": None,
        "store_name": None,
        "service_id": None,
        "service_name": None,
        "resource_id": None,
        "resource_name": None,
        "category": None,
        "quantity": 1,
        "amount_minor": 0,
    }
    base.update(values)
    return base


def event(**values: Any) -> dict[str, Any]:
    datum = defaults()
    ts = values.get("occurred_at", T0)
    datum.update(
        event_id=str(uuid.uuid4()),
        event_type="page_view",
        family="touchline.events.WebTouch",
        occurred_at=ts,
        received_at=ts + 5,
        processed_at=ts + 9,
        source="website",
        account_id="acc1",
        client_id="c-unknown",
        channel="direct",
    )
    datum.update(values)
    return datum


def merge(account: str, src: str, dst: str, at: int) -> dict[str, Any]:
    return {
        "merged_at": at,
        "account_id": account,
        "from_client_id": src,
        "to_client_id": dst,
        "reason": "email",
        "identifier_hash": None,
        "event_id": str(uuid.uuid4()),
    }


def split(
    account: str,
    kind: str,
    src: str,
    dst: str,
    identifiers: list[str],
    at: int,
    via: str = "phone",
    event_id: str | None = None,
) -> dict[str, Any]:
    """An IdentitySplit datum: ``claim`` (the identifiers go from src to dst) or ``unmerge``."""
    return {
        "split_at": at,
        "account_id": account,
        "kind": kind,
        "from_client_id": src,
        "to_client_id": dst,
        "identifiers": identifiers,
        "via": via,
        "event_id": event_id or str(uuid.uuid4()),
    }


# The reference client card's row (reference.cards.client_card), by the client_card query's columns.
CARD_COLUMNS = (
    "client_id",
    "occurred_at",
    "event_type",
    "kind",
    "channel",
    "utm_campaign",
    "multichannel",
    "channels_before",
    "since_previous_s",
)


def ms(value: Any) -> int:
    """A ClickHouse DateTime64 as read back (naive means UTC) in epoch milliseconds."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    return int(aware.timestamp() * 1000)


def card_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The client_card query's rows in the reference's shape (occurred_at in ms)."""
    pick = [columns.index(c) for c in CARD_COLUMNS]
    return [(r[pick[0]], ms(r[pick[1]]), *(r[i] for i in pick[2:])) for r in rows]


def summary_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The client_summary query's rows in the reference's shape (first touch in ms)."""
    return [(r[0], *r[1:5], ms(r[5]), *r[6:]) for r in rows]


@dataclass
class Dataset:
    events: list[dict[str, Any]] = field(default_factory=list)
    merges: list[dict[str, Any]] = field(default_factory=list)


def generate(seed: int = 7, clients: int = 120) -> Dataset:
    """Clients with touches, booking journeys (some out of order, some slow, some failed), orders,
    appointments, classes, web engagement, experiments and feedback, across two accounts; some
    clients are split into aliases joined later by (chained) identity merges."""
    rnd = random.Random(seed)
    data = Dataset()
    ts_used: set[int] = set()

    def at(ms: int) -> int:
        while ms in ts_used:  # unique timestamps: every ordering in the reports is unambiguous
            ms += 1
        ts_used.add(ms)
        return ms

    for i in range(clients):
        account = "acc1" if i % 5 else "acc2"
        canonical = f"c{i}"
        ids = [canonical]
        if i % 7 == 0:
            ids = [canonical, f"c{i}-alias"]
            data.merges.append(merge(account, ids[1], canonical, T0 + 40 * DAY_MS))
        if i % 11 == 0:
            ids = [canonical, f"c{i}-a", f"c{i}-b"]
            data.merges.append(merge(account, ids[2], ids[1], T0 + 30 * DAY_MS))
            data.merges.append(merge(account, ids[1], canonical, T0 + 31 * DAY_MS))
        location = rnd.choice(STORES)
        device = rnd.choice(DEVICES)
        t = T0 + rnd.randrange(0, 50) * DAY_MS + rnd.randrange(0, DAY_MS)
        common = {"account_id": account, "location_id": location, "device_type": device}
        # Web visits, calls, web-form contacts and CRM leads. own_channel and the raw columns
        # (session_id presence, UTM columns, click id type, is_contact, event_type, time) hold the
        # truth; the stored arrival-order decisions (is_touch, multichannel, channels_before,
        # touch_seq, session_seq, and the visit channel given to pages in `channel`) are what a
        # worker seeing the events out of order could have written: scrambled on purpose, so the
        # reports are checked to derive everything in event time and never read them.
        for _ in range(rnd.randrange(0, 7)):
            kind = rnd.choice(["page"] * 5 + ["call", "form", "lead"])
            gap = rnd.choice(
                [
                    rnd.randrange(60_000, 5 * DAY_MS),  # a new visit, later
                    rnd.randrange(1_000, SESSION_MS),  # the same visit, unless the campaign changes
                    SESSION_MS,  # exactly the timeout: a new session
                    SESSION_MS - 1,  # one millisecond less: the same visit
                    -rnd.randrange(1_000, 2 * SESSION_MS),  # a late hit, before the last one
                ]
            )
            t = at(max(T0, t + gap))
            ch = rnd.choice(CHANNELS[:-1])
            tagged = rnd.random() < 0.5  # UTM tags / click id (a campaign key), else none
            raw: dict[str, Any] = {
                "utm_source": rnd.choice(SOURCES) if tagged else None,
                "utm_medium": rnd.choice([None, "cpc", "email"]) if tagged else None,
                "utm_campaign": rnd.choice(CAMPAIGNS) if tagged else None,
                "click_id_type": rnd.choice([None, None, "gclid"]) if tagged else None,
            }
            if kind == "call":
                ch, raw = "phone_call", {}
            if kind == "lead":
                ch = "crm_offline"
            family, event_type, source, contact = {
                "page": ("touchline.events.WebTouch", "page_view", "web", False),
                "call": ("touchline.events.InboundContact", "inbound_call", "call_tracking", True),
                "form": ("touchline.events.InboundContact", "contact_web_form", "web", True),
                "lead": ("touchline.events.CrmDeal", "crm_lead", "crm", False),
            }[kind]
            data.events.append(
                event(
                    event_type=event_type,
                    family=family,
                    source=source,
                    occurred_at=t,
                    client_id=rnd.choice(ids),
                    own_channel=ch,
                    **raw,
                    is_contact=contact,
                    cid=f"ga.{i}",
                    # a web hit has a session id (its value is the worker's arrival-order session)
                    session_id=f"s{i}-{rnd.randrange(3)}" if kind in ("page", "form") else None,
                    # the worker's arrival-order decisions, scrambled
                    channel=rnd.choice(CHANNELS) if kind in ("page", "form") else ch,
                    is_touch=rnd.random() < 0.5,
                    multichannel=rnd.random() < 0.5,
                    channels_before=rnd.sample(CHANNELS, rnd.randrange(0, 3)),
                    touch_seq=rnd.randrange(0, 9),
                    session_seq=rnd.randrange(0, 9),
                    **common,
                )
            )
        # web engagement in the touch sessions: CTA clicks, forms started and (not) submitted
        for sess in sorted({e["session_id"] for e in data.events[-5:] if e["session_id"]}):
            if not sess.startswith(f"s{i}-"):
                continue
            for kind, chance in (
                ("booking_cta_click", 0.4),
                ("form_start", 0.3),
                ("form_submit", 0.5),
                ("booking_cancel", 0.1),
            ):
                if rnd.random() < chance:
                    t = at(t + rnd.randrange(1_000, 60_000))
                    data.events.append(
                        event(
                            event_type=kind,
                            occurred_at=t,
                            client_id=rnd.choice(ids),
                            session_id=sess,
                            own_channel="direct",  # internal navigation: no tags, no referrer
                            channel=rnd.choice(CHANNELS),  # the visit's, as stored: scrambled
                            **common,
                        )
                    )
        # experiment exposure
        if rnd.random() < 0.6:
            t = at(t + 1_000)
            data.events.append(
                event(
                    event_type="experiment_exposure",
                    family="touchline.events.ExperimentExposure",
                    occurred_at=t,
                    client_id=rnd.choice(ids),
                    attributes={
                        "experiment_id": rnd.choice(["cta-color", "cta-copy"]),
                        "variant": rnd.choice(["control", "b"]),
                    },
                    **common,
                )
            )
        # booking journey
        if rnd.random() < 0.8:
            store, service, staff = rnd.choice(STORES), rnd.choice(SERVICES), rnd.choice(STAFF)
            depth = rnd.randrange(1, len(STEPS) + 1)
            steps = [s for s in STEPS[:depth] if s != STEPS[1] or rnd.random() < 0.5]
            if rnd.random() < 0.15 and len(steps) > 3:
                steps[1], steps[2] = steps[2], steps[1]
            for s in steps:
                gap = rnd.randrange(5_000, 600_000) if rnd.random() < 0.9 else 2 * DAY_MS
                t = at(t + gap)
                lines = []
                if STEPS.index(s) >= 2:
                    lines = [line(store_id=store, service_id=service, resource_id=staff)]
                data.events.append(
                    event(
                        event_type=s,
                        family="touchline.events.BookingStep",
                        occurred_at=t,
                        client_id=rnd.choice(ids),
                        channel=rnd.choice(CHANNELS),
                        utm_campaign=rnd.choice(CAMPAIGNS),
                        lines=lines,
                        **common,
                    )
                )
            if depth >= 7 and steps[-1] != STEPS[-1] and rnd.random() < 0.6:
                t = at(t + 10_000)
                data.events.append(
                    event(
                        event_type="appointment_booking_step_failed",
                        family="touchline.events.BookingStep",
                        occurred_at=t,
                        client_id=rnd.choice(ids),
                        **common,
                    )
                )
        # orders
        for _ in range(rnd.randrange(0, 3)):
            t = at(t + rnd.randrange(60_000, 3 * DAY_MS))
            amount = rnd.randrange(1_000, 20_000)
            data.events.append(
                event(
                    event_type="order_placed",
                    family="touchline.events.OrderPlaced",
                    source="studio",
                    occurred_at=t,
                    client_id=rnd.choice(ids),
                    revenue_minor=amount,
                    # several currencies (and one without) so reports must keep them apart; from
                    # the amount, not a new draw, so the rest of the data stays as it was
                    currency=None if amount % 23 == 0 else "USD" if amount % 4 == 0 else "EUR",
                    lines=[
                        line(
                            store_id=location, service_id=rnd.choice(SERVICES), amount_minor=amount
                        )
                    ],
                    **common,
                )
            )
        # appointments: scheduled -> confirmed -> arrived | no-show | cancelled
        for a in range(rnd.randrange(0, 3)):
            staff = rnd.choice(STAFF)
            appt = f"ap{i}-{a}"
            path = ["appointment_scheduled"]
            if rnd.random() < 0.7:
                path.append("appointment_confirmed")
            path.append(
                rnd.choice(
                    ["appointment_arrived"] * 3 + ["appointment_no_show", "appointment_cancelled"]
                )
            )
            if rnd.random() < 0.1:
                path = path[1:]  # the schedule event was before the data starts
            for kind in path:
                t = at(t + rnd.randrange(60_000, DAY_MS))
                data.events.append(
                    event(
                        event_type=kind,
                        family="touchline.events.AppointmentEvent",
                        source="studio",
                        occurred_at=t,
                        client_id=rnd.choice(ids),
                        attributes={"appointment_id": appt, "staff_id": staff},
                        lines=[
                            line(
                                store_id=location,
                                service_id=rnd.choice(SERVICES),
                                resource_id=staff,
                            )
                        ],
                        **{**common, "location_id": None if a % 2 else common["location_id"]},
                    )
                )
        # classes: booked, signed up, cancelled (typed), waitlist joined (then maybe signed up)
        for _ in range(rnd.randrange(0, 3)):
            klass = rnd.choice(["yoga", "spin", "hiit"])
            if rnd.random() < 0.3:
                path = ["class_waitlist_joined"] + (
                    ["class_signed_up"] if rnd.random() < 0.5 else []
                )
            else:
                path = ["class_booked"]
                path.append(rnd.choice(["class_signed_up", "class_signed_up", "class_cancelled"]))
            for kind in path:
                t = at(t + rnd.randrange(60_000, DAY_MS))
                attrs = {"class_id": klass}
                if kind == "class_cancelled":
                    attrs["cancellation_type"] = rnd.choice(
                        ["late_cancel", "early_cancel", "no_show", "studio_cancel"]
                    )
                data.events.append(
                    event(
                        event_type=kind,
                        family="touchline.events.ClassEvent",
                        source="studio",
                        occurred_at=t,
                        client_id=rnd.choice(ids),
                        attributes=attrs,
                        **common,
                    )
                )
        # feedback
        for kind in ("feedback_nps", "feedback_csat"):
            if rnd.random() < 0.5:
                t = at(t + rnd.randrange(60_000, DAY_MS))
                scale = 10 if kind == "feedback_nps" else 5
                score = rnd.randrange(0 if scale == 10 else 1, scale + 1)
                data.events.append(
                    event(
                        event_type=kind,
                        family="touchline.events.Feedback",
                        occurred_at=t,
                        client_id=rnd.choice(ids),
                        channel=rnd.choice(CHANNELS),
                        attributes={"score": str(score), "scale": str(scale)},
                        **common,
                    )
                )
    return data
