"""``touchline alerts``: what is firing now, read from the local Alertmanager's ``touchline``
receiver (or the Alertmanager at ``--url``)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from touchline.clock import now_ms
from touchline.endpoints import monitoring_urls
from touchline.errors import TouchlineError
from touchline.settings import Settings

RECEIVER = "touchline"  # the Alertmanager receiver Touchline routes every alert to


def firing(base: str) -> list[dict[str, Any]]:
    """The active (not silenced, not inhibited) alerts routed to the ``touchline`` receiver."""
    params = {
        "active": "true",
        "silenced": "false",
        "inhibited": "false",
        "unprocessed": "false",
        "receiver": RECEIVER,
    }
    try:
        resp = httpx.get(f"{base}/api/v2/alerts", params=params, timeout=5)
        resp.raise_for_status()
    except httpx.HTTPError as exc:
        raise TouchlineError(
            f"Alertmanager at {base} did not answer ({exc}): is the stack up "
            "(`touchline services up`)?"
        ) from exc
    alerts: list[dict[str, Any]] = resp.json()
    return sorted(alerts, key=lambda a: (a["labels"].get("alertname", ""), a.get("startsAt", "")))


def render(alerts: list[dict[str, Any]], now: datetime | None = None) -> str:
    """One line per alert: name, severity, since when, where, and its summary."""
    if not alerts:
        return "no alert is firing"
    now = now or datetime.fromtimestamp(now_ms() / 1000, UTC)
    lines = []
    for alert in alerts:
        labels = alert.get("labels", {})
        since = datetime.fromisoformat(str(alert["startsAt"]).replace("Z", "+00:00"))
        minutes = max(int((now - since).total_seconds() // 60), 0)
        where = labels.get("instance") or labels.get("group") or ""
        summary = alert.get("annotations", {}).get("summary", "")
        lines.append(
            f"{labels.get('alertname', '?'):<36} {labels.get('severity', ''):<9} "
            f"{minutes:>4} min  {where:<22} {summary}".rstrip()
        )
    return "\n".join(lines)


def _alerts(args: argparse.Namespace, settings: Settings) -> int:
    base = args.url or monitoring_urls(settings).get("alertmanager")
    if base is None:
        raise TouchlineError("no local Alertmanager: run `touchline services up` (or give --url)")
    alerts = firing(base)
    print(json.dumps(alerts, indent=2) if args.json else render(alerts))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "alerts",
        help="list the alerts firing now, with their summary (from the local Alertmanager)",
        description="Ask the Alertmanager of the local stack (or --url) for the active alerts "
        "routed to the touchline receiver and print name, severity, age, instance and summary.",
    )
    parser.add_argument("--url", help="an Alertmanager base URL instead of the local one")
    parser.add_argument("--json", action="store_true", help="print Alertmanager's JSON")
    parser.set_defaults(func=_alerts)
