"""The ``dds`` command: look into a store, explain it, clean it and check it.

``dds [--store DIR] COMMAND``; the store is ``--store``, else ``$DDS_DIR``, else ``./.dds``. Output is
plain tab-separated text when stdout is not a terminal, so it can be piped into other tools. A dds error
prints its message (which names the path and the fix) and exits with status 2; ``verify`` exits 1 when it
finds damage.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from typing import Any, Callable

import click

from ..errors import DamagedDataError, DDSError, NotFoundError, StoreError
from ..paths import validate_path
from . import describe


class _Group(click.Group):
    """Turns a DDSError into its message on stderr and exit status 2, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DDSError as exc:
            click.echo(f"dds: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--store", "store_dir", envvar="DDS_DIR", default=os.path.join(".", ".dds"), show_default=True,
              metavar="DIR", help="The store: a local directory or an fsspec URL such as s3://bucket/dds (also $DDS_DIR).")
@click.option("--cache", metavar="DIR", expose_value=False, callback=lambda c, p, v: v and os.environ.update(DDS_CACHE_DIR=v),
              help="A local folder caching the blobs of a remote (fsspec) store (also $DDS_CACHE_DIR).")
@click.version_option(package_name="dds", prog_name="dds")
@click.pass_context
def cli(ctx: click.Context, store_dir: str) -> None:
    """Look into, explain, clean and check a dds store."""
    ctx.obj = store_dir


def _store(ctx: click.Context):
    from ..store import create_store

    directory = ctx.obj
    if "://" in directory:  # any fsspec URL: s3://bucket/dds, file:///..., memory://...
        return create_store("fsspec", url=directory)
    if not os.path.isdir(directory):
        raise StoreError(
            f"There is no dds store at {os.path.abspath(directory)}. Fix: pass --store DIR (before the command, "
            f"e.g. `dds --store path/to/.dds ls`) or set DDS_DIR to the store your pipeline uses."
        )
    return create_store("local", internal_dir=directory)


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


def _all_meta(store, on_error: Callable[[str, str, Exception], None] | None = None) -> dict[str, dict]:
    """``{path: meta}`` of every ref; unreadable ones are skipped (and passed to ``on_error``)."""
    out = {}
    for path, sig in store.iter_refs():
        try:
            meta = store.read_meta(sig)
        except DamagedDataError as exc:
            if on_error is not None:
                on_error(path, sig, exc)
            continue
        if meta is not None:
            out[path] = meta
    return out


# ------------------------------------------------------------------------------------------------ ls
@cli.command("ls")
@click.argument("prefix", required=False)
@click.option("--where", "where", multiple=True, metavar="KEY=VALUE",
              help="Only values whose run info (or metadata) has KEY=VALUE, e.g. --where host=ci-1. Repeatable.")
@click.pass_context
def ls_command(ctx: click.Context, prefix: str | None, where: tuple[str, ...]) -> None:
    """List stored paths: path, signature, size, age, function."""
    try:
        conditions = describe.parse_where(where)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--where") from None
    store = _store(ctx)
    rows = []
    for path, meta in sorted(_all_meta(store, _warn_damaged).items()):
        if prefix and not _under(path, prefix):
            continue
        if conditions and not describe.matches(meta, conditions):
            continue
        rows.append([path, str(meta.get("signature", ""))[:10], describe.human_size(describe.blob_size(meta)),
                     describe.age(meta.get("stored_at")), str(meta.get("function", "?"))])
    _table(rows, ["PATH", "SIGNATURE", "SIZE", "AGE", "FUNCTION"])


def _under(path: str, prefix: str) -> bool:
    """A plain string prefix (``/data/s`` matches ``/data/scaled``); a missing leading '/' is added."""
    return path.startswith(prefix if prefix.startswith("/") else "/" + prefix)


def _warn_damaged(path: str, sig: str, exc: Exception) -> None:
    click.echo(f"dds: warning: skipping {path}: {exc}", err=True)


# ---------------------------------------------------------------------------------------------- show
@cli.command("show")
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the raw metadata as JSON.")
@click.pass_context
def show_command(ctx: click.Context, path: str, as_json: bool) -> None:
    """Metadata, run info and lineage (upstream paths) of PATH."""
    path = validate_path(path)
    store = _store(ctx)
    sig = store.get_ref(path)
    meta = store.read_meta(sig) if sig is not None else None
    if meta is None:
        raise NotFoundError(
            f"Nothing is stored at {path} in the {store.describe()}. `dds ls` lists what is stored; "
            f"run the step that keeps {path} first." if sig is None else
            f"{path} points to signature {sig}, but its metadata is missing in the {store.describe()}. "
            f"Run `dds verify`, then re-run the step that keeps {path}."
        )
    if as_json:
        click.echo(json.dumps(meta, indent=1, sort_keys=True))
        return
    stored = _all_meta(store)
    for key, value in [("path", path), ("function", meta.get("function")), ("signature", sig),
                       ("codec", meta.get("codec")), ("size", describe.human_size(describe.blob_size(meta))),
                       ("stored_at", f"{meta.get('stored_at')} ({describe.age(meta.get('stored_at'))})")]:
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
    found = describe.lineage(meta, stored)
    click.echo("upstream:" if found.upstream else "upstream: (none)")
    for up in found.upstream:
        current = store.get_ref(up.path) if up.how == "load" else None
        click.echo(f"  {up.path}\t{describe.upstream_note(up, current)}")
    if found.functions:
        click.echo("code:")
        for name in found.functions:
            click.echo(f"  {name}")


