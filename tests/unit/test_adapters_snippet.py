"""deploy/web/touchline.js in Node with a fake browser: what it posts for the widget's pushes is
what the booking-widget adapter maps into contract events."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from producers.adapters import booking_widget
from producers.events import Prepared, prepare
from touchline.contracts import load_cached
from touchline.settings import REPO_ROOT, Settings

SNIPPET = REPO_ROOT / "deploy" / "web" / "touchline.js"
HARNESS = r"""
const fs = require("fs");
const posted = [];
const storage = {};
const window = {
  TouchlineConfig: { endpoint: "https://ingest.example/", key: "pk_1", accountId: "studio-1" },
  location: { href: process.argv[2], search: new URL(process.argv[2]).search },
  navigator: { userAgent: "Mozilla/5.0 (test)" },
  sessionStorage: { getItem: k => storage[k] ?? null, setItem: (k, v) => { storage[k] = v; } },
  crypto: require("crypto").webcrypto,
  setTimeout: () => {},
  fetch: (url, init) => { posted.push({ url, init }); return Promise.resolve({ status: 202 }); },
  dataLayer: [{ event: "gtm.js" }, { event: "appointment_booking_start", appointments: [] }],
};
const document = {
  referrer: "https://www.google.com/", cookie: "x=1; _ga=GA1.2.147852369.3692587411",
};
new Function("window", "document", fs.readFileSync(process.argv[1], "utf8"))(window, document);
// Navigation inside the site: the landing page's campaign is kept in sessionStorage.
window.location = { href: "https://studio.example/book", search: "" };
window.dataLayer.push({ event: "gtm.click" });
window.dataLayer.push({
  event: "appointment_booking",
  appointments: [{ worker_id: 7, store_id: "s1", appointment_service_name: "Cut" }],
});
window.dataLayer.push({
  event: "event_booking", events: [{ event_id: "g1", event_title: "Yoga" }],
});
console.log(JSON.stringify({ posted, length: window.dataLayer.length }));
"""


def run_snippet(landing: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "-e", HARNESS, str(SNIPPET), landing],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return dict(json.loads(result.stdout))


def test_snippet_forwards_widget_pushes_with_campaign_and_client_id() -> None:
    out = run_snippet("https://studio.example/?utm_source=google&utm_medium=cpc&gclid=abc")
    assert out["length"] == 5  # the original pushes still reach the data layer
    posted = out["posted"]
    assert [p["url"] for p in posted] == ["https://ingest.example/v1/sources/booking-widget"] * 3
    init = posted[1]["init"]
    assert init["keepalive"] is True
    assert init["headers"] == {"Content-Type": "application/json", "X-Touchline-Key": "pk_1"}
    bodies = [json.loads(p["init"]["body"]) for p in posted]
    assert [b["event"] for b in bodies] == [
        "appointment_booking_start",
        "appointment_booking",
        "event_booking",
    ]
    booking = bodies[1]
    assert booking["page_url"] == "https://studio.example/book"
    assert booking["landing_page"].startswith("https://studio.example/?utm_source=google")
    assert (booking["utm_source"], booking["utm_medium"], booking["gclid"]) == (
        "google",
        "cpc",
        "abc",
    )
    assert booking["referrer"] == "https://www.google.com/"
    assert booking["_ga"] == "GA1.2.147852369.3692587411"
    assert len({b["touchline_event_id"] for b in bodies}) == 3

    contracts = load_cached(Settings().schemas_dir)
    for body in bodies:
        (event,) = booking_widget.convert(body, None)
        result = prepare(contracts, event)
        assert isinstance(result, Prepared), [str(e) for e in result]
        env = result.datum["envelope"]
        assert env["event_id"] == body["touchline_event_id"]
        assert env["account_id"] == "studio-1"
        assert env["ids"]["cid"] == "147852369.3692587411"
        assert env["web"]["utm_source"] == "google"
        assert env["web"]["user_agent"] == "Mozilla/5.0 (test)"
