"""Schema evolution: can a new version of a contract read every event written with the old one?

Touchline's contracts must stay *backward compatible*: consumers upgraded to the new schema (the
reader) still decode what producers wrote with the old one (the writer), because Kafka keeps old
events and producers upgrade last. Two independent checks, both pure:

* :func:`resolution_problems` applies the Avro specification's schema-resolution rules
  (records by field name and aliases, defaults for fields the writer lacks, enum symbols, union
  branch matching, the allowed primitive promotions);
* :func:`empirical_problems` writes sample data with the old schema and reads it back with the new
  one through fastavro, so a rule this module got wrong cannot pass unnoticed.

:func:`check` runs both. Schemas are given as self-contained JSON (``contracts.expand``); logical
types are ignored, as Avro resolution itself does.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import fastavro

PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
NAMED = ("record", "enum", "fixed")
# writer type -> reader types it may be read as (Avro 1.11 spec, "Schema Resolution").
PROMOTIONS: dict[str, tuple[str, ...]] = {
    "int": ("int", "long", "float", "double"),
    "long": ("long", "float", "double"),
    "float": ("float", "double"),
    "string": ("string", "bytes"),
    "bytes": ("bytes", "string"),
}


@dataclass(frozen=True)
class Incompatibility:
    """One reason the new schema cannot read data written with the old one."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


Names = dict[str, dict[str, Any]]


def check(old: dict[str, Any], new: dict[str, Any]) -> list[Incompatibility]:
    """Why ``new`` (reader) cannot read data written with ``old`` (writer); [] if it can."""
    found = resolution_problems(old, new)
    if not found:
        found = empirical_problems(old, new)
    return found


# --- the specification's rules ------------------------------------------------------------------


def resolution_problems(old: dict[str, Any], new: dict[str, Any]) -> list[Incompatibility]:
    problems: list[Incompatibility] = []
    _resolve(old, new, {}, {}, _full_name(new, ""), problems, set())
    return problems


def _full_name(node: dict[str, Any], namespace: str) -> str:
    name = str(node.get("name", ""))
    ns = node.get("namespace", namespace)
    return name if "." in name or not ns else f"{ns}.{name}"


def _deref(node: Any, names: Names, namespace: str) -> tuple[Any, str]:
    """The schema ``node`` stands for (named references looked up, ``{"type": X}`` unwrapped),
    registering named types as they are met, and the namespace in effect inside it."""
    if isinstance(node, str):
        if node in PRIMITIVES:
            return node, namespace
        full = node if "." in node or not namespace else f"{namespace}.{node}"
        target = names.get(full, names.get(node))
        if target is None:
            raise ValueError(f"unknown type {node!r}")
        return target, full.rsplit(".", 1)[0] if "." in full else ""
    if isinstance(node, dict):
        kind = node.get("type")
        if kind in NAMED:
            full = _full_name(node, namespace)
            names.setdefault(full, node)
            return node, full.rsplit(".", 1)[0] if "." in full else ""
        if isinstance(kind, str | list | dict) and kind not in ("array", "map"):
            if isinstance(kind, str) and kind in PRIMITIVES:
                return kind, namespace
            return _deref(kind, names, namespace)
    return node, namespace


def _kind(node: Any) -> str:
    if isinstance(node, list):
        return "union"
    if isinstance(node, str):
        return node
    return str(node.get("type"))


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _names_match(writer: dict[str, Any], reader: dict[str, Any], w_ns: str, r_ns: str) -> bool:
    w_full, r_full = _full_name(writer, w_ns), _full_name(reader, r_ns)
    aliases = {_short(str(a)) for a in reader.get("aliases", [])}
    return _short(w_full) == _short(r_full) or _short(w_full) in aliases


def _shallow_match(w: Any, r: Any, w_ns: str, r_ns: str) -> bool:
    """Whether the reader branch ``r`` is a candidate for the writer branch ``w`` in a union."""
    wk, rk = _kind(w), _kind(r)
    if wk in NAMED and rk == wk:
        return _names_match(w, r, w_ns, r_ns)
    if wk in ("array", "map"):
        return rk == wk
    return rk in PROMOTIONS.get(wk, (wk,))


def _resolve(
    w_node: Any,
    r_node: Any,
    w_names: Names,
    r_names: Names,
    path: str,
    out: list[Incompatibility],
    seen: set[tuple[str, str]],
    w_ns: str = "",
    r_ns: str = "",
) -> None:
    w, w_ns = _deref(w_node, w_names, w_ns)
    r, r_ns = _deref(r_node, r_names, r_ns)
    wk, rk = _kind(w), _kind(r)
    if wk == "union":
        for branch in w:
            sub = f"{path}<{_label(branch)}>"
            _resolve(branch, r, w_names, r_names, sub, out, seen, w_ns, r_ns)
        return
    if rk == "union":
        branches = [_deref(b, r_names, r_ns) for b in r]
        for branch, ns in branches:
            if _shallow_match(w, branch, w_ns, ns):
                _resolve(w, branch, w_names, r_names, path, out, seen, w_ns, ns)
                return
        out.append(Incompatibility(path, f"writer type {_label(w)} matches no branch of the union"))
        return
    if wk in NAMED or rk in NAMED:
        if wk != rk or not _names_match(w, r, w_ns, r_ns):
            out.append(Incompatibility(path, f"writer {_label(w)} cannot be read as {_label(r)}"))
            return
        key = (_full_name(w, w_ns), _full_name(r, r_ns))
        if key in seen:  # recursive types: already being checked
            return
        seen.add(key)
        if wk == "record":
            _record(w, r, w_names, r_names, path, out, seen, w_ns, r_ns)
        elif wk == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                out.append(
                    Incompatibility(
                        path, f"enum symbols {missing} removed and the reader enum has no default"
                    )
                )
        elif w.get("size") != r.get("size"):
            out.append(Incompatibility(path, f"fixed size {w.get('size')} -> {r.get('size')}"))
        return
    if wk in ("array", "map"):
        if rk != wk:
            out.append(Incompatibility(path, f"{wk} cannot be read as {rk}"))
            return
        part = "items" if wk == "array" else "values"
        _resolve(w[part], r[part], w_names, r_names, f"{path}[]", out, seen, w_ns, r_ns)
        return
    if rk not in PROMOTIONS.get(wk, (wk,)):
        out.append(Incompatibility(path, f"type {wk} cannot be read as {rk}"))


