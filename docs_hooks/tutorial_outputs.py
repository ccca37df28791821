"""mkdocs hook: the tutorial's outputs and pictures are made by the build, from examples/pipeline.py.

On every build the tutorial's session is replayed in a temporary directory (fresh processes, the real
``dds`` command, the checkout's dds): each ``<!-- dds-output NAME -->`` in docs/tutorial.md becomes the
console text that step printed, and the pictures (the pipeline graph drawn by ``dds graph``, the store
layout, a signature tree) are added to the site as SVG files under ``tutorial/``. So the tutorial cannot
drift from what dds does, and nothing is fetched from the network. Without Graphviz's ``dot`` the pictures
are replaced by a note (the build still succeeds); ``make docs`` installs Graphviz where it can.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from mkdocs.structure.files import File

REPO = Path(__file__).resolve().parent.parent
PAGE = "tutorial.md"
PICTURES = ("tutorial/graph.svg", "tutorial/store.svg", "tutorial/signature.svg")
log = logging.getLogger("mkdocs.hooks.tutorial_outputs")

SLOPE_EDIT = ("SLOPE = 3.0", "SLOPE = 4.0")
REPORT_EDIT = ('f"fitted y = {coef[0]:.3f} * x + {coef[1]:.3f} (true slope {SLOPE})\\n"',
               'f"y = {coef[0]:.2f} x + {coef[1]:.2f}, the true slope is {SLOPE}\\n"')


@dataclass
class Session:
    """What the replayed session printed (``outputs``) and drew (``pictures``: site path -> SVG bytes)."""

    outputs: dict[str, str] = field(default_factory=dict)
    pictures: dict[str, bytes] = field(default_factory=dict)


_session: Session | None = None


def on_pre_build(config, **kwargs) -> None:
    global _session
    _session = replay()


def on_files(files, config, **kwargs):
    for site_path, svg in (_session.pictures if _session else {}).items():
        files.append(File.generated(config, site_path, content=svg))
    return files


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if _session is None:
        return markdown
    for site_path in PICTURES:  # any page may show them (the home page shows the graph)
        if site_path not in _session.pictures:  # no Graphviz: say so where the picture would be
            name = site_path.split("/")[1]
            markdown = re.sub(rf"!\[([^\]]*)\]\({re.escape(site_path)}\)",
                              rf"*(The picture `{name}` is drawn by Graphviz's `dot`, which was not installed "
                              r"when this site was built: \1.)*", markdown)
    if page.file.src_uri != PAGE:
        return markdown

    def output(match: re.Match) -> str:
        name = match.group(1)
        if name not in _session.outputs:
            raise KeyError(f"docs/{PAGE} asks for output {name!r}, which the tutorial session does not make "
                           f"(docs_hooks/tutorial_outputs.py: {sorted(_session.outputs)})")
        return "```console\n" + _session.outputs[name].rstrip("\n") + "\n```"

    return re.sub(r"<!-- dds-output ([\w-]+) -->", output, markdown)


# ------------------------------------------------------------------------------------------- session
def replay() -> Session:
    """Run the tutorial's commands in a fresh directory and collect what they print and draw."""
    session = Session()
    with tempfile.TemporaryDirectory(prefix="dds-tutorial-") as tmp:
        source = (REPO / "examples" / "pipeline.py").read_text(encoding="utf-8")
        script = threading.Thread(target=_as_script, args=(Path(tmp), source, session))
        script.start()  # independent of the session below (its own store): the two share the build's time
        try:
            _with_dds_run(Path(tmp), source, session)
        finally:
            script.join()
    if "script-slope" not in session.outputs:
        raise RuntimeError("the tutorial's script run failed (see the error above)")
    return session


