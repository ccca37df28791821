"""Draw a pipeline plan as a graph (pydotplus): nodes are paths, edges are data dependencies.

``.dot`` output needs nothing else; ``.png``/``.svg`` need Graphviz's ``dot`` program, and its absence is
a clear error naming the fix rather than a traceback from deep inside pydotplus.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from ..errors import DDSError
from .plan import Plan
from .status import FRESH, LOADED, MAY_RUN, RAN, WILL_RUN

COLOURS = {  # fill colour per status; a legend is part of the graph
    FRESH: "#b8e186",
    LOADED: "#b8e186",
    WILL_RUN: "#fdb863",
    MAY_RUN: "#fee08b",
    RAN: "#f4a582",
}
READ_ONLY = "read only"
LEGEND = {  # what each colour means, in the words the legend box shows
    FRESH: "fresh: stored for this code, loads",
    WILL_RUN: "will run: code, inputs or upstream changed",
    MAY_RUN: "may run: depends on values known at run time",
    RAN: "ran: computed in this run",
    LOADED: "loaded: read from the store in this run",
    READ_ONLY: "read only: loaded, kept by another pipeline",
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
    shown = []  # the statuses drawn, in order: the legend explains only those
    for path, step in plan.steps.items():
        graph.add_node(pydotplus.Node(_quote(path), label=_quote(node_label(step)),
                                      fillcolor=COLOURS.get(step.status, "white"),
                                      tooltip=_quote(step.reason or step.status)))
        shown.append(step.status)
    for path, step in plan.steps.items():
        for up in step.upstream:
            if up not in plan.steps:
                graph.add_node(pydotplus.Node(_quote(up), label=_quote(f"{up}\\n{READ_ONLY}"), fillcolor="white"))
                shown.append(READ_ONLY)
            graph.add_edge(pydotplus.Edge(_quote(up), _quote(path)))
    if shown:
        graph.add_subgraph(_legend(pydotplus, list(dict.fromkeys(shown))))
    return graph


def node_label(step: Any) -> str:
    """Path, function, then what an evaluation does and why (the signature when it is known before running:
    a step whose inputs are upstream values gets its signature only at run time, so none is shown)."""
    lines = [step.path, step.function]
    status = f"{step.status} · {step.sig[:10]}" if step.sig else step.status
    lines.append(status)
    if step.reason and step.status not in (FRESH, LOADED, RAN):
        lines.append(_shorten(step.reason, 48))
    return "\\n".join(lines)


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def legend_lines(statuses: list[str]) -> list[str]:
    """The legend as text, one status a line (``dds graph`` prints it under a text graph)."""
    return [LEGEND.get(status, status) for status in statuses]


def _legend(pydotplus: Any, statuses: list[str]) -> Any:
    """A boxed legend with one swatch per status drawn, beside the graph."""
    legend = pydotplus.Cluster("legend", label=_quote("legend"), fontname="Helvetica", fontsize="10",
                               style="dashed", color="#999999", rank="same")  # one column beside LR
    for status in statuses:
        legend.add_node(pydotplus.Node(_quote(f"legend: {status}"), label=_quote(LEGEND.get(status, status)),
                                       fillcolor=COLOURS.get(status, "white"), fontsize="9"))
    return legend


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


def plan_pipeline(pipeline: str, store: Any = None) -> Plan:
    """The plan of the pipeline named ``module:function`` (imported, never run) on ``store``."""
    from .. import session
    from .reference import import_pipeline
    from .plan import make_plan

    return make_plan(import_pipeline(pipeline), (), {}, store or session.current_store())


def export_pipeline_graph(pipeline: str, filename: str, store: Any = None) -> str:
    """``dds graph module:function -o FILE``: plan the pipeline (nothing runs) and draw it."""
    return export_graph(plan_pipeline(pipeline, store), filename)
