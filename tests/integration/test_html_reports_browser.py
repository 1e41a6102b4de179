"""Every report's HTML page rendered in a real headless browser (Debian's ``chromium``): nothing cut
off or overlapping, no page wider than a laptop screen, a screenshot produced; and the page says
what a marketer needs (labelled axis, values, readable labels, drop-off highlighted).

The pages are made the way ``touchline report NAME --html FILE`` makes them (the same functions,
in-process on chDB, to keep the test fast). Chromium measures each page with a small script added
to a copy of it (bounding boxes of every chart text against its chart and every other text, and the
page's width) and prints the DOM with the result, and takes the screenshot in the same run.
``deploy/install-system-deps.sh`` installs chromium (``make test`` runs it)."""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from cli.demo import print_reports
from sinks import clickhouse, money, reports, rows
from sinks.commands import html_page
from tests.report_data import generate

pytestmark = pytest.mark.integration
LAPTOP = (1366, 900)
MEASURE = """
<script>
(() => {
  const problems = [];
  const inside = (a, b) => a.left >= b.left - 0.5 && a.right <= b.right + 0.5
      && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5;
  const overlap = (a, b) => Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left))
      * Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)) > 1;
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width)
    problems.push(`page is ${document.documentElement.scrollWidth}px wide, window ${width}px`);
  let texts = 0;
  document.querySelectorAll('svg').forEach((svg, n) => {
    const box = svg.getBoundingClientRect();
    if (box.right > width) problems.push(`chart ${n} ends at ${box.right}px, window ${width}px`);
    const items = [...svg.querySelectorAll('text')]
        .map(t => [t.textContent, t.getBoundingClientRect()]);
    const bars = [...svg.querySelectorAll('rect')].map(r => r.getBoundingClientRect());
    texts += items.length;
    items.forEach(([text, b], i) => {
      if (!inside(b, box)) problems.push(`chart ${n}: "${text}" is cut off`);
      items.slice(i + 1).forEach(([other, c]) => {
        if (overlap(b, c)) problems.push(`chart ${n}: "${text}" overlaps "${other}"`);
      });
      if (bars.some(r => overlap(b, r))) problems.push(`chart ${n}: "${text}" overlaps a bar`);
    });
  });
  document.querySelectorAll('th, td').forEach(cell => {
    if (cell.scrollWidth > cell.clientWidth + 1) problems.push(`cell "${cell.textContent}" is cut`);
  });
  const out = document.createElement('pre');
  out.id = 'measured';
  const charts = document.querySelectorAll('svg').length;
  out.textContent = JSON.stringify({problems, charts, texts});
  document.body.appendChild(out);
})();
</script>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("chromium is missing: run deploy/install-system-deps.sh (make test does)")
    return found


def _browser(page: Path, *args: str) -> str:
    out = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # tests run as root in CI
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={page.parent / ('profile-' + page.stem)}",  # one per browser
            f"--window-size={LAPTOP[0]},{LAPTOP[1]}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=page.parent,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def measure(page: Path) -> tuple[dict[str, Any], Path]:
    """The measurements of the page and its screenshot (one browser run: the measuring script
    only appends its result below the page)."""
    probe = page.with_name(page.stem + ".measure.html")
    probe.write_text(page.read_text().replace("</body>", MEASURE + "</body>"))
    shot = page.with_suffix(".png")
    dom = _browser(probe, "--dump-dom", f"--screenshot={shot}")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result: dict[str, Any] = json.loads(html_lib.unescape(found[1]))
    return result, shot


Runner = Callable[[str, Any], Any]


@pytest.fixture(scope="module")
def runner(chdb_dir: Path) -> Runner:
    """Report queries on generated data in chDB."""
    client: Client = clickhouse.connect(f"chdb://{chdb_dir}")
    db = "html_reports"
    clickhouse.migrate(client, db)
    data = generate(seed=7, clients=90)
    clickhouse.insert_events(client, db, [rows.to_row(e) for e in data.events])
    clickhouse.insert_merges(client, db, [rows.merge_to_row(m) for m in data.merges])

    def run(name: str, params: Any) -> Any:
        return clickhouse.query(client, name, db, params)

    return run


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, runner: Runner) -> dict[str, tuple[Path, str]]:
    """Each report's page (and its HTML) on generated data, made as `report --html` makes it."""
    out_dir = tmp_path_factory.mktemp("html")
    runs = {
        "booking_funnel": {"breakdown": "channel"},
        "booking_funnel_store": {"breakdown": "store"},
        "attribution": {},
        "client_card": {"client": "c1"},
        "appointments": {},
        "classes": {},
        "engagement": {},
    }
    made = {}
    for name, params in runs.items():
        report = reports.get(name.removesuffix("_store"))
        sections = reports.run(report, params, runner)
        assert any(s.rows for s in sections), name
        currencies: list[str] = []
        if money.has_money(sections):
            currencies = sorted(runner(money.CURRENCIES_QUERY, params)[1][0][0])
        text = html_page(report, params, sections, currencies)
        page = out_dir / f"{name}.html"
        page.write_text(text)
        made[name] = (page, text)
    return made