def _with_dds_run(tmp: Path, source: str, session: Session) -> None:
    """The tutorial proper: ``dds run``, an edit, ``dds why``, a look into the store, the graph."""
    project = tmp / "tutorial"
    project.mkdir()
    (project / "pipeline.py").write_text(source, encoding="utf-8")
    run = _Runner(project, session)

    run("first-run", "dds run pipeline:main")
    run("second-run", "dds run pipeline:main")
    _edit(project / "pipeline.py", *SLOPE_EDIT)
    run("slope-run", "dds run pipeline:main")
    run("why-model", "dds why /example/model")
    run("why-raw", "dds why example/raw")
    run("ls", "dds ls", tty=True)
    run("show", "dds show /example/model")
    run("cat", "dds cat /example/report", "dds cat example/model")
    _edit(project / "pipeline.py", *REPORT_EDIT)
    run("status", "dds status pipeline:main")
    run("graph-text", "dds graph pipeline:main --text")
    if shutil.which("dot"):
        run(None, "dds graph pipeline:main -o graph.svg")
        session.pictures["tutorial/graph.svg"] = (project / "graph.svg").read_bytes()
    run("report-run", "dds run pipeline:main")
    run("cat-after", "dds cat /example/report")
    run("gc", "dds gc --dry-run --grace 0", tty=True)
    store = project / ".dds"
    session.outputs["tree"] = run.clean(_tree(store))
    if shutil.which("dot"):
        session.pictures["tutorial/store.svg"] = _render(store_layout(store))
        session.pictures["tutorial/signature.svg"] = _render(signature_tree(store, "/example/raw"))


def _as_script(tmp: Path, source: str, session: Session) -> None:
    """The same file run as a script (what ``make run`` does), in its own store, before and after an edit."""
    script = tmp / "script"
    script.mkdir()
    (script / "pipeline.py").write_text(source, encoding="utf-8")
    run = _Runner(script, session)
    try:
        run("script-first", "python pipeline.py")
        _edit(script / "pipeline.py", *SLOPE_EDIT)
        run("script-slope", "python pipeline.py")
    except Exception:  # reported by replay(): a thread's exception would otherwise only be printed
        log.exception("the tutorial's script run failed")


class _Runner:
    """Runs shell-like commands (``dds ...``, ``python ...``) in ``cwd``; output as ``$ command`` + text."""

    def __init__(self, cwd: Path, session: Session) -> None:
        self.cwd, self.session = cwd, session
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("DDS_")},
                    "PYTHONPATH": os.pathsep.join([str(REPO), str(cwd)]), "COLUMNS": "100"}

    def __call__(self, name: str | None, *commands: str, tty: bool = False) -> None:
        texts = []
        for command in commands:
            words = command.split()
            argv = [sys.executable, "-m", "dds.cli", *words[1:]] if words[0] == "dds" else [sys.executable, *words[1:]]
            code, out = (_on_terminal if tty else _piped)(argv, self.cwd, self.env)
            expected = 1 if words[:2] == ["dds", "status"] else 0  # status exits 1: something would re-run
            if code != expected:
                raise RuntimeError(f"the tutorial's `{command}` exited {code} in {self.cwd}:\n{out}")
            texts.append(f"$ {command}\n{out}")
        if name is not None:
            self.session.outputs[name] = self.clean("".join(texts))

    def clean(self, text: str) -> str:
        """The temporary directory reads as ``~/tutorial``; nothing else is changed."""
        return text.replace(str(self.cwd.parent), "~").replace(os.path.realpath(self.cwd.parent), "~")


def _piped(argv: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stderr + done.stdout


def _on_terminal(argv: list[str], cwd: Path, env: dict) -> tuple[int, str]:
    """Run with stdout on a pseudo-terminal, as a person sees it (aligned tables), colours removed."""
    import pty

    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=follower, stderr=subprocess.PIPE)
    finally:
        os.close(follower)  # the child holds it now; reading ends with EIO when the child exits
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    errors = process.stderr.read()
    process.wait(timeout=300)
    done = subprocess.CompletedProcess(argv, process.returncode, None, errors)
    text = b"".join(chunks).decode("utf-8", errors="replace").replace("\r\n", "\n")
    return done.returncode, done.stderr.decode("utf-8", errors="replace") + re.sub(r"\x1b\[[0-9;]*m", "", text)


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text(encoding="utf-8")
    if old not in source:
        raise RuntimeError(f"the tutorial edits {old!r} in examples/pipeline.py, which no longer contains it: "
                           "update docs_hooks/tutorial_outputs.py and docs/tutorial.md together")
    path.write_text(source.replace(old, new, 1), encoding="utf-8")


