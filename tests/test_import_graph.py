"""The package's import graph has no cycle (issue 20).

Every ``import`` of a ``brahmasifier`` module in ``src/brahmasifier`` is an edge — at module
level, inside functions and under ``if TYPE_CHECKING:`` alike — from the importing module to
the module named (``from pkg import name`` counts as an import of ``pkg.name`` when that is a
module, else of ``pkg``). The implicit import of a parent package's ``__init__`` is not an
edge: a package re-exporting its submodules is not a cycle. Tarjan's algorithm finds the
strongly connected components; any component of more than one module is a cycle.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import brahmasifier

ROOT = Path(brahmasifier.__file__).parent
#: Cycles another change removes; each listed with who removes it. Nothing else is allowed.
KNOWN_CYCLES: list[frozenset[str]] = []  # none: a new cycle fails this test


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = ("brahmasifier", *path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = _package_of(module, path).split(".")
                    base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` names module a.b.c (or its nearest module)
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_is_read_from_the_code() -> None:
    graph = import_graph()
    assert "brahmasifier.simulation.runs" in graph["brahmasifier.simulation.layout"]
    assert "brahmasifier.simulation.engines" in graph["brahmasifier.simulation.generate"]
    # a cycle is found where there is one
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset({"a", "b", "c"})]


def test_no_import_cycle() -> None:
    found = [c for c in cycles(import_graph()) if c not in KNOWN_CYCLES]
    assert not found, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in found)
