"""mkdocs hook: docs/architecture.md's picture of the packages is drawn from the code on every build.

The import graph is read statically from dds's source by ``tests/architecture.py`` (the same reader
``tests/test_architecture.py`` checks the rules with), folded into one node per package or top-level
module, and drawn by Graphviz's ``dot`` one layer per row: the public API at the top, the foundations at the
bottom, an arrow pointing at what a package imports (arrows implied by a path through others are left out,
so the picture stays readable). Without ``dot`` the
picture is replaced by a note naming what to install (the build still succeeds).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parent.parent
PAGE = "architecture.md"
PICTURE = "architecture/packages.svg"
MARKER = "<!-- dds-architecture-picture -->"
log = logging.getLogger("mkdocs.hooks.architecture_picture")

_svg: bytes | None = None


def _reader():
    sys.path.insert(0, str(REPO / "tests"))
    try:
        import architecture
    finally:
        sys.path.remove(str(REPO / "tests"))
    return architecture


def to_dot() -> str:
    """The Graphviz source of the package picture."""
    architecture = _reader()
    graph = architecture.package_graph(architecture.import_graph())
    edges = _reduced({node: set(targets) for node, targets in graph.items()})
    lines = ["digraph dds {", '  rankdir=TB; newrank=true; nodesep=0.25; ranksep=0.45;',
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", color="#5b7bb4", '
             'fontname="Helvetica", fontsize=11];', '  edge [color="#8a8a8a", arrowsize=0.6];']
    for layer in architecture.LAYERS:
        names = " ".join(f'"{_label(name)}"' for name in layer if name in graph)
        if names:
            lines.append(f"  {{ rank=same; {names} }}")
    lines.append('  "dds" [label="dds (public API)", fillcolor="#fdf1d6", color="#c49a3a"];')
    for source in sorted(edges):
        for target in sorted(edges[source]):
            lines.append(f'  "{_label(source)}" -> "{_label(target)}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _label(name: str) -> str:
    return name if name == "dds" else name.removeprefix("dds.") + ("/" if _is_package(name) else "")


def _is_package(name: str) -> bool:
    return (REPO / name.replace(".", "/") / "__init__.py").exists()


def _reduced(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Transitive reduction of a DAG: drop ``a -> c`` when ``a`` reaches ``c`` through another node."""
    def reach(start: str, skip: str) -> set[str]:
        seen, todo = set(), [n for n in graph.get(start, ()) if n != skip]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(graph.get(node, ()))
        return seen

    return {source: {t for t in targets if t not in set().union(*(reach(o, "") for o in targets - {t}))}
            for source, targets in graph.items()}


def draw() -> bytes | None:
    if not shutil.which("dot"):
        return None
    done = subprocess.run(["dot", "-Tsvg"], input=to_dot().encode(), capture_output=True, timeout=60)
    if done.returncode != 0:
        log.warning("dot failed to draw the architecture picture: %s", done.stderr.decode(errors="replace"))
        return None
    return done.stdout


def on_pre_build(config, **kwargs) -> None:
    global _svg
    _svg = draw()


def on_files(files, config, **kwargs):
    if _svg is not None:
        files.append(File.generated(config, PICTURE, content=_svg))
    return files


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if _svg is None:
        picture = ("*(The picture of the packages is drawn by Graphviz's `dot`, which was not installed when "
                   "this site was built: `apt-get install graphviz`, then `make docs`.)*")
    else:
        picture = "![The packages of dds and what each imports](architecture/packages.svg)"
    return markdown.replace(MARKER, picture)
