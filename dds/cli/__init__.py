"""The ``dds`` command: run a pipeline, look into a store, explain it, clean it and check it.

``dds COMMAND [--store DIR]`` (or ``dds --store DIR COMMAND``); the store is ``--store``, else ``$DDS_DIR``,
else ``./.dds``. Paths are accepted with or without their leading '/'. Output is plain tab-separated text
when stdout is not a terminal, so it can be piped into other tools. A dds error prints its message (which
names the path and the fix) and exits with status 2; ``verify`` exits 1 when it finds damage, ``ls`` when
nothing matches.

The ``cli`` package holds click commands only; what they do is in the packages below (``pipeline.runner``
for ``run``, ``pipeline.freshness`` for ``status``, ``store.maintenance`` for ``gc``/``verify``, ...).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any, Callable

import click

from ..errors import DamagedDataError, DDSError, NotFoundError
from ..pipeline import lineage, metadata
from .common import example, store_of, store_option, store_path


# The order `dds --help` lists commands in: running pipelines first, then looking, then maintenance.
_ORDER = ("run", "status", "ls", "show", "cat", "why", "graph", "gc", "verify", "export")


class _Group(click.Group):
    """Turns a DDSError into its message on stderr and exit status 2, without a traceback; lists the
    commands in the order a newcomer needs them rather than alphabetically."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return [n for n in _ORDER if n in names] + [n for n in names if n not in _ORDER]

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DDSError as exc:
            click.echo(f"dds: error: {exc}", err=True)
            ctx.exit(2)


_EPILOG = """\b
Examples:
  dds run examples.pipeline:main     run a pipeline: compute what changed, load the rest
  dds status examples.pipeline:main  exit 1 if some path would re-run, and say why
  dds ls example                     what is stored under /example
  dds why /example/model             which edit made /example/model re-run
  dds graph examples.pipeline:main -o pipeline.svg
"""


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=_EPILOG)
@click.option("--store", "store_dir", envvar="DDS_DIR", default=os.path.join(".", ".dds"), show_default=True,
              metavar="DIR", help="The store: a local directory or an fsspec URL such as s3://bucket/dds (also $DDS_DIR).")
@click.option("--cache", metavar="DIR", expose_value=False, callback=lambda c, p, v: v and os.environ.update(DDS_CACHE_DIR=v),
              help="A local folder caching the blobs of a remote (fsspec) store (also $DDS_CACHE_DIR).")
@click.version_option(package_name="dds", prog_name="dds")
@click.pass_context
def cli(ctx: click.Context, store_dir: str) -> None:
    """Run dds pipelines, and look into, explain, clean and check the store they keep their values in.

    Every command takes --store DIR (a directory or an fsspec URL), before or after its name.
    """
    ctx.obj = store_dir


def _tty() -> bool:
    return sys.stdout.isatty()


def _table(rows: list[list[str]], header: list[str]) -> None:
    """Aligned columns with a header on a terminal; tab-separated rows without header otherwise."""
    if not _tty():
        for row in rows:
            click.echo("\t".join(row))
        return
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows)]
    for i, row in enumerate([header, *rows]):
        line = "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()
        click.echo(click.style(line, bold=True) if i == 0 else line)


class _StreamTable:
    """``_table`` for rows that come one by one: on a terminal the first ``sample`` rows set the column widths
    (a longer cell later only pushes its line), so a million rows are printed without being held."""

    def __init__(self, header: list[str], sample: int = 200, before: Callable[[], None] | None = None) -> None:
        self.header, self.sample, self.before = header, sample, before  # before: called before printing a line
        self.waiting: list[list[str]] | None = [] if _tty() else None
        self.widths: list[int] = []
        self.count = 0

    def add(self, row: list[str]) -> None:
        self.count += 1
        if self.waiting is None:
            if self.before is not None:
                self.before()
            if self.widths:
                self._line(row)
            else:
                click.echo("\t".join(row))
            return
        self.waiting.append(row)
        if len(self.waiting) >= self.sample:
            self._flush()

    def close(self) -> None:
        if self.waiting:
            self._flush()

    def _flush(self) -> None:
        rows, self.waiting = self.waiting or [], None
        if self.before is not None:
            self.before()
        self.widths = [max(len(str(c)) for c in column) for column in zip(self.header, *rows)]
        click.echo(click.style(self._text(self.header), bold=True))
        for row in rows:
            self._line(row)

    def _line(self, row: list[str]) -> None:
        click.echo(self._text(row))

    def _text(self, row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, self.widths)).rstrip()


