"""The import graph of the ``dds`` package, read statically (every ``import`` at any depth, function-local
ones included): what ``tests/test_architecture.py`` checks and ``docs_hooks/architecture.py`` draws.

An import of ``dds.a.b.c`` from outside package ``dds.a`` also runs ``dds/a/__init__.py``: such imports count
as edges to each package entered (``dds.a``, ``dds.a.b``), since that is where real import cycles hide.
The root package ``dds`` is the public facade: it imports everything and nothing imports it.
"""

from __future__ import annotations

import ast
import pathlib
from collections import defaultdict

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent.parent / "dds"

#: The layers, lowest first: a module may import modules of lower layers and of its own package only.
LAYERS: list[tuple[str, ...]] = [
    ("dds._version", "dds.errors"),
    ("dds.options", "dds.paths", "dds.filesystems", "dds.forks"),
    ("dds.signature", "dds.codecs"),
    ("dds.store",),
    ("dds.session",),
    ("dds.inputs",),
    ("dds.step",),
    ("dds.pipeline",),
    ("dds.api", "dds.structures"),
    ("dds.cli", "dds.notebook"),
]


def modules(root: pathlib.Path = PACKAGE_DIR) -> dict[str, tuple[pathlib.Path, bool]]:
    """``{module name: (file, is a package)}`` for every module of the package."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _targets(module: str, is_package: bool, node: ast.AST, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([base] if base else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def import_graph(root: pathlib.Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """``{module: modules it imports}``, dds modules only, including the packages an import enters."""
    known = modules(root)
    graph: dict[str, set[str]] = defaultdict(set)
    for module, (path, is_package) in known.items():
        graph[module]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(module, is_package, node, known):
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if not target or target == module:
                    continue
                graph[module].add(target)
                parts = target.split(".")
                for i in range(2, len(parts)):  # packages entered on the way (not the root, not our own)
                    package = ".".join(parts[:i])
                    if package in known and not (module + ".").startswith(package + ".") and package != module:
                        graph[module].add(package)
    return dict(graph)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
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
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def area(module: str) -> str:
    """The layer entry a module belongs to (``dds.store.local`` -> ``dds.store``); '' for the root."""
    for layer in LAYERS:
        for name in layer:
            if module == name or module.startswith(name + "."):
                return name
    return ""


def layer_of(module: str) -> int:
    name = area(module)
    return next((i for i, layer in enumerate(LAYERS) if name in layer), len(LAYERS))


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go up a layer or sideways into another package of the same layer."""
    wrong = []
    for module, targets in sorted(graph.items()):
        if module == "dds":
            continue
        for target in sorted(targets):
            if target == "dds":
                wrong.append(f"{module} -> dds (the public facade: import the module that defines it)")
            elif layer_of(target) > layer_of(module) or (
                    layer_of(target) == layer_of(module) and area(target) != area(module)):
                wrong.append(f"{module} -> {target}")
    return wrong


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph between areas (``dds.store``, ``dds.signature`` ...): what the architecture picture draws."""
    areas: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        source = area(module) or "dds"
        areas[source]
        for target in targets:
            name = area(target) or "dds"
            if name != source:
                areas[source].add(name)
    return dict(areas)
