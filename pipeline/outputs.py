"""The records a processed event emits: its EnrichedEvent and the IdentityMerges and
IdentitySplits it caused.
Pure: built from the decoded event, its static enrichment and the identity store's result."""

from __future__ import annotations

from typing import Any

from pipeline import enrichment
from touchline.identity import Identifiers

# Not decided on arrival any more: the reports and the card derive multichannel contacts in
# event time (sinks/sql/fragments/event_time_touches.sql, pipeline/touches.py).
NOT_DECIDED_ON_ARRIVAL: dict[str, Any] = {"multichannel": False, "channels_before": []}


def enriched_record(
    family: str,
    datum: dict[str, Any],
    ids: Identifiers,
    static: enrichment.Static,
    result: dict[str, Any],
) -> dict[str, Any]:
    """The ``EnrichedEvent`` datum (schemas/events/touchline.events.EnrichedEvent.avsc)."""
    env = datum["envelope"]
    web = env.get("web") or {}
    info = result["enrichment"]
    attributes = static.attributes
    if static.is_contact:
        attributes = dict(attributes)
        attributes["contact_seq"] = str(result["contact_seq"])
        attributes["location"] = static.location or "(undefined)"
    c = static.campaign
    return {
        "event_id": env["event_id"],
        "event_type": env["event_type"],
        "family": family,
        "occurred_at": env["occurred_at"],
        "received_at": env["received_at"],
        "processed_at": info["processed_at"],
        "source": env["source"],
        "account_id": env["account_id"],
        "location_id": env.get("location_id"),
        "client_id": result["client_id"],
        "cid": ids.cid,
        "email": ids.email,
        "phone": ids.phone,
        "external_ids": list(ids.external),
        "session_id": info["session_id"],
        "session_seq": info["session_seq"],
        "session_started_at": info["session_started_at"],
        "landing_page": info["landing_page"] or web.get("landing_page"),
        "time_on_site_ms": info["time_on_site_ms"],
        "channel": info["channel"],
        "own_channel": static.channel,
        "utm_source": c.source,
        "utm_medium": c.medium,
        "utm_campaign": c.campaign,
        "utm_term": c.term,
        "utm_content": c.content,
        "click_id_type": c.click_id_type,
        "referrer_host": static.referrer_host,
        "page_url": web.get("page_url"),
        "device_type": static.device_type,
        "is_touch": bool(info["is_touch"]),
        "is_contact": static.is_contact,
        "touch_seq": int(result["touch_seq"]),
        **NOT_DECIDED_ON_ARRIVAL,
        "revenue_minor": static.revenue_minor,
        "currency": static.currency,
        "lines": static.lines,
        "attributes": attributes,
        "payload_json": static.payload_json,
    }


def merge_records(
    result: dict[str, Any], account: str, event_id: str, merged_at: int
) -> list[dict[str, Any]]:
    """One ``IdentityMerge`` datum per client this event merged into ``result["client_id"]``."""
    return [
        {
            "merged_at": merged_at,
            "account_id": account,
            "from_client_id": old,
            "to_client_id": result["client_id"],
            "reason": "an event carried identifiers of both clients",
            "identifier_hash": None,
            "event_id": event_id,
        }
        for old in result["merged_from"]
    ]


def split_records(
    result: dict[str, Any], account: str, event_id: str, split_at: int
) -> list[dict[str, Any]]:
    """One ``IdentitySplit`` datum per link this event undid (``result["splits"]``, made by
    ``pipeline/lua/split.lua`` when an identifier of the event proved shared), at the time the
    script gave it (strictly after the account's earlier splits), else ``split_at``."""
    return [
        {
            "split_at": int(split.get("at") or split_at),
            "account_id": account,
            "kind": split["kind"],
            "from_client_id": split["from_client_id"],
            "to_client_id": split["to_client_id"],
            "identifiers": [str(k) for k in split["identifiers"]],
            "via": split["via"],
            "event_id": event_id,
        }
        for split in result.get("splits") or []
    ]
