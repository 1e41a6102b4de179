"""The README's architecture section names, for each concept, files that exist and define it."""

from __future__ import annotations

import re

from touchline.settings import REPO_ROOT

CONCEPTS = ("sessions", "channels", "identity", "the client card", "attribution", "the funnel")
# concept -> a name each of its files must contain (so the table points at the definition)
DEFINES = {
    "sessions": {"pipeline/sessions.py": "def next_session"},
    "channels": {"pipeline/channels.py": "def classify"},
    "identity": {"touchline/identity.py": "def extract", "pipeline/lua/resolve.lua": "max_share"},
    "the client card": {"pipeline/card.py": "def render", "pipeline/touches.py": "def derive"},
    "attribution": {"sinks/sql/queries/attribution.sql": "time_decay"},
    "the funnel": {"sinks/sql/queries/booking_funnel.sql": "windowFunnel"},
}


def _table() -> dict[str, str]:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("### Where each concept is defined", 1)[1].split("\n\n", 2)[1]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {concept.strip(): where for concept, where in rows[1:]}


def test_every_concept_has_a_row_and_every_named_file_exists() -> None:
    table = _table()
    assert list(table) == list(CONCEPTS)
    for concept, where in table.items():
        paths = [p for p in re.findall(r"`([^`]+)`", where) if "/" in p]
        assert paths, concept
        for path in paths:
            assert (REPO_ROOT / path).is_file(), f"{concept}: {path} does not exist"


def test_the_named_files_define_the_concepts() -> None:
    table = _table()
    for concept, files in DEFINES.items():
        for path, name in files.items():
            assert f"`{path}`" in table[concept], (concept, path)
            assert name in (REPO_ROOT / path).read_text(), (concept, path, name)