# ------------------------------------------------------------------------------------------------ ls
@cli.command("ls", epilog=example("dds ls /example", "dds ls --where host=ci-1 --store s3://bucket/dds"))
@click.argument("prefix", required=False)
@click.option("--where", "where", multiple=True, metavar="KEY=VALUE",
              help="Only values whose run info (or metadata) has KEY=VALUE, e.g. --where host=ci-1. Repeatable.")
@store_option
@click.pass_context
def ls_command(ctx: click.Context, prefix: str | None, where: tuple[str, ...]) -> None:
    """List stored paths (those starting with PREFIX): path, signature, size, age, function.

    Exits 1, saying so, when a PREFIX or --where matches nothing."""
    try:
        conditions = metadata.parse_where(where)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from None
    store = store_of(ctx)
    table = _StreamTable(["PATH", "SIGNATURE", "SIZE", "AGE", "FUNCTION"])
    for path, meta in metadata.iter_by_path(store, _warn_damaged):  # in path order, streamed: a million paths in flat memory
        if prefix and not _under(path, prefix):
            continue
        if conditions and not metadata.matches(meta, conditions):
            continue
        table.add([path, str(meta.get("signature", ""))[:10], metadata.human_size(metadata.blob_size(meta)),
                   metadata.age(meta.get("stored_at")), str(meta.get("function", "?"))])
    table.close()
    if not table.count:
        filters = ([f"under {_prefix(prefix)}"] if prefix else []) + ([f"with {' '.join(where)}"] if where else [])
        what = " and ".join(filters)
        click.echo(f"dds ls: nothing is stored {what or 'yet'} in the {store.describe()}"
                   + (". `dds ls` lists every stored path." if what else "."), err=True)
        if what:
            ctx.exit(1)


def _prefix(prefix: str) -> str:
    return prefix if prefix.startswith("/") else "/" + prefix


def _under(path: str, prefix: str) -> bool:
    """A plain string prefix (``/data/s`` matches ``/data/scaled``); a missing leading '/' is added."""
    return path.startswith(_prefix(prefix))


def _warn_damaged(path: str, sig: str, exc: Exception) -> None:
    click.echo(f"dds: warning: skipping {path}: {exc}", err=True)


# ---------------------------------------------------------------------------------------------- show
@cli.command("show", epilog=example("dds show /example/model", "dds show example/model --json"))
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the raw metadata as JSON.")
@store_option
@click.pass_context
def show_command(ctx: click.Context, path: str, as_json: bool) -> None:
    """Metadata, run info and lineage (upstream paths) of PATH. `dds cat PATH` prints the value itself."""
    path = store_path(path)
    store = store_of(ctx)
    sig, meta = _stored(store, path)
    if as_json:
        click.echo(json.dumps(meta, indent=1, sort_keys=True))
        return
    stored = metadata.by_path(store)
    for key, value in [("path", path), ("function", meta.get("function")), ("signature", sig),
                       ("codec", meta.get("codec")), ("size", metadata.human_size(metadata.blob_size(meta))),
                       ("stored_at", f"{meta.get('stored_at')} ({metadata.age(meta.get('stored_at'))})")]:
        click.echo(f"{key + ':':<12}{value}")
    run = meta.get("run") if isinstance(meta.get("run"), dict) else {}
    click.echo("run:")
    for key, value in sorted(run.items()):
        if isinstance(value, dict):
            click.echo(f"  {key}:")
            for sub, subvalue in sorted(value.items()):
                click.echo(f"    {sub}: {subvalue}")
        else:
            click.echo(f"  {key}: {value}")
    found = lineage.lineage(meta, stored)
    click.echo("upstream:" if found.upstream else "upstream: (none)")
    for up in found.upstream:
        current = store.get_ref(up.path) if up.how == "load" else None
        click.echo(f"  {up.path}\t{lineage.upstream_note(up, current)}")
    if found.functions:
        click.echo("code:")
        for name in found.functions:
            click.echo(f"  {name}")


def _stored(store: Any, path: str) -> tuple[str, dict]:
    """The signature and metadata ``path`` points to; NotFoundError saying how to get it otherwise."""
    sig = store.get_ref(path)
    meta = store.read_meta(sig) if sig is not None else None
    if meta is None:
        raise NotFoundError(
            f"Nothing is stored at {path} in the {store.describe()}. Fix: `dds ls` lists what is stored; "
            f"run the step that keeps {path} first." if sig is None else
            f"{path} points to signature {sig}, but its metadata is missing in the {store.describe()}. "
            f"Fix: run `dds verify`, then re-run the step that keeps {path}."
        )
    return sig, meta