def _tree(store: Path) -> str:
    """The store as ``tree`` draws it (its empty working folders left out), signatures cut to 10 characters."""
    lines = ["$ tree .dds", ".dds"]

    def walk(folder: Path, indent: str) -> None:
        children = [c for c in sorted(folder.iterdir(), key=lambda p: p.name) if c.name not in ("locks", "tmp")]
        for i, child in enumerate(children):
            last = i == len(children) - 1
            name = _short(child.name)
            target = f" -> {_short(os.readlink(child))}" if child.is_symlink() else ""
            slash = "/" if child.is_dir() and not target else ""
            lines.append(f"{indent}{'└── ' if last else '├── '}{name}{slash}{target}")
            if child.is_dir() and not child.is_symlink():
                walk(child, indent + ("    " if last else "│   "))

    walk(store, "")
    return "\n".join(lines) + "\n"


def _short(text: str) -> str:
    return re.sub(r"([0-9a-f]{10})[0-9a-f]{30}", r"\1…", text)


# ------------------------------------------------------------------------------------------ diagrams
def _render(dot: str) -> bytes:
    done = subprocess.run(["dot", "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed on a tutorial diagram: {done.stderr.decode(errors='replace')}\n{dot}")
    return done.stdout


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _html_label(*rows: tuple[str, str]) -> str:
    """A Graphviz HTML-like label: one row per (text, style), style '' | 'b' (bold) | 'small'."""
    cells = []
    for text, style in rows:
        text = html.escape(text)
        if style == "b":
            text = f"<B>{text}</B>"
        elif style == "small":
            text = f'<FONT POINT-SIZE="9" COLOR="#555555">{text}</FONT>'
        cells.append(f"<TR><TD ALIGN=\"LEFT\">{text}</TD></TR>")
    return "<<TABLE BORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">" + "".join(cells) + "</TABLE>>"


def _meta(store: Path, sig: str) -> dict:
    return json.loads((store / "meta" / f"{sig}.json").read_text(encoding="utf-8"))


def store_layout(store: Path, paths: tuple[str, ...] = ("/example/model", "/example/report")) -> str:
    """The four folders of a local store, and how a path reaches its value: ref -> signature -> metadata and
    value; the older values of the same paths (no ref points to them any more) drawn grey."""
    lines = ["digraph store {", "rankdir=LR; nodesep=0.25; ranksep=0.6;",
             'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fillcolor="#ffffff"];',
             'edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    folders = {"refs": [], "meta": [], "blobs": [], "data": []}
    edges = []
    current = {p: (store / "refs" / (p[1:] + ".ref")).read_text().strip() for p in paths}
    older: dict[str, list[str]] = {p: [] for p in paths}
    for meta_file in sorted((store / "meta").glob("*.json")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("path") in paths and meta_file.stem != current[meta["path"]]:
            older[meta["path"]].append(meta_file.stem)
    for path, sig in current.items():
        meta = _meta(store, sig)
        value_file = meta.get("file_name") or next(iter(meta.get("files", {})), "")
        ref, info, blob, view = (f"ref {path}", f"meta {sig}", f"blob {sig}", f"data {path}")
        codec = meta.get("codec")
        labels = {
            "refs": _html_label((path[1:] + ".ref", "b"), ("→ " + sig[:10], "small")),
            "meta": _html_label((sig[:10] + "….json", "b"), ("path, function, code digest,", "small"),
                                ("signature tree, run info", "small")),
            "blobs": _html_label((sig[:10] + "…/", "b"), (f"{value_file}  ({codec})", "small")),
            "data": _html_label((path[1:], "b"), ("a link to the current value", "small")),
        }
        folders["refs"].append(f"{_q(ref)} [label={labels['refs']}];")
        folders["meta"].append(f"{_q(info)} [label={labels['meta']}];")
        folders["blobs"].append(f'{_q(blob)} [fillcolor="#b8e186", label={labels["blobs"]}];')
        folders["data"].append(f"{_q(view)} [label={labels['data']}];")
        edges += [f"{_q(ref)} -> {_q(info)};", f"{_q(ref)} -> {_q(blob)} [label=\"the value\"];",
                  f"{_q(view)} -> {_q(blob)} [style=dashed, dir=back];"]
        for old in older[path][:1]:
            node = f"old {old}"
            label = _html_label((old[:10] + "…/", "b"), (f"an older {path}: no ref points to it;", "small"),
                                ("dds gc deletes it", "small"))
            folders["blobs"].append(f'{_q(node)} [fillcolor="#eeeeee", fontcolor="#777777", label={label}];')
    titles = {"refs": "refs/  which value each path holds", "meta": "meta/  what was computed, how, when",
              "blobs": "blobs/  the values, written once", "data": "data/  for people and other tools"}
    for name, nodes in folders.items():
        lines.append(f"subgraph cluster_{name} {{ label={_q('.dds/' + titles[name])}; fontname=\"Helvetica\"; "
                     "fontsize=11; style=\"rounded\"; color=\"#999999\";")
        lines += nodes
        lines.append("}")
    lines += edges
    lines.append("}")
    return "\n".join(lines)


def signature_tree(store: Path, path: str) -> str:
    """The signature tree stored with ``path``'s value: one box per unit of code, one small box per value it
    reads; what differs from the value stored before it is drawn orange (the reason it re-ran)."""
    sig = (store / "refs" / (path[1:] + ".ref")).read_text().strip()
    meta = _meta(store, sig)
    tree = meta["tree"]
    old_units = _previous_tree(store, path, meta)
    lines = ["digraph signature {", "rankdir=LR; nodesep=0.15; ranksep=0.5;",
             'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fillcolor="#ffffff"];',
             'edge [fontname="Helvetica", fontsize=9, color="#555555"];']
    changed_colour = "#fdb863"
    for key, unit in tree["units"].items():
        old = old_units.get(key)
        changed = old is not None and old.get("sig") != unit.get("sig")
        title = unit.get("where") if unit.get("kind") == "call" else key.replace(":", ".")
        kind = ("the call (path, function, arguments)" if unit.get("kind") == "call"
                else f"{unit.get('kind')}: its code and what it reads")
        fill = changed_colour if changed else "#e6f0fa"
        label = _html_label((title, "b"), (kind, "small"), ("signature " + unit["sig"][:10], "small"))
        lines.append(f'{_q(key)} [fillcolor="{fill}", label={label}];')
        old_deps = {d[0]: d for d in (old or {}).get("deps", [])}
        for index, (name, token, refs, preview) in enumerate(unit["deps"]):
            if refs:
                for ref in refs:
                    lines.append(f"{_q(key)} -> {_q(ref)} [label={_q(name)}];")
                continue
            leaf = f"{key}#{index}"
            what = f"{name} = {preview}" if preview is not None else name
            note = "library: name and version" if "." in name and preview is None and name[0].islower() else (
                "a value" if preview is not None else "")
            dep_changed = name in old_deps and old_deps[name][1] != token
            fill = changed_colour if dep_changed else "#ffffff"
            rows = [(what, "")] + ([(note, "small")] if note else [])
            if dep_changed and old_deps[name][3] is not None:
                rows.append((f"was {old_deps[name][3]}", "small"))
            lines.append(f'{_q(leaf)} [fillcolor="{fill}", fontsize=9, label={_html_label(*rows)}];')
            lines.append(f"{_q(key)} -> {_q(leaf)};")
    lines.append("}")
    return "\n".join(lines)


def _previous_tree(store: Path, path: str, meta: dict) -> dict:
    """The units of the value stored at ``path`` just before the current one ({} if none)."""
    best = None
    for meta_file in (store / "meta").glob("*.json"):
        other = json.loads(meta_file.read_text(encoding="utf-8"))
        if other.get("path") != path or other.get("signature") == meta.get("signature"):
            continue
        if other.get("stored_at", "") <= meta.get("stored_at", "") and (
                best is None or other.get("stored_at", "") > best.get("stored_at", "")):
            best = other
    return (best or {}).get("tree", {}).get("units", {})
