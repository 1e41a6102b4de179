"""The local Alertmanager: Debian's ``prometheus-alertmanager``, single node (no cluster port).

Every alert routes to the receiver ``touchline``. It has no notifier: its alerts are what
``touchline alerts`` shows, read back from Alertmanager's API (``/api/v2/alerts`` filtered by the
receiver). A mail, Slack or webhook integration is added to that receiver in a deployment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from touchline.alerts import RECEIVER
from touchline.services import process
from touchline.settings import Settings


def config(settings: Settings) -> dict[str, Any]:
    fast = settings.alert_window_cap_s > 0  # end-to-end tests: group and send within seconds
    return {
        "route": {
            "receiver": RECEIVER,
            "group_by": ["alertname", "instance", "group"],
            "group_wait": "1s" if fast else "30s",
            "group_interval": "1s" if fast else "5m",
            "repeat_interval": "4h",
        },
        "receivers": [{"name": RECEIVER}],
    }


def start(settings: Settings, run_dir: Path, port: int) -> None:
    binary = process.require_debian(
        "prometheus-alertmanager",
        "prometheus-alertmanager",
        "set TOUCHLINE_LOCAL_MONITORING=false",
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config(settings)))
    proc = process.start(
        "alertmanager",
        [
            binary,
            f"--config.file={path.resolve()}",
            f"--storage.path={(run_dir / 'data').resolve()}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # single node: no gossip port
        ],
        run_dir,
    )
    process.wait_until(
        lambda: process.http_ready(port),
        60,
        f"Alertmanager (log: {run_dir / 'alertmanager.log'})",
        lambda: proc.poll() is None,
    )
