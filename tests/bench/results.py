"""Where every bench writes its figures: ``bench-results/<name>.json``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from touchline.settings import REPO_ROOT

DIR = REPO_ROOT / "bench-results"


def write(name: str, result: dict[str, Any]) -> Path:
    """Write ``result`` as ``bench-results/<name>.json`` (indented, one trailing newline)."""
    out = DIR / f"{name}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out
