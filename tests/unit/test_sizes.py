"""Small rooms: no runtime module over ``MODULE_LINES`` lines and no function over
``FUNCTION_LINES`` lines, read from the syntax tree. A module counts its physical lines; a function
counts from its ``def`` to its last line (docstring and nested functions included; a nested
function is also measured on its own, named ``outer.inner``).

``ALLOWED`` names today's exceptions, each with the reason it is kept. It only shrinks: an
exception that is back under the limit must be removed (the test says so), a new offender fails
the test, and the README's architecture section lists exactly these exceptions."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from touchline.settings import REPO_ROOT

RUNTIME = ("cli", "touchline", "pipeline", "producers", "sinks", "synthetic")
MODULE_LINES = 400
FUNCTION_LINES = 60

# "path" (a module) or "path::qualified.name" (a function) -> why it is still over the limit.
ALLOWED: dict[str, str] = {
    "pipeline/app.py::create_app": "the Faust app: its agents and timers are closures over the "
    "app, its stores and metrics; splitting them into modules is left to do",
    "sinks/commands.py::_sink": "the sink command's wiring (ClickHouse, erasure, metrics, scans, "
    "the query endpoint); the sink-writer (cluster) work edits the same lines",
    "sinks/sink.py::Sink.__init__": "the sink's wiring (batching, retries, dead letters, "
    "erasure suppression, pseudonymisation, lag checks); the sink-writer work is editing it",
    "sinks/endpoint.py::QueryEndpoint.__init__": "its HTTP handler class (metrics, query and "
    "privacy routes) is declared inside, a closure over the endpoint",
}


def measure(path: Path, root: Path = REPO_ROOT) -> dict[str, int]:
    """Lines of the module (key ``path``) and of each function in it (``path::qualname``)."""
    rel = str(path.relative_to(root))
    text = path.read_text()
    sizes = {rel: len(text.splitlines())}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    sizes[f"{rel}::{name}"] = (child.end_lineno or child.lineno) - child.lineno + 1
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(text, rel), "")
    return sizes


def _runtime_files(root: Path = REPO_ROOT) -> Iterator[Path]:
    for package in RUNTIME:
        yield from sorted((root / package).rglob("*.py"))


def offenders(root: Path = REPO_ROOT) -> dict[str, int]:
    """Every module over MODULE_LINES and function over FUNCTION_LINES, with its lines."""
    found: dict[str, int] = {}
    for path in _runtime_files(root):
        for key, lines in measure(path, root).items():
            limit = FUNCTION_LINES if "::" in key else MODULE_LINES
            if lines > limit:
                found[key] = lines
    return found


def test_no_module_or_function_over_the_limit_beyond_the_allowed() -> None:
    new = {key: lines for key, lines in offenders().items() if key not in ALLOWED}
    assert new == {}, (
        f"over {MODULE_LINES} lines a module or {FUNCTION_LINES} a function (split it, or add it "
        f"to ALLOWED with a reason and to the README): {new}"
    )


def test_the_allow_list_only_shrinks() -> None:
    found = offenders()
    gone = sorted(key for key in ALLOWED if key not in found)
    assert gone == [], f"back under the limit, remove from ALLOWED and the README: {gone}"


def test_the_readme_lists_the_exceptions() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("### Size limits and their exceptions", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([^`]+)` \|", section, re.MULTILINE))
    assert listed == set(ALLOWED)


def test_the_measure_counts_modules_functions_and_nested_ones(tmp_path: Path) -> None:
    body = "\n".join(f"    x{n} = {n}" for n in range(FUNCTION_LINES))
    code = (
        f"class A:\n    def m(self) -> None:\n        pass\n\n\ndef long() -> None:\n{body}\n"
        "    def inner() -> None:\n        pass\n"
    )
    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "mod.py").write_text(code)
    sizes = measure(package / "mod.py", root=tmp_path)
    assert sizes["pipeline/mod.py"] == len(code.splitlines())
    assert sizes["pipeline/mod.py::A.m"] == 2
    assert sizes["pipeline/mod.py::long"] == FUNCTION_LINES + 3
    assert sizes["pipeline/mod.py::long.inner"] == 2
    (package / "big.py").write_text("x = 1\n" * (MODULE_LINES + 1))
    assert offenders(root=tmp_path) == {
        "pipeline/big.py": MODULE_LINES + 1,
        "pipeline/mod.py::long": FUNCTION_LINES + 3,
    }
