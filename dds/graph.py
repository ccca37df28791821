"""Draw a pipeline plan as a graph (pydotplus): nodes are paths, edges are data dependencies.

``.dot`` output needs nothing else; ``.png``/``.svg`` need Graphviz's ``dot`` program, and its absence is
a clear error naming the fix rather than a traceback from deep inside pydotplus.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from .errors import DDSError
from .plan import Plan

COLOURS = {  # fill colour per status; a legend is part of the graph
    "fresh": "#b8e186",
    "loaded": "#b8e186",
    "will run": "#fdb863",
    "may run": "#fee08b",
    "ran": "#f4a582",
}
FORMATS = ("dot", "svg", "png")


def to_dot(plan: Plan) -> Any:
    """A ``pydotplus.Dot`` graph of ``plan``."""
    try:
        import pydotplus
    except ImportError:
        raise DDSError("Exporting a graph needs pydotplus. Fix: pip install 'dds[graph]' (or pydotplus).") from None
    graph = pydotplus.Dot(graph_type="digraph", rankdir="LR")
    graph.set_node_defaults(shape="box", style='"rounded,filled"', fontname="Helvetica", fontsize="10")
    for path, step in plan.steps.items():
        sig = step.sig[:10] if step.sig else "?"
        label = f"{path}\\n{step.function}\\n{sig} · {step.status}"
        graph.add_node(pydotplus.Node(_quote(path), label=_quote(label), fillcolor=COLOURS.get(step.status, "white"),
                                      tooltip=_quote(step.reason or step.status)))
    for path, step in plan.steps.items():
        for up in step.upstream:
            if up not in plan.steps:
                graph.add_node(pydotplus.Node(_quote(up), label=_quote(f"{up}\\n(read only)"), fillcolor="white"))
            graph.add_edge(pydotplus.Edge(_quote(up), _quote(path)))
    return graph


def _quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def export_graph(plan: Plan, filename: str | os.PathLike) -> str:
    """Write ``plan`` to ``filename``; the format comes from its extension (.dot, .svg or .png)."""
    filename = os.fspath(filename)
    fmt = os.path.splitext(filename)[1].lstrip(".").lower()
    if fmt not in FORMATS:
        raise DDSError(f"Cannot export the graph to {filename!r}: use a .dot, .svg or .png file name.")
    graph = to_dot(plan)
    if fmt == "dot":
        data = graph.to_string().encode("utf-8")
    else:
        if shutil.which("dot") is None:
            raise DDSError(
                f"Cannot render {filename!r}: Graphviz's 'dot' program is not installed. Fix: install Graphviz "
                "(apt-get install graphviz, brew install graphviz, conda install graphviz), or export to a "
                ".dot file, which needs nothing."
            )
        data = graph.create(prog="dot", format=fmt)
    tmp = f"{filename}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, filename)
    return filename


def export_pipeline_graph(pipeline: str, filename: str, store: Any = None) -> str:
    """``dds graph module:function -o FILE``: plan the pipeline (nothing runs) and draw it."""
    from . import api
    from .plan import make_plan
    from .pipeline_ref import import_pipeline

    fn = import_pipeline(pipeline)
    return export_graph(make_plan(fn, (), {}, store or api.get_store()), filename)