def _record(
    w: dict[str, Any],
    r: dict[str, Any],
    w_names: Names,
    r_names: Names,
    path: str,
    out: list[Incompatibility],
    seen: set[tuple[str, str]],
    w_ns: str,
    r_ns: str,
) -> None:
    w_fields = {f["name"]: f for f in w["fields"]}
    # Register every named type the writer defines, even in fields the reader ignores.
    for field in w["fields"]:
        _register(field["type"], w_names, w_ns)
    for field in r["fields"]:
        name = field["name"]
        match = next(
            (w_fields[n] for n in (name, *field.get("aliases", ())) if n in w_fields), None
        )
        sub = f"{path}.{name}"
        if match is None:
            _register(field["type"], r_names, r_ns)
            if "default" not in field:
                out.append(
                    Incompatibility(sub, "new field without a default (old data does not have it)")
                )
            continue
        _resolve(match["type"], field["type"], w_names, r_names, sub, out, seen, w_ns, r_ns)


def _register(node: Any, names: Names, namespace: str) -> None:
    if isinstance(node, list):
        for n in node:
            _register(n, names, namespace)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in NAMED:
        full = _full_name(node, namespace)
        if full in names:
            return
        names[full] = node
        inner = full.rsplit(".", 1)[0] if "." in full else ""
        for field in node.get("fields", []):
            _register(field["type"], names, inner)
    elif kind == "array":
        _register(node["items"], names, namespace)
    elif kind == "map":
        _register(node["values"], names, namespace)
    elif isinstance(kind, dict | list):
        _register(kind, names, namespace)


def _label(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "union"
    if isinstance(node, dict) and node.get("type") in NAMED:
        return f"{node['type']} {node.get('name')}"
    if isinstance(node, dict):
        return _label(node.get("type"))
    return str(node)


# --- empirical check ----------------------------------------------------------------------------


def empirical_problems(old: dict[str, Any], new: dict[str, Any]) -> list[Incompatibility]:
    """Write sample data with ``old`` and read it with ``new`` through fastavro."""
    try:
        writer = fastavro.parse_schema(_plain(old), _write_hint=False)
        reader = fastavro.parse_schema(_plain(new), _write_hint=False)
    except Exception as exc:  # fastavro raises several types for invalid schemas
        return [Incompatibility("$", f"schema does not parse: {exc}")]
    problems: list[Incompatibility] = []
    for variant in range(_width(old, set()) or 1):
        datum = sample(old, variant)
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, datum)
        buf.seek(0)
        try:
            fastavro.schemaless_reader(buf, writer, reader)
        except Exception as exc:  # SchemaResolutionError and friends
            problems.append(Incompatibility("$", f"sample {variant} not readable: {exc}"))
            break
    return problems


def _plain(node: Any) -> Any:
    if isinstance(node, list):
        return [_plain(n) for n in node]
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    return node


def _width(node: Any, seen: set[int]) -> int:
    """How many samples cover every union branch and enum symbol at least once."""
    if isinstance(node, list):
        return max([len(node), *(_width(n, seen) for n in node)])
    if not isinstance(node, dict) or id(node) in seen:
        return 1
    seen.add(id(node))
    kind = node.get("type")
    if kind == "enum":
        return len(node["symbols"])
    if kind == "record":
        return max([1, *(_width(f["type"], seen) for f in node["fields"])])
    if kind == "array":
        return _width(node["items"], seen)
    if kind == "map":
        return _width(node["values"], seen)
    return _width(kind, seen)


def sample(schema: dict[str, Any], variant: int = 0) -> Any:
    """A datum valid for ``schema``; ``variant`` picks union branches and enum symbols, so
    variants 0..n-1 together exercise every branch and symbol."""
    return _sample(schema, variant, {}, "", 0)


def _sample(node: Any, k: int, names: Names, ns: str, depth: int) -> Any:
    node, ns = _deref(node, names, ns)
    kind = _kind(node)
    if kind == "union":
        branches = node if depth < 8 else [b for b in node if b == "null"] or node
        return _sample(branches[k % len(branches)], k, names, ns, depth + 1)
    if kind == "record":
        return {f["name"]: _sample(f["type"], k, names, ns, depth + 1) for f in node["fields"]}
    if kind == "enum":
        return node["symbols"][k % len(node["symbols"])]
    if kind == "fixed":
        return b"\x00" * int(node["size"])
    if kind == "array":
        return [_sample(node["items"], k, names, ns, depth + 1)] if depth < 8 else []
    if kind == "map":
        return {"k": _sample(node["values"], k, names, ns, depth + 1)} if depth < 8 else {}
    values: dict[str, Any] = {
        "null": None,
        "boolean": bool(k % 2),
        "int": k,
        "long": k,
        "float": float(k),
        "double": float(k),
        "bytes": b"x",
        "string": f"s{k}",
    }
    return values[kind]