# ----------------------------------------------------------------------------------------------- cat
@cli.command("cat", epilog=example("dds cat /example/report", "dds cat example/model --store path/to/.dds"))
@click.argument("path")
@store_option
@click.pass_context
def cat_command(ctx: click.Context, path: str) -> None:
    """Print the value stored at PATH: text and bytes as they are, anything else as Python prints it."""
    import pprint

    path = store_path(path)
    store = store_of(ctx)
    sig, meta = _stored(store, path)
    value = store.read(sig, meta)
    if isinstance(value, bytes):
        sys.stdout.flush()
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()
    elif isinstance(value, str):
        click.echo(value, nl=not value.endswith("\n"))
    else:
        click.echo(pprint.pformat(value) if isinstance(value, (dict, list, tuple, set)) else str(value))


# ----------------------------------------------------------------------------------------- why, graph
@cli.command("why", epilog=example("dds why /example/model",
                                     "dds why example/model --pipeline examples.pipeline:main"))
@click.argument("path")
@click.option("--pipeline", metavar="MODULE:FUNCTION", default=None,
              help="Compare with what this pipeline would compute now (imported from the current directory).")
@store_option
@click.pass_context
def why_command(ctx: click.Context, path: str, pipeline: str | None) -> None:
    """Explain which dependency of PATH changed since it was stored (or, with --pipeline, would make it
    re-run now)."""
    path = store_path(path)
    store = store_of(ctx)
    from ..pipeline.explain import explain_path

    _importable_here()
    click.echo(explain_path(store, path, pipeline=pipeline))


@cli.command("graph", epilog=example("dds graph examples.pipeline:main -o pipeline.svg",
                                       "dds graph examples.pipeline:main | dot -Tpng > pipeline.png",
                                       "dds graph examples.pipeline:main --text"))
@click.argument("pipeline", metavar="MODULE:FUNCTION")
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="File to write: .svg, .png (need Graphviz's dot) or .dot. Without it, the graph is printed.")
@click.option("--text", "as_text", is_flag=True, help="Print one line per path instead of Graphviz's DOT.")
@store_option
@click.pass_context
def graph_command(ctx: click.Context, pipeline: str, output: str | None, as_text: bool) -> None:
    """Draw the pipeline MODULE:FUNCTION (nothing runs): nodes are paths coloured by what an evaluation
    would do, edges data dependencies, and a legend. Without -o, prints the DOT text (or --text)."""
    from ..pipeline.drawing import export_graph, legend_lines, plan_pipeline, to_dot

    store = store_of(ctx)
    _importable_here()

    plan = plan_pipeline(pipeline, store)
    if output is not None:
        click.echo(export_graph(plan, output))
    elif as_text:
        click.echo(plan.to_text())
        statuses = list(dict.fromkeys(step.status for step in plan.steps.values()))
        if statuses:
            click.echo("\nlegend:\n" + "\n".join(f"  {line}" for line in legend_lines(statuses)))
    else:
        click.echo(to_dot(plan).to_string(), nl=False)


