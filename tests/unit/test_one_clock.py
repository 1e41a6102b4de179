"""One clock and one dead-letter builder: no runtime module reads the wall clock except
``touchline/clock.py``, and none builds a ``DeadLetter`` except ``touchline/deadletter.py``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from touchline.settings import REPO_ROOT

RUNTIME = ("touchline", "pipeline", "producers", "sinks")
CLOCK = Path("touchline/clock.py")
BUILDER = Path("touchline/deadletter.py")
CONTRACTS = Path("touchline/contracts.py")  # defines the DEAD_LETTER name


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for package in RUNTIME:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            yield path.relative_to(REPO_ROOT), ast.parse(path.read_text(), str(path))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def wall_clock_reads(tree: ast.Module) -> list[str]:
    """``time.time()``/``time.time_ns()``/``datetime.now()`` calls and ``now_ms`` definitions."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name in ("time.time", "time.time_ns") or name.endswith(("datetime.now", ".utcnow")):
                found.append(f"line {node.lineno}: {name}()")
        elif isinstance(node, ast.FunctionDef) and node.name == "now_ms":
            found.append(f"line {node.lineno}: def now_ms")
        elif isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"line {node.lineno}: from time import {a.name}" for a in node.names]
    return found


def dead_letter_builds(tree: ast.Module) -> list[str]:
    """Uses of the DeadLetter schema name and dict literals with a dead letter's keys."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute) and _dotted(node).endswith("DEAD_LETTER"):
            found.append(f"line {node.lineno}: DEAD_LETTER")
        elif isinstance(node, ast.Dict):
            keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
            if {"original", "stage"} <= keys:
                found.append(f"line {node.lineno}: a dead-letter dict")
        elif isinstance(node, ast.Constant) and node.value == "touchline.events.DeadLetter":
            found.append(f"line {node.lineno}: the DeadLetter schema name")
    return found


def test_only_the_clock_reads_the_wall_clock() -> None:
    found = {str(p): f for p, t in _modules() if p != CLOCK and (f := wall_clock_reads(t))}
    assert found == {}


def test_only_the_builder_builds_dead_letters() -> None:
    found = {
        str(p): f
        for p, t in _modules()
        if p not in (BUILDER, CONTRACTS) and (f := dead_letter_builds(t))
    }
    assert found == {}


def test_the_scanners_find_what_they_look_for() -> None:
    clocks = ast.parse("import time\nx = time.time()\ndef now_ms(): ...\n")
    assert sorted(wall_clock_reads(clocks)) == ["line 2: time.time()", "line 3: def now_ms"]
    letter = ast.parse("d = {'stage': 's', 'original': b''}\ncodec.encode(c.DEAD_LETTER, d)\n")
    found = sorted(dead_letter_builds(letter))
    assert found == ["line 1: a dead-letter dict", "line 2: DEAD_LETTER"]
