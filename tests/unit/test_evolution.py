"""Contracts stay backward compatible: the schemas in the tree read data written with the committed
ones. Also proves the checker catches what it must."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from typing import Any

import pytest

from touchline.contracts import expand, load
from touchline.evolution import check, empirical_problems, resolution_problems, sample
from touchline.settings import REPO_ROOT

CURRENT = load(REPO_ROOT / "schemas")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _base_schemas() -> tuple[str, dict[str, dict[str, Any]]]:
    """The committed schemas to compare against: origin/main if it exists, else HEAD."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: no committed schemas to compare with")
    if _git("rev-parse", "--is-inside-work-tree") is None:
        pytest.skip(f"{REPO_ROOT} is not a git work tree: no committed schemas to compare with")
    rev = next((r for r in ("origin/main", "HEAD") if _git("rev-parse", "--verify", "-q", r)), None)
    if rev is None:
        pytest.skip("the repository has no commits yet: every schema is new")
    listing = _git("ls-tree", "-r", "--name-only", rev, "--", "schemas") or ""
    raw: dict[str, dict[str, Any]] = {}
    for path in listing.split():
        if path.endswith(".avsc"):
            text = _git("show", f"{rev}:{path}")
            if text is not None:
                schema = json.loads(text)
                name = schema["name"]
                full = name if "." in name else f"{schema.get('namespace', '')}.{name}"
                raw[full.lstrip(".")] = schema
    return rev, raw


@pytest.mark.parametrize("name", sorted(CURRENT.raw))
def test_schema_reads_data_written_with_the_committed_version(name: str) -> None:
    rev, old_raw = _base_schemas()
    if name not in old_raw:
        return  # a new schema: nothing was written with an older version
    old = expand(name, old_raw)
    problems = check(old, CURRENT.expanded[name])
    assert problems == [], f"{name} is not backward compatible with {rev}: " + "; ".join(
        map(str, problems)
    )


# --- the checker itself ------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "type": "record",
    "name": "Thing",
    "namespace": "t",
    "doc": "d",
    "fields": [
        {"name": "id", "type": "string", "doc": "d"},
        {"name": "count", "type": "int", "doc": "d"},
        {"name": "note", "type": ["null", "string"], "default": None, "doc": "d"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"]}},
        {
            "name": "lines",
            "default": [],
            "type": {
                "type": "array",
                "items": {
                    "type": "record",
                    "name": "Line",
                    "fields": [{"name": "qty", "type": "int"}],
                },
            },
        },
    ],
}


def changed(edit: Any) -> dict[str, Any]:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _both(old: dict[str, Any], new: dict[str, Any]) -> tuple[bool, bool]:
    """(rules say compatible, fastavro says compatible)."""
    return not resolution_problems(old, new), not empirical_problems(old, new)


def test_identical_schema_is_compatible() -> None:
    assert _both(BASE, copy.deepcopy(BASE)) == (True, True)


def test_every_current_contract_is_compatible_with_itself() -> None:
    for name, schema in CURRENT.expanded.items():
        assert check(schema, copy.deepcopy(schema)) == [], name


def test_adding_an_optional_field_with_default_passes() -> None:
    new = changed(
        lambda s: s["fields"].append({"name": "extra", "type": ["null", "long"], "default": None})
    )
    assert _both(BASE, new) == (True, True)


def test_adding_a_required_field_without_default_fails() -> None:
    new = changed(lambda s: s["fields"].append({"name": "extra", "type": "long"}))
    assert _both(BASE, new) == (False, False)
    assert [p.path for p in check(BASE, new)] == ["t.Thing.extra"]


def test_removing_a_field_the_reader_needs_without_default_fails() -> None:
    # The writer (old) no longer has `count`; the reader still needs it and has no default.
    old = changed(lambda s: s["fields"].remove(_field(s, "count")))
    assert _both(old, BASE) == (False, False)


def test_removing_a_field_from_the_reader_passes() -> None:
    new = changed(lambda s: s["fields"].remove(_field(s, "count")))
    assert _both(BASE, new) == (True, True)


def test_string_to_int_fails() -> None:
    new = changed(lambda s: _field(s, "id").update(type="int"))
    assert _both(BASE, new) == (False, False)
    assert "cannot be read as int" in str(check(BASE, new)[0])


def test_int_to_long_promotion_passes() -> None:
    new = changed(lambda s: _field(s, "count").update(type="long"))
    assert _both(BASE, new) == (True, True)


def test_long_to_int_narrowing_fails() -> None:
    old = changed(lambda s: _field(s, "count").update(type="long"))
    assert _both(old, BASE) == (False, False)


def test_making_a_field_optional_passes_but_making_it_required_fails() -> None:
    optional = changed(lambda s: _field(s, "count").update(type=["null", "int"], default=None))
    assert _both(BASE, optional) == (True, True)
    required = changed(lambda s: _field(s, "note").update(type="string"))
    assert _both(BASE, required) == (False, False)


def test_removed_enum_symbol_fails_unless_the_reader_enum_has_a_default() -> None:
    fewer = changed(lambda s: _field(s, "kind")["type"].update(symbols=["a"]))
    assert _both(BASE, fewer) == (False, False)
    with_default = changed(
        lambda s: _field(s, "kind")["type"].update(symbols=["a", "z"], default="z")
    )
    assert _both(BASE, with_default) == (True, True)


def test_nested_record_field_without_default_fails() -> None:
    new = changed(
        lambda s: _field(s, "lines")["type"]["items"]["fields"].append(
            {"name": "price", "type": "long"}
        )
    )
    assert _both(BASE, new) == (False, False)
    assert [p.path for p in resolution_problems(BASE, new)] == ["t.Thing.lines[].price"]


def test_renamed_record_fails_but_an_alias_makes_it_compatible() -> None:
    renamed = changed(lambda s: s.update(name="Other"))
    assert _both(BASE, renamed) == (False, False)
    aliased = changed(lambda s: s.update(name="Other", aliases=["Thing"]))
    assert _both(BASE, aliased) == (True, True)


def test_field_renamed_with_alias_passes() -> None:
    new = changed(lambda s: _field(s, "count").update(name="total", aliases=["count"]))
    assert _both(BASE, new) == (True, True)


def test_samples_cover_every_union_branch_and_enum_symbol() -> None:
    kinds = {sample(BASE, v)["kind"] for v in range(2)}
    notes = {sample(BASE, v)["note"] is None for v in range(2)}
    assert kinds == {"a", "b"} and notes == {True, False}
