"""The import graph shows the architecture: the apps (``pipeline``, ``producers``, ``sinks``) import
the core (``touchline``) and never each other; the core imports no app; the core's runtime modules
do not import the local stack (``touchline.services``: starting Kafka, Redis, the registry); no
runtime module imports developer tooling (``devtools``, ``tests``); the composition root (``cli``:
the command line and the demo) imports everything and nothing imports it. The synthetic data
(``synthetic``: the generator and the arrival replay) imports only the core, and only the allowed
runtime modules import it. The event-time reference (``reference``: the reports again in plain
Python, and the worker's steps run in event time) sits above the apps like the composition root:
it imports the core, the apps and the synthetic data, and only ``cli`` and the tests import it.
Imports inside functions count.

``ALLOWED`` lists today's exceptions, each by file and imported package. It only shrinks: an arrow
that is gone must be removed from it (the test says so), and a new one fails the test."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from touchline.settings import REPO_ROOT

CORE = "touchline"
APPS = ("pipeline", "producers", "sinks")
ROOT = "cli"  # the composition root
LOCAL_STACK = "touchline.services"
TOOLING = ("devtools", "tests")
SYNTHETIC = "synthetic"
REFERENCE = "reference"

# (importing file, imported package) -> why it is still there.
ALLOWED: dict[tuple[str, str], str] = {
    ("producers/generate_command.py", SYNTHETIC): "`touchline generate` writes or publishes it",
}


def _package(module: str) -> str:
    """The package an import belongs to for these rules."""
    if module == LOCAL_STACK or module.startswith(LOCAL_STACK + "."):
        return LOCAL_STACK
    return module.split(".", 1)[0]


def imports(path: Path, root: Path = REPO_ROOT) -> set[str]:
    """Every module ``path`` imports (absolute, relative imports resolved), at any depth."""
    package = list(path.relative_to(root).parts[:-1])  # also for an __init__.py
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found.add(module)
            # `from touchline import services` imports the subpackage services
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


@cache
def arrows() -> dict[tuple[str, str], list[str]]:
    """(importing file, imported package) -> the forbidden modules it imports."""
    out: dict[tuple[str, str], list[str]] = {}
    for top in (CORE, *APPS, SYNTHETIC, REFERENCE):
        for path in sorted((REPO_ROOT / top).rglob("*.py")):
            rel = str(path.relative_to(REPO_ROOT))
            in_stack = rel.startswith(LOCAL_STACK.replace(".", "/") + "/")
            for module in sorted(imports(path)):
                target = _package(module)
                forbidden = (
                    target in TOOLING
                    or target == ROOT
                    or (target == REFERENCE and top != REFERENCE)
                    or (target in APPS and target != top and top != REFERENCE)
                    or (target == LOCAL_STACK and not in_stack and top not in (*APPS, ROOT))
                    or (target == SYNTHETIC and top not in (SYNTHETIC, REFERENCE))
                )
                if forbidden:
                    out.setdefault((rel, target), []).append(module)
    return out


def test_no_arrow_from_the_core_to_an_app_or_between_apps_beyond_the_allowed() -> None:
    found = arrows()
    new = {edge: found[edge] for edge in found if edge not in ALLOWED}
    assert new == {}, "forbidden imports (see the module docstring): " + repr(new)


def test_the_allow_list_only_shrinks() -> None:
    gone = sorted(edge for edge in ALLOWED if edge not in arrows())
    assert gone == [], f"no longer imported, remove from ALLOWED: {gone}"


def test_imports_are_read_at_any_depth_and_relative_ones_resolved(tmp_path: Path) -> None:
    found = imports(REPO_ROOT / "cli" / "main.py")  # all three inside functions
    assert {"pipeline.commands", "sinks.commands", "touchline.services.stack"} <= found
    code = "def f():\n    from ..producers import x\n    from . import y\n"
    tree = tmp_path / "pipeline" / "sub"
    tree.mkdir(parents=True)
    (tree / "mod.py").write_text(code)
    assert imports(tmp_path / "pipeline" / "sub" / "mod.py", root=tmp_path) == {
        "pipeline.producers",
        "pipeline.producers.x",
        "pipeline.sub",
        "pipeline.sub.y",
    }
    assert _package("touchline.services.stack") == LOCAL_STACK
    assert _package("touchline.endpoints") == CORE