# ----------------------------------------------------------------------------------------- why, graph
@cli.command("why")
@click.argument("path")
@click.option("--pipeline", metavar="MODULE:FUNCTION", default=None,
              help="Compare with what this pipeline would compute now (imported from the current directory).")
@click.pass_context
def why_command(ctx: click.Context, path: str, pipeline: str | None) -> None:
    """Explain which dependency of PATH changed since it was stored."""
    path = validate_path(path)
    store = _store(ctx)
    explain = _engine_function("why", ("dds.why", "dds.explain"), "explain_path")
    _importable_here()
    click.echo(explain(store, path, pipeline=pipeline))


@cli.command("graph")
@click.argument("pipeline", metavar="MODULE:FUNCTION")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="File to write: .svg, .png (need Graphviz's dot) or .dot.")
@click.pass_context
def graph_command(ctx: click.Context, pipeline: str, output: str) -> None:
    """Draw the pipeline MODULE:FUNCTION: nodes are paths, edges data dependencies."""
    store = _store(ctx)
    export = _engine_function("graph", ("dds.graph",), "export_pipeline_graph")
    _importable_here()
    export(pipeline, output, store)
    click.echo(output)


def _engine_function(command: str, modules: tuple[str, ...], name: str) -> Callable:
    """The engine function behind ``dds why``/``dds graph``, imported only when that command runs."""
    for module_name in modules:
        if importlib.util.find_spec(module_name) is None:
            continue
        function = getattr(importlib.import_module(module_name), name, None)
        if callable(function):
            return function
    raise DDSError(f"`dds {command}` is not available in this version of dds ({' or '.join(modules)} lacks "
                   f"{name}). Fix: upgrade dds.")


def _importable_here() -> None:
    """``module:function`` names user code in the current directory, as ``python -m`` would find it."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


# -------------------------------------------------------------------------------------- gc, verify
@cli.command("gc")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@click.option("--grace", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Leave anything younger than this alone (default 3600), so a running pipeline is safe.")
@click.pass_context
def gc_command(ctx: click.Context, dry_run: bool, grace: float | None) -> None:
    """Delete values no path points to, unfinished writes and stale temporaries."""
    from ..maintenance import DEFAULT_GRACE_S, gc

    grace = DEFAULT_GRACE_S if grace is None else grace
    report = gc(_store(ctx), dry_run=dry_run, grace=grace)
    verb = "would delete" if dry_run else "deleted"
    rows = [[verb, r.kind, r.sig[:10] if r.sig else "-", describe.human_size(r.bytes), r.path or r.where]
            for r in report.removed]
    _table(rows, ["ACTION", "KIND", "SIGNATURE", "SIZE", "PATH"])
    summary = f"gc: {verb} {len(report.removed)} item(s), {describe.human_size(report.bytes_freed)}"
    if report.kept_recent:
        summary += (f"; kept {len(report.kept_recent)} unreferenced value(s) younger than {grace:g}s "
                    f"(a pipeline may be writing them; --grace 0 deletes them)")
    click.echo(summary)


@cli.command("verify")
@click.pass_context
def verify_command(ctx: click.Context) -> None:
    """Re-check every checksum, ref and metadata file; exit 1 if anything is damaged."""
    from ..maintenance import verify

    with _Progress("verifying") as progress:
        report = verify(_store(ctx), progress=progress)
    for problem in report.problems:
        paths = ", ".join(problem.paths) or "(no path)"
        click.echo(click.style(f"{problem.kind.upper()}: {paths}", fg="red", bold=True) + f"  [{problem.where}]")
        click.echo(f"  {problem.message}")
        click.echo(f"  fix: {problem.fix}")
    for note in report.notes:
        click.echo(f"note: {note}")
    status = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    click.echo(f"verify: checked {report.refs} path(s) and {report.blobs} value(s): {status}")
    if not report.ok:
        ctx.exit(1)


class _Progress:
    """A progress bar on stderr when it is a terminal; nothing otherwise (output stays parseable)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        return self.update if sys.stderr.isatty() else None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


# -------------------------------------------------------------------------------------------- export
@cli.command("export")
@click.option("--json", "as_json", is_flag=True, default=True, help="JSON (the only format, the default).")
@click.option("--all", "everything", is_flag=True, help="Every stored value, also those no path points to.")
@click.pass_context
def export_command(ctx: click.Context, as_json: bool, everything: bool) -> None:
    """Print the metadata of every path (or every value) as a JSON list, for other tools."""
    store = _store(ctx)
    damaged: list[str] = []

    def skip(path: str, sig: str, exc: Exception) -> None:
        damaged.append(path)
        _warn_damaged(path, sig, exc)

    by_path = _all_meta(store, skip)
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
    click.echo(json.dumps(entries, indent=1, sort_keys=True))
    if damaged:
        ctx.exit(1)


from .run import run_command, status_command  # noqa: E402 - registered after the group exists

cli.add_command(run_command)
cli.add_command(status_command)
cli.add_command(importlib.import_module(".promote", __package__).promote_command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``dds`` console script."""
    cli.main(args=argv, prog_name="dds")


if __name__ == "__main__":
    main()
