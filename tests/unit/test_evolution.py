"""Contracts stay backward compatible: the schemas in the tree read data written with every released
version (``schema-versions/``), and a changed schema is released as a new version. Also proves the
checker catches what it must. ``test_evolution_clone.py`` breaks a schema in a clone and sees this
file fail there."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from devtools import schema_versions
from devtools.evolution import check, empirical_problems, resolution_problems, sample
from touchline.contracts import load
from touchline.settings import REPO_ROOT

CURRENT = load(REPO_ROOT / "schemas")
LOCKED = schema_versions.released()
NOW = schema_versions.current(REPO_ROOT / "schemas")


@pytest.mark.parametrize("name", sorted(NOW))
def test_schema_reads_data_written_with_every_released_version(name: str) -> None:
    problems = schema_versions.incompatibilities(name, NOW[name], LOCKED.get(name, []))
    assert problems == [], f"{name} is not backward compatible: " + "; ".join(
        f"released v{n}: {p}" for n, p in problems
    )


@pytest.mark.parametrize("name", sorted(NOW))
def test_schema_is_its_latest_released_version(name: str) -> None:
    versions = LOCKED.get(name, [])
    assert versions, f"{name} was never released: run `python -m devtools.schema_versions release`"
    assert schema_versions.dumps(versions[-1]) == schema_versions.dumps(NOW[name]), (
        f"{name} changed since v{len(versions)}: run `python -m devtools.schema_versions release`"
    )


def test_no_released_schema_was_removed() -> None:
    assert sorted(set(LOCKED) - set(NOW)) == []


def test_release_adds_a_version_for_a_compatible_change_and_refuses_a_breaking_one(
    tmp_path: Path,
) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    released = tmp_path / "released"
    thing = copy.deepcopy(BASE)
    (schemas / "t.Thing.avsc").write_text(json.dumps(thing))
    assert [p.name for p in schema_versions.release(schemas, released)] == ["v1.avsc"]
    assert schema_versions.release(schemas, released) == []  # unchanged: no new version
    thing["doc"] = "only the documentation changed"
    (schemas / "t.Thing.avsc").write_text(json.dumps(thing))
    assert schema_versions.findings(schemas, released) == []
    thing["fields"].append({"name": "extra", "type": ["null", "long"], "default": None})
    (schemas / "t.Thing.avsc").write_text(json.dumps(thing))
    assert [str(f) for f in schema_versions.findings(schemas, released)] == [
        "t.Thing: differs from its latest released version (v1): record it with "
        "`python -m devtools.schema_versions release`"
    ]
    assert [p.name for p in schema_versions.release(schemas, released)] == ["v2.avsc"]
    # v2 has `extra` with a default; making it required breaks v1 (which lacks it).
    _field(thing, "extra").update(type="long")
    del _field(thing, "extra")["default"]
    (schemas / "t.Thing.avsc").write_text(json.dumps(thing))
    with pytest.raises(ValueError, match=r"t.Thing: cannot read data written with released v1"):
        schema_versions.release(schemas, released)
    assert sorted(p.name for p in (released / "t.Thing").iterdir()) == ["v1.avsc", "v2.avsc"]
    assert any("released v1" in str(f) for f in schema_versions.findings(schemas, released))


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
