"""The evolution check can fail where it runs for real: in a fresh clone (as CI has), a breaking
change to a committed schema makes ``tests/unit/test_evolution.py`` fail there, and a compatible
change released as a new version (``devtools.schema_versions release``) makes it pass. Only the
schema tests of that file run in the clone, to stay fast."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools import schema_versions
from touchline.settings import REPO_ROOT

SCHEMA = Path("schemas/events/touchline.events.BookingStep.avsc")


def _git(*args: str, cwd: Path = REPO_ROOT, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr.decode()}"
    return done.stdout


def _clone(into: Path) -> Path:
    """A clone of this repository at HEAD, plus the work tree's uncommitted and untracked files (so
    a developer's run tests what they are editing; in CI the tree is clean and this is HEAD)."""
    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip(f"{REPO_ROOT} is not a git checkout: nothing to clone")
    clone = into / "clone"
    _git("clone", "-q", "--no-checkout", str(REPO_ROOT), str(clone))
    _git("checkout", "-q", _git("rev-parse", "HEAD").decode().strip(), cwd=clone)
    patch = _git("diff", "HEAD", "--binary")
    if patch:
        _git("apply", "--whitespace=nowarn", "-", cwd=clone, stdin=patch)
    for name in _git("ls-files", "-z", "--others", "--exclude-standard").split(b"\0"):
        if name:
            target = clone / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name.decode(), target)
    _git("add", "-A", cwd=clone)
    _git("commit", "-q", "--allow-empty", "-m", "work tree under test", cwd=clone)
    return clone


def _edit(clone: Path, change: Any, message: str) -> None:
    path = clone / SCHEMA
    schema = json.loads(path.read_text())
    change(schema)
    path.write_text(json.dumps(schema, indent=2) + "\n")
    _git("commit", "-q", "-am", message, cwd=clone)


def _run(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(clone), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True, timeout=240
    )


def _evolution_tests(clone: Path) -> subprocess.CompletedProcess[str]:
    """The clone's schema tests (its code, its schemas, its lock); not the checker's own tests."""
    return _run(
        clone,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/unit/test_evolution.py",
        "-k",
        "released",
    )


def _conversion_id(schema: dict[str, Any]) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == "conversion_id")


def test_a_breaking_change_fails_in_a_clone_and_a_released_compatible_one_passes(
    tmp_path: Path,
) -> None:
    clone = _clone(tmp_path)
    original = (clone / SCHEMA).read_text()
    _edit(clone, lambda s: _conversion_id(s).update(type=["null", "long"]), "string -> long")
    broken = _evolution_tests(clone)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "touchline.events.BookingStep is not backward compatible" in broken.stdout
    assert (
        "touchline.events.BookingStep.conversion_id<string>: writer type string matches no branch"
        in broken.stdout
    )
    with pytest.raises(ValueError, match="nothing released"):
        schema_versions.release(clone / "schemas", clone / "schema-versions")

    (clone / SCHEMA).write_text(original)
    _edit(
        clone,
        lambda s: s["fields"].append(
            {"name": "coupon", "type": ["null", "string"], "default": None, "doc": "test"}
        ),
        "a new optional field",
    )
    written = schema_versions.release(clone / "schemas", clone / "schema-versions")
    assert [p.relative_to(clone) for p in written] == [
        Path("schema-versions/touchline.events.BookingStep/v2.avsc")
    ]
    passed = _evolution_tests(clone)
    assert passed.returncode == 0, passed.stdout + passed.stderr
