"""The shape of the package (docs/architecture.md): floors without upward imports or cycles,
functions that fit on a screen, modules read in one sitting, verbs only in the CLI layer."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "h2cm"
# from the top floor down; a module imports only from its own floor or those below (core: the rest)
FLOORS = ("cli", "studies", "report", "evaluation", "reference", "training", "data")
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        parts = ("h2cm", *p.relative_to(SRC).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Modules of h2cm that ``name`` imports anywhere (module level and inside functions)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.index(parts[1]) if len(parts) > 1 and parts[1] in FLOORS else len(FLOORS)


def test_no_upward_import():
    upward = [f"{m} -> {t}" for m, ts in GRAPH.items() for t in ts if _floor(t) < _floor(m)]
    assert upward == []


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*path[path.index(t) :], t]))
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_sizes(name):
    path = MODULES[name]
    text = path.read_text()
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path} has {text.count(chr(10))} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno >= MAX_FUNCTION_LINES
    ]
    assert long == [], f"{path}: {long}"


def test_verbs_live_in_the_cli_layer():
    from h2cm.cli import VERBS

    assert all(v.startswith("h2cm.cli.") for v in VERBS)
    outside = [n for n, p in MODULES.items() if _floor(n) > 0 and "def register(sub" in p.read_text()]
    assert outside == []


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.endswith("__main__")))
def test_every_module_imports(name):
    """A name moved between modules breaks its importers at import time: caught here, in the fast lane."""
    importlib.import_module(name)


def test_every_import_inside_functions_names_something_that_exists():
    """Imports inside functions run late (at call time): a name moved away must fail here, not in a study."""
    missing = []
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("h2cm")):
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            if target not in MODULES:
                continue
            module = importlib.import_module(target)
            for alias in node.names:
                if not hasattr(module, alias.name) and f"{target}.{alias.name}" not in MODULES:
                    missing.append(f"{name}: from {target} import {alias.name}")
    assert missing == []
