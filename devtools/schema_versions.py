"""Released schema versions: a committed lock of every version of every contract ever released.

``schema-versions/<full name>/vN.avsc`` holds version N of the schema ``<full name>`` in canonical
form: self-contained (named references inlined, as ``contracts.expand`` does), without ``doc``
attributes (documentation is not part of the wire contract), keys sorted. Nothing is ever deleted
from it. Two rules, checked by ``tests/unit/test_evolution.py``:

* the current ``.avsc`` is backward compatible with *every* released version (it reads every event
  ever written), and
* the current ``.avsc`` *is* the latest released version: changing a schema means adding a version,
  with ``python -m devtools.schema_versions release``, which refuses an incompatible change.

Unlike a comparison with ``origin/main``, this works in a fresh clone, where ``origin/main`` is the
commit under test itself.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.evolution import Incompatibility, check
from touchline.contracts import load
from touchline.settings import REPO_ROOT

RELEASED_DIR = REPO_ROOT / "schema-versions"
_VERSION = re.compile(r"^v([1-9][0-9]*)\.avsc$")


def canonical(schema: Any) -> Any:
    """``schema`` (self-contained JSON) without ``doc`` in any schema or field; defaults, aliases,
    symbols and logical types are kept: they decide what reads what."""
    if isinstance(schema, list):
        return [canonical(branch) for branch in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "doc":
            continue
        if key in ("type", "items", "values"):
            out[key] = canonical(value)
        elif key == "fields":
            out[key] = [canonical(f) for f in value]
        else:
            out[key] = value  # defaults and attributes are data, not schemas
    return out


def dumps(schema: Any) -> str:
    return json.dumps(canonical(schema), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def current(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    """Every schema in ``schemas_dir``, self-contained and canonical, by full name."""
    contracts = load(schemas_dir)
    return {name: canonical(schema) for name, schema in contracts.expanded.items()}


def released(released_dir: Path = RELEASED_DIR) -> dict[str, list[dict[str, Any]]]:
    """Every released version of every schema, oldest first, by full name."""
    out: dict[str, list[dict[str, Any]]] = {}
    if not released_dir.is_dir():
        return out
    for folder in sorted(p for p in released_dir.iterdir() if p.is_dir()):
        numbered = []
        for path in folder.iterdir():
            match = _VERSION.match(path.name)
            if match is None:
                raise ValueError(f"{path}: not a version file (vN.avsc)")
            numbered.append((int(match.group(1)), path))
        numbered.sort()
        if [n for n, _ in numbered] != list(range(1, len(numbered) + 1)):
            raise ValueError(f"{folder}: versions must be v1..vN without gaps")
        out[folder.name] = [json.loads(p.read_text()) for _, p in numbered]
    return out


@dataclass(frozen=True)
class Finding:
    """Why the current schemas do not match the lock."""

    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.name}: {self.problem}"


def incompatibilities(
    name: str, schema: dict[str, Any], versions: list[dict[str, Any]]
) -> list[tuple[int, Incompatibility]]:
    """(version, reason) for each released version ``schema`` cannot read."""
    return [(n, p) for n, old in enumerate(versions, 1) for p in check(old, schema)]


def findings(schemas_dir: Path, released_dir: Path = RELEASED_DIR) -> list[Finding]:
    """Everything wrong between the schemas and the lock: incompatibilities with any released
    version, schemas changed or added without a release, released schemas removed."""
    now, locked = current(schemas_dir), released(released_dir)
    out: list[Finding] = []
    for name in sorted(set(locked) - set(now)):
        out.append(Finding(name, "released but gone from schemas/ (old events become unreadable)"))
    for name, schema in sorted(now.items()):
        versions = locked.get(name, [])
        for n, problem in incompatibilities(name, schema, versions):
            out.append(Finding(name, f"cannot read data written with released v{n}: {problem}"))
        if not versions or dumps(versions[-1]) != dumps(schema):
            out.append(
                Finding(
                    name,
                    f"differs from its latest released version (v{len(versions)}): record it "
                    "with `python -m devtools.schema_versions release`",
                )
            )
    return out


def release(schemas_dir: Path, released_dir: Path = RELEASED_DIR) -> list[Path]:
    """Add a version for every schema that changed since its latest release; refuses (ValueError)
    if any is incompatible with a released version, writing nothing then."""
    now, locked = current(schemas_dir), released(released_dir)
    problems = [
        f"{name}: cannot read data written with released v{n}: {p}"
        for name, schema in sorted(now.items())
        for n, p in incompatibilities(name, schema, locked.get(name, []))
    ]
    if problems:
        raise ValueError("not backward compatible; nothing released:\n" + "\n".join(problems))
    written: list[Path] = []
    for name, schema in sorted(now.items()):
        versions = locked.get(name, [])
        if versions and dumps(versions[-1]) == dumps(schema):
            continue
        path = released_dir / name / f"v{len(versions) + 1}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(schema))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.schema_versions", description=__doc__)
    parser.add_argument("action", choices=["check", "release"])
    parser.add_argument("--schemas", type=Path, default=REPO_ROOT / "schemas")
    parser.add_argument("--released", type=Path, default=RELEASED_DIR)
    args = parser.parse_args(argv)
    if args.action == "check":
        found = findings(args.schemas, args.released)
        for finding in found:
            print(finding, file=sys.stderr)
        return 1 if found else 0
    try:
        written = release(args.schemas, args.released)
    except ValueError as exc:
        print(f"schema_versions: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"released {path.relative_to(args.released)}")
    if not written:
        print("nothing changed since the latest released versions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