REPORT_PAGES = [
    "booking_funnel",
    "booking_funnel_store",
    "attribution",
    "client_card",
    "appointments",
    "classes",
    "engagement",
]


@pytest.fixture(scope="module")
def measured(pages: dict[str, tuple[Path, str]]) -> dict[str, tuple[dict[str, Any], Path]]:
    """Every page measured and photographed, two browsers at a time (one per core)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda name: measure(pages[name][0]), REPORT_PAGES)
        return dict(zip(REPORT_PAGES, results, strict=True))


@pytest.mark.parametrize("name", REPORT_PAGES)
def test_report_page_renders_in_chromium_without_cut_or_overlapping_text(
    measured: dict[str, tuple[dict[str, Any], Path]], name: str
) -> None:
    found, shot = measured[name]
    assert found["problems"] == []
    assert found["charts"] >= (0 if name == "client_card" else 1)
    assert found["texts"] > 0 or name == "client_card"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_pages_say_what_they_plot_with_readable_labels(
    pages: dict[str, tuple[Path, str]],
) -> None:
    funnel = pages["booking_funnel"][1]
    assert "clients who reached the step" in funnel  # the value axis's title
    assert "Chose store and service" in funnel and "Paid search" in funnel
    assert "appointment_booking_step" not in funnel and "paid_search" not in funnel
    assert "lost since the previous step" in funnel and "Largest drop-off" in funnel
    assert 'class="n worst"' in funnel  # the largest drop-off is highlighted in the table
    store = pages["booking_funnel_store"][1]
    assert "(none)" not in store and "Opened the booking widget" not in store
    attribution = pages["attribution"][1]
    assert "credited conversions" in attribution and "Time decay" in attribution
    # one amount per currency, never a sum across currencies
    assert re.search(r"\d EUR / [\d,]+\.\d\d USD<", attribution) and "e+" not in attribution
    card = pages["client_card"][1]
    assert re.search(r"<th>revenue total</th><td>[\d,]+\.\d\d (EUR|USD)( / [^<]+)?</td>", card)


def test_demo_prints_each_report_once_for_people(
    runner: Runner, capsys: pytest.CaptureFixture[str]
) -> None:
    print_reports(runner)
    out = capsys.readouterr().out
    assert out.count("== attribution") == 1 and out.count("== booking_funnel") == 1
    models = re.findall(r"^(First touch|Position \(40/20/40\)) ", out, re.M)
    assert models and models.count("First touch") == models.count("Position (40/20/40)")
    assert " EUR" in out and "Chose store and service" in out and "revenue_minor" not in out


def test_api_docs_render_in_chromium_without_internet(tmp_path: Path) -> None:
    """/docs served by the ingest API renders Swagger UI with every route while the browser can
    reach nothing but loopback (all other traffic goes to a dead proxy)."""
    import threading

    import uvicorn

    from producers.api import create_app
    from tests.unit.test_api import CODEC, CONTRACTS, SETTINGS, FakePublisher
    from touchline.services.process import free_port

    app = create_app(
        SETTINGS, CONTRACTS, CODEC, "unused:9092", publisher_factory=lambda _: FakePublisher()
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if server.started:
                break
            threading.Event().wait(0.1)
        page = tmp_path / "docs.url"  # only its parent is used as the working directory
        out = subprocess.run(
            [
                _chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--proxy-server=127.0.0.1:9",  # nothing listens: no internet
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=10000",
                "--dump-dom",
                f"http://127.0.0.1:{port}/docs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=page.parent,
        )
    finally:
        server.should_exit = True
        thread.join(10)
    assert out.returncode == 0, out.stderr[-2000:]
    paths = set(re.findall(r'data-path="([^"]+)"', out.stdout))
    assert {"/v1/events", "/v1/sources/crm"} <= paths, out.stdout[-3000:]
