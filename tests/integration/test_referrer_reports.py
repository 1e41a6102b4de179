"""The new channel in the reports (issue 16): visits the classifier files under ai_assistant and
email (webmail) come out of attribution, the client card and the client summary under that name,
and with TOUCHLINE_AI_ASSISTANT_AS_REFERRAL as referral. chDB in-process, real SQL."""

from __future__ import annotations

import json
import re
from typing import Any

from pipeline import enrichment
from pipeline.channels import AI_ASSISTANT, EMAIL, REFERRAL
from reference import STEPS_ALL
from sinks import clickhouse, rows
from sinks.labels import CHANNELS
from tests.report_data import BASE, T0, event
from touchline.settings import REPO_ROOT, Settings

FUNNEL = REPO_ROOT / "deploy" / "grafana" / "dashboards" / "touchline-funnel.json"

DAY = 86_400_000


def own_channel(referrer: str, ai_as_referral: bool = False) -> str:
    """The channel the worker's enrichment gives a page view that came from ``referrer``."""
    web = {"referrer": referrer, "page_url": "https://yoga.example/book"}
    datum = {"envelope": {"source": "web", "event_type": "page_view", "web": web}}
    return enrichment.static(
        "touchline.events.WebTouch", datum, frozenset(), ai_as_referral
    ).channel


def visit_then_booking(client_id: str, referrer: str, day: int, **kw: bool) -> list[dict[str, Any]]:
    at = T0 + day * DAY
    own = own_channel(referrer, **kw)
    return [
        event(
            occurred_at=at,
            client_id=client_id,
            own_channel=own,
            channel=own,
            session_id="s",
            is_touch=True,
        ),
        event(occurred_at=at + 600_000, client_id=client_id, event_type=STEPS_ALL[-1]),
    ]


def test_ai_assistant_and_webmail_visits_in_the_reports(chdb_settings: Settings) -> None:
    client = clickhouse.connect(chdb_settings.effective_clickhouse_dsn)
    db = chdb_settings.clickhouse_database
    clickhouse.migrate(client, db)
    events = [
        *visit_then_booking("ai-1", "https://chatgpt.com/", 1),
        *visit_then_booking("ai-2", "https://www.perplexity.ai/search/yoga", 2),
        *visit_then_booking("mail-1", "https://deref-gmx.net/mail/client/x/dereferrer/", 3),
        *visit_then_booking("ai-folded", "https://gemini.google.com/app", 4, ai_as_referral=True),
    ]
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in events])

    params = {**BASE, "model": "last", "by": "channel", "half_life_days": 7.0}
    cols, got = clickhouse.query(client, "attribution", db, params)
    key, conv = cols.index("key"), cols.index("conversions")
    credited = {r[key]: r[conv] for r in got}
    assert credited == {AI_ASSISTANT: 2, EMAIL: 1, REFERRAL: 1}

    cols, got = clickhouse.query(client, "client_card", db, {**BASE, "client": "ai-1"})
    assert [r[cols.index("channel")] for r in got if r[cols.index("kind")] == "touch"] == [
        AI_ASSISTANT
    ]
    summary = clickhouse.query(client, "client_summary", db, {**BASE, "client": "ai-2"})
    row = dict(zip(summary[0], summary[1][0], strict=True))
    assert row["first_touch_channel"] == AI_ASSISTANT and row["channels"] == [AI_ASSISTANT]

    # the Grafana panels that group by channel show it too
    for title in ("Conversions by channel (last touch)", "Daily events by channel"):
        shown = panel_rows(client, db, title)
        expected = {
            CHANNELS[c] for c in (AI_ASSISTANT, EMAIL, REFERRAL)
        }  # as the reports name them
        names = {r.get("channel", r.get("channel_name")) for r in shown}
        assert names >= expected, (title, shown)
    client.close()


def panel_rows(client: Any, db: str, title: str) -> list[dict[str, Any]]:
    """The rows of a funnel-dashboard panel's SQL, Grafana's macros expanded for 2025."""
    panels = json.loads(FUNNEL.read_text())["panels"]
    sql = next(p for p in panels if p["title"] == title)["targets"][0]["rawSql"]
    sql = sql.replace("${account:singlequote}", "'acc1'").replace("touchline.", f"{db}.")
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)",
        r"\1 >= toDateTime('2025-01-01') AND \1 < toDateTime('2026-01-01')",
        sql,
    )
    sql = sql.replace("$__fromTime", "toDateTime('2025-01-01')")
    sql = sql.replace("$__toTime", "toDateTime('2026-01-01')")
    result = client.query(sql)
    return [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
