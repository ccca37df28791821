"""Objects that show themselves: ``dds.info(path)`` (a stored value's metadata) and ``dds.graph(pipeline)``.

In Jupyter they render as an HTML table and an SVG drawing (``_repr_html_``/``_repr_svg_``); elsewhere their
``repr`` is plain text. The facts come from the same code as ``dds show`` and ``dds graph``
(:mod:`dds.cli.describe`, :mod:`dds.graph`), so a notebook and the command line never disagree. Every string
that comes from user code or the store is escaped before it becomes HTML.
"""

from __future__ import annotations

import html
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import session
from ..signature.identity import function_name
from ..errors import ArgumentError, NotFoundError
from ..paths import validate_path
from ..pipeline import lineage, metadata
from ..pipeline.plan import Plan


_RUN_FIELDS = ("started", "duration_s", "host", "user", "python", "dds", "git_commit", "git_dirty")


# -------------------------------------------------------------------------------------------- dds.info
@dataclass
class ValueInfo:
    """What the store knows about the value at a path: the same facts as ``dds show PATH``."""

    path: str
    signature: str
    function: str | None
    codec: str | None
    size: int | None
    stored_at: str | None
    run: dict = field(default_factory=dict)
    upstream: list[tuple[str, str]] = field(default_factory=list)  # (path, how this value depends on it)
    code: list[str] = field(default_factory=list)  # every user function/class the value's code reaches
    meta: dict = field(default_factory=dict, repr=False)  # the raw metadata

    def _rows(self) -> list[tuple[str, str]]:
        return [("path", self.path), ("function", str(self.function)), ("signature", self.signature),
                ("codec", str(self.codec)), ("size", metadata.human_size(self.size)),
                ("stored", f"{self.stored_at} ({metadata.age(self.stored_at)})")]

    def __repr__(self) -> str:
        lines = [f"{key + ':':<11}{value}" for key, value in self._rows()]
        lines.append("run:")
        lines += [f"  {key}: {value}" for key, value in _run_items(self.run)]
        lines.append("upstream:" if self.upstream else "upstream: (none)")
        lines += [f"  {path}  {note}" for path, note in self.upstream]
        if self.code:
            lines.append("code:")
            lines += [f"  {name}" for name in self.code]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = [(key, f"<code>{e(value)}</code>" if key in ("path", "function", "signature") else e(value))
                for key, value in self._rows()]
        rows.append(("run", "<br>".join(f"{e(key)}: {e(str(value))}" for key, value in _run_items(self.run))
                     or "(none)"))
        upstream = [f"<code>{e(path)}</code> &mdash; {e(note)}" for path, note in self.upstream]
        rows.append(("upstream", "<br>".join(upstream) or "(none)"))
        if self.code:
            rows.append(("code", "<br>".join(f"<code>{e(name)}</code>" for name in self.code)))
        body = "".join(f'<tr><th style="text-align:left;vertical-align:top">{e(key)}</th>'
                       f'<td style="text-align:left">{value}</td></tr>' for key, value in rows)
        return f'<table class="dds-info">{body}</table>'


def _run_items(run: dict) -> list[tuple[str, Any]]:
    """The run fields people look at first, then the user's own fields (library versions left out)."""
    known = [(key, run[key]) for key in _RUN_FIELDS if key in run]
    extra = [(key, value) for key, value in sorted(run.items())
             if key not in _RUN_FIELDS and key not in ("versions", "pid", "platform")]
    return known + extra


def info(path: str) -> ValueInfo:
    """What the store holds at ``path`` (like ``dds show PATH``): signature, function, when, how long, where,
    and the upstream paths it depends on. Shown as a table in Jupyter. NotFoundError if nothing is stored."""
    path = validate_path(path)
    store = session.current_store()
    sig = store.get_ref(path)
    meta = store.read_meta(sig) if sig is not None else None
    if meta is None:
        raise NotFoundError(
            f"Nothing is stored at {path} in the {store.describe()}. Fix: run the step that keeps it "
            f"(dds.keep({path!r}, fn), a @dds.data_function({path!r}) or a `%%dds {path}` cell) first."
        )
    found = lineage.lineage(meta, metadata.by_path(store))
    run = meta.get("run") if isinstance(meta.get("run"), dict) else {}
    return ValueInfo(
        path=path, signature=sig, function=meta.get("function"), codec=meta.get("codec"),
        size=metadata.blob_size(meta), stored_at=meta.get("stored_at"), run=dict(run),
        upstream=[(up.path, lineage.upstream_note(up, store.get_ref(up.path))) for up in found.upstream],
        code=list(found.functions), meta=meta,
    )


# ------------------------------------------------------------------------------------------- dds.graph
class PipelineGraph:
    """The plan of a pipeline (nothing ran), drawn by Graphviz: SVG in Jupyter, text elsewhere."""

    def __init__(self, plan: Plan, name: str):
        self.plan = plan
        self.name = name
        self._svg: str | None = None

    def to_dot(self) -> str:
        """The graph in Graphviz's dot language (needs only pydotplus)."""
        from ..pipeline.drawing import to_dot

        return to_dot(self.plan).to_string()

    def save(self, filename: str | os.PathLike) -> str:
        """Write the graph to ``filename`` (.svg, .png or .dot, from the extension) and return its name."""
        from ..pipeline.drawing import export_graph

        return export_graph(self.plan, filename)

    def _repr_svg_(self) -> str | None:
        """The SVG drawing; None (Jupyter then shows the text) when Graphviz's ``dot`` is not installed."""
        if self._svg is None:
            if shutil.which("dot") is None:
                return None
            from ..pipeline.drawing import to_dot

            self._svg = to_dot(self.plan).create(prog="dot", format="svg").decode("utf-8")
        return self._svg

    def __repr__(self) -> str:
        from ..pipeline.drawing import legend_lines

        note = "" if shutil.which("dot") else "\n(install Graphviz's `dot` to see this graph drawn in Jupyter)"
        statuses = list(dict.fromkeys(step.status for step in self.plan.steps.values()))
        legend = "".join(f"\n  {line}" for line in legend_lines(statuses))
        return (f"dds.graph({self.name}): {len(self.plan.steps)} step(s)\n{self.plan.to_text()}"
                + (f"\nlegend:{legend}" if legend else "") + note)


def graph(pipeline: Callable, *args: Any, **kwargs: Any) -> PipelineGraph:
    """Plan ``pipeline(*args, **kwargs)`` without running anything and draw it: one box per kept path, coloured
    by what an evaluation would do (fresh, will run, may run), arrows from upstream paths. Shown as SVG in
    Jupyter; ``.save("pipeline.svg")`` writes it to a file."""
    from ..pipeline.plan import make_plan

    if not callable(pipeline):
        raise ArgumentError(f"dds.graph needs the pipeline function, got {type(pipeline).__name__} {pipeline!r}. "
                            "Fix: dds.graph(my_pipeline, *its_arguments).")
    return PipelineGraph(make_plan(pipeline, args, kwargs, session.current_store()), function_name(pipeline))
