"""The package's layers hold: import-linter contracts, no import cycles, no hidden state.

Why tests: a layer rule that is only written down erodes; ``client.py`` once imported the
catalog, which imported it back (a cycle of seven files), and behaviour hung on module
lists. These tests fail on the first import that breaks a layer or closes a cycle.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lunos_integrations"

grimp = pytest.importorskip("grimp", reason="grimp ships with import-linter (test extra)")


def _lint_imports() -> Path:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.skip("lint-imports is not installed (import-linter, in the test extra)")
    return exe


@pytest.mark.timeout(120)
def test_import_linter_contracts_are_kept() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [str(_lint_imports()), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=110,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "0 broken" in out and "Layers:" in out and "independent" in out, out


def _cycles(graph: object, package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m.startswith(package))  # type: ignore[attr-defined]
    edges = {
        m: sorted(
            d
            for d in graph.find_modules_directly_imported_by(m)  # type: ignore[attr-defined]
            if d.startswith(package)
        )
        for m in modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(edges[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph, "p.") == [["p.a", "p.b", "p.c"]]


def test_no_import_cycles_in_the_package() -> None:
    graph = grimp.build_graph(
        "lunos_integrations", exclude_type_checking_imports=True, cache_dir=None
    )
    assert _cycles(graph, "lunos_integrations.") == []


def _module_level_mutables(path: Path) -> list[str]:
    """Module-level names bound to a list / dict / set that are not constant tables.

    Read-only lookup tables are named in CONSTANT_CASE (and ``__all__`` is a list by
    convention); anything else bound to a mutable container at module level is state.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        mutable = isinstance(value, (ast.List, ast.Dict, ast.Set, ast.ListComp, ast.DictComp))
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            mutable = mutable or value.func.id in ("list", "dict", "set", "defaultdict")
        if mutable:
            found.extend(
                t.id
                for t in targets
                if isinstance(t, ast.Name) and t.id != "__all__" and not t.id.isupper()
            )
    return found


@pytest.mark.parametrize(
    "module",
    ["client.py", "usage.py", "usage_events.py", "pricing.py", "parameters.py", "facts.py"],
)
def test_core_modules_keep_no_mutable_module_state(module: str) -> None:
    """Behaviour lives in objects handed around, not in module-level lists or dicts."""
    assert _module_level_mutables(PACKAGE / module) == []


def test_the_state_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("_listeners: list[int] = []\n_TABLE = {1: 2}\n_seen = set()\n")
    assert _module_level_mutables(bad) == ["_listeners", "_seen"]