def _importable_here() -> None:
    """``module:function`` names user code in the current directory, as ``python -m`` would find it."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


# -------------------------------------------------------------------------------------- gc, verify
@cli.command("gc", epilog=example("dds gc --dry-run", "dds gc --grace 0 --store path/to/.dds"))
@store_option
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--grace", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Leave anything younger than this alone (default 3600), so a running pipeline is safe.")
@click.pass_context
def gc_command(ctx: click.Context, dry_run: bool, grace: float | None) -> None:
    """Delete values no path points to, unfinished writes and stale temporaries (one line each as it goes;
    progress on stderr)."""
    from ..store.maintenance import DEFAULT_GRACE_S, gc

    grace = DEFAULT_GRACE_S if grace is None else grace
    verb = "would delete" if dry_run else "deleted"
    store = store_of(ctx)
    with _Progress("gc") as progress:
        table = _StreamTable(["ACTION", "KIND", "SIGNATURE", "SIZE", "PATH"], before=progress.clear)
        report = gc(store, dry_run=dry_run, grace=grace, progress=progress.update, on_removal=lambda r: table.add(
            [verb, r.kind, r.sig[:10] if r.sig else "-", metadata.human_size(r.bytes), r.path or r.where]))
        table.close()
    summary = f"gc: {verb} {report.removed_count:,} item(s), {metadata.human_size(report.bytes_freed)}"
    if report.kept_recent_count:
        summary += (f"; kept {report.kept_recent_count:,} unreferenced value(s) younger than {grace:g}s "
                    f"(a pipeline may be writing them; --grace 0 deletes them)")
    click.echo(summary)


@cli.command("verify", epilog=example("dds verify", "dds verify --store s3://bucket/dds"))
@store_option
@click.pass_context
def verify_command(ctx: click.Context) -> None:
    """Re-check every checksum, ref and metadata file; exit 1 if anything is damaged."""
    from ..store.maintenance import verify

    store = store_of(ctx)
    with _Progress("verify") as progress:
        report = verify(store, progress=progress.update)
    for problem in report.problems:
        paths = ", ".join(problem.paths) or "(no path)"
        click.echo(click.style(f"{problem.kind.upper()}: {paths}", fg="red", bold=True) + f"  [{problem.where}]")
        click.echo(f"  {problem.message}")
        click.echo(f"  fix: {problem.fix}")
    for note in report.notes:
        click.echo(f"note: {note}")
    status = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    click.echo(f"verify: checked {report.refs:,} path(s) and {report.blobs:,} value(s): {status}")
    if not report.ok:
        ctx.exit(1)


class _Progress:
    """Progress of a long ``gc``/``verify`` on stderr, so stdout stays parseable: on a terminal one line
    rewritten in place (at most 10 times a second); otherwise, e.g. in a job's log, a line every 10 seconds,
    so a long run shows it is alive (quick runs print nothing there). ``$DDS_PROGRESS_INTERVAL`` sets the
    seconds between updates for both."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.tty = sys.stderr.isatty()
        self.every = _interval(0.1 if self.tty else 10.0)
        self.last = time.monotonic()
        self.width = 0

    def __enter__(self) -> _Progress:
        return self

    def update(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            return
        self.last = now
        text = f"dds {self.command}: {stage}: {done:,}" + (f" of {total:,}" if total else "")
        if self.tty:
            click.echo("\r" + text.ljust(self.width), nl=False, err=True)
            self.width = len(text)
        else:
            click.echo(text, err=True)

    def clear(self) -> None:
        """Wipe the terminal's progress line (before a line of output is printed; the next update redraws it)."""
        if self.width:
            click.echo("\r" + " " * self.width + "\r", nl=False, err=True)
            self.width = 0

    def __exit__(self, *exc: Any) -> None:
        self.clear()


def _interval(default: float) -> float:
    """Seconds between progress updates: ``$DDS_PROGRESS_INTERVAL`` if set, else ``default``."""
    try:
        return max(0.0, float(os.environ.get("DDS_PROGRESS_INTERVAL", default)))
    except ValueError:
        return default


# -------------------------------------------------------------------------------------------- export
@cli.command("export", epilog=example("dds export > store.json", "dds export --jsonl | grep /example/"))
@click.option("--json", "as_json", is_flag=True, hidden=True)  # accepted: JSON was always the format
@click.option("--jsonl", "as_lines", is_flag=True, help="One JSON object a line (for grep, jq -c, streaming).")
@click.option("--all", "everything", is_flag=True, help="Every stored value, also those no path points to.")
@store_option
@click.pass_context
def export_command(ctx: click.Context, as_json: bool, as_lines: bool, everything: bool) -> None:
    """Print the metadata of every path (or every value) as JSON, for other tools: a list, or with
    --jsonl one object a line."""
    store = store_of(ctx)
    damaged: list[str] = []

    def skip(path: str, sig: str, exc: Exception) -> None:
        damaged.append(path)
        _warn_damaged(path, sig, exc)

    by_path = metadata.by_path(store, skip)
    if everything:
        refs: dict[str, list[str]] = {}
        for path, sig in store.iter_refs():
            refs.setdefault(sig, []).append(path)
        entries = []
        for sig in store.iter_blob_sigs():
            try:
                meta = store.read_meta(sig)
            except DamagedDataError as exc:
                skip(sig, sig, exc)
                continue
            if meta is not None:
                entries.append({**meta, "signature": sig, "referenced_by": refs.get(sig, [])})
    else:
        entries = [{**meta, "path": path} for path, meta in sorted(by_path.items())]
    if as_lines:
        for entry in entries:
            click.echo(json.dumps(entry, sort_keys=True))
    else:
        click.echo(json.dumps(entries, indent=1, sort_keys=True))
    if damaged:
        ctx.exit(1)


from .pin import pin_command, unpin_command  # noqa: E402 - commands in their own modules, added below
from .promote import promote_command  # noqa: E402
from .run import run_command, status_command  # noqa: E402

run_command.epilog = example("dds run examples.pipeline:main", "dds run examples.pipeline:main --dry-run",
                              "dds run pipe:main --store s3://bucket/dds --junit report.xml")
status_command.epilog = example("dds status examples.pipeline:main || dds run examples.pipeline:main")
cli.add_command(run_command)
cli.add_command(status_command)
cli.add_command(promote_command)
cli.add_command(pin_command)
cli.add_command(unpin_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dds`` console script."""
    cli.main(args=argv, prog_name="dds")


if __name__ == "__main__":
    main()
