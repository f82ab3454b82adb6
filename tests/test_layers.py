"""The package's layers, read from its source with ``ast``: imports flow downward only, and no
module imports itself through others.

Every ``import matcalc...`` and ``from matcalc... import ...`` counts, also those inside functions
(a deferred import is still a dependency); only the ``if TYPE_CHECKING:`` block of
matcalc/__init__.py is left out (it exists for type checkers and never runs). Imports by string
(``importlib.import_module``) are not seen. A failure names each offending edge with its file
and line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

# The layer order of the preamble and DESIGN.md, lowest first: a module may import its own layer or
# a lower one. A name is matcalc's top-level folder or module; "__init__" is matcalc/__init__.py, and
# "__main__" (`python -m matcalc`) runs the command, so it sits with cli.
LAYERS: list[tuple[str, ...]] = [
    ("errors",), ("model",), ("draws",), ("fast",), ("claims",), ("catalog",), ("core",),
    ("oracles",), ("diagnosis",), ("engine",), ("backward",), ("perf",), ("report",),
    ("testing", "__init__"), ("cli", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}
PACKAGE = Path(__file__).resolve().parents[1] / "matcalc"


@dataclass(frozen=True)
class Edge:
    """One import: ``source`` imports ``target`` (dotted module names) at ``file:line``."""

    source: str
    target: str
    file: str
    line: int
    deferred: bool  # inside a function

    def __str__(self) -> str:
        where = " (inside a function)" if self.deferred else ""
        return f"{self.file}:{self.line}: {self.source} -> {self.target}{where}"


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``package``."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The module that importing ``name`` binds: the longest prefix that is a module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and (
        (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
        or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING"))


def edges_of(name: str, path: Path, known: dict[str, Path], package: Path) -> list[Edge]:
    """The imports of one module that land in ``package``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    root = package.name
    is_package = path.name == "__init__.py"
    rel = path.relative_to(package.parent).as_posix()
    found: list[Edge] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        if name == root and _is_type_checking(node):
            return  # matcalc/__init__.py's names for type checkers only: never imported at run time
        inner = deferred or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        targets: list[str] = []
        line = 0
        if isinstance(node, ast.Import):
            targets, line = [alias.name for alias in node.names], node.lineno
        elif isinstance(node, ast.ImportFrom):
            line = node.lineno
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                pkg = name.split(".") if is_package else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            # `from P import N` binds the submodule P.N when there is one, else a name of P.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            if target == root or target.startswith(root + "."):
                module = _resolve(target, known)
                edge = Edge(name, module, rel, line, deferred) if module not in (None, name) else None
                if edge is not None and edge not in found:  # `from m import a, b` is one edge
                    found.append(edge)
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def all_edges(package: Path) -> list[Edge]:
    known = modules(package)
    return [e for name, path in known.items() for e in edges_of(name, path, known, package)]


def layer(module: str) -> str:
    """The layer name of a dotted module: its top-level folder or module under matcalc."""
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def upward(edges: list[Edge]) -> list[str]:
    """Each edge from a lower layer to a higher one, with both layers named."""
    bad = []
    for e in edges:
        src, dst = layer(e.source), layer(e.target)
        if RANK[dst] > RANK[src]:
            bad.append(f"{e}: layer {src!r} imports the higher layer {dst!r}")
    return bad


def cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle of edges for each strongly connected group of modules (Tarjan's algorithm)."""
    graph: dict[str, list[Edge]] = {}
    for e in edges:
        graph.setdefault(e.source, []).append(e)
        graph.setdefault(e.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:  # recursion depth is bounded by the module count (~100)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for e in graph[v]:
            if e.target not in index:
                connect(e.target)
                low[v] = min(low[v], low[e.target])
            elif e.target in on_stack:
                low[v] = min(low[v], index[e.target])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(sorted(g)[0], g, graph) for g in groups]


def _cycle_in(start: str, group: set[str], graph: dict[str, list[Edge]]) -> list[Edge]:
    """A shortest path of edges from ``start`` back to itself inside ``group`` (breadth first)."""
    came: dict[str, Edge] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for e in graph[v]:
                if e.target not in group:
                    continue
                if e.target == start:
                    path = [e]
                    while path[0].source != start:
                        path.insert(0, came[path[0].source])
                    return path
                if e.target not in came:
                    came[e.target] = e
                    nxt.append(e.target)
        frontier = nxt
    raise AssertionError(f"no cycle through {start} in {sorted(group)}")  # Tarjan said there is one


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({layer(m) for m in modules(PACKAGE)} - RANK.keys())
    assert not unplaced, f"matcalc/{unplaced[0]} is in no layer: add it to LAYERS in {__file__}"


def test_imports_flow_downward() -> None:
    bad = upward(all_edges(PACKAGE))
    assert not bad, "imports from a lower layer to a higher one:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    found = cycles(all_edges(PACKAGE))
    assert not found, "import cycles:\n" + "\n\n".join("\n".join(map(str, c)) for c in found)


def test_the_parse_sees_what_it_must(tmp_path: Path) -> None:
    """The checks above on a made-up package: a deferred upward import, a relative import that closes
    a cycle, and __init__'s TYPE_CHECKING block (left out) beside a run-time import (kept)."""
    pkg = tmp_path / "matcalc"
    (pkg / "model").mkdir(parents=True)
    (pkg / "engine").mkdir()
    files = {
        "__init__.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                       "    from matcalc.cli import main\nfrom matcalc.model import rule\n",
        "cli.py": "import matcalc\n",
        "errors.py": "",
        "model/__init__.py": "",
        "model/rule.py": "from matcalc.errors import MatcalcError\n\ndef f():\n"
                         "    from matcalc.engine.check import check\n",
        "engine/__init__.py": "",
        "engine/check.py": "from ..model import rule\n",
    }
    for rel, text in files.items():
        (pkg / rel).write_text(text)
    edges = all_edges(pkg)
    assert {(e.source, e.target) for e in edges} == {
        ("matcalc", "matcalc.model.rule"), ("matcalc.cli", "matcalc"),
        ("matcalc.model.rule", "matcalc.errors"), ("matcalc.model.rule", "matcalc.engine.check"),
        ("matcalc.engine.check", "matcalc.model.rule")}
    assert upward(edges) == ["matcalc/model/rule.py:4: matcalc.model.rule -> matcalc.engine.check (inside a "
                             "function): layer 'model' imports the higher layer 'engine'"]
    assert [[str(e) for e in c] for c in cycles(edges)] == [[
        "matcalc/engine/check.py:1: matcalc.engine.check -> matcalc.model.rule",
        "matcalc/model/rule.py:4: matcalc.model.rule -> matcalc.engine.check (inside a function)"]]


@pytest.mark.parametrize("name", [n for names in LAYERS for n in names if n not in ("__init__",)])
def test_every_layer_exists(name: str) -> None:
    # A misspelt or removed layer would make the order above check nothing for it.
    assert (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file(), f"matcalc/{name} is gone"
