"""``dds run`` and ``dds status``: a pipeline in CI, against a store shared with laptops.

Exit status of ``run``: 0 every step ran or loaded; 1 a step (or the pipeline's own code) failed, what
finished before it stays stored; 2 nothing ran (import error, bad store, the plan failed).
``status``: 0 every path is fresh; 1 some path would re-run (listed, with why); 2 it could not tell.
"""

from __future__ import annotations

from typing import Callable

import click

from ..errors import DDSError
from ..pipeline.report import FAILED, FRESH, LOADED, MAY_RUN, RAN, SKIPPED, WILL_RUN, RunReport, write_json, write_junit
from ..store import Store
from ..pipeline import runner
from ..pipeline.freshness import check_status

_COLOURS = {RAN: "yellow", LOADED: "green", FRESH: "green", FAILED: "red", WILL_RUN: "yellow", MAY_RUN: "yellow",
            SKIPPED: "bright_black"}

_store_option = click.option(
    "--store", "store_opt", default=None, metavar="DIR|URL",
    help="The store (a directory or an fsspec URL such as s3://bucket/dds); the same as `dds --store`, "
         "and wins over it.")
_report_option = click.option("--report", "report_file", type=click.Path(dir_okay=False), default=None,
                              metavar="FILE.json", help="Write the per-path report as JSON (schema in docs/ci.md).")


@click.command("run")
@click.argument("pipeline", metavar="MODULE:FUNCTION")
@_store_option
@click.option("--dry-run", is_flag=True, help="Only plan: say what would run and why; nothing runs.")
@_report_option
@click.option("--junit", "junit_file", type=click.Path(dir_okay=False), default=None, metavar="FILE.xml",
              help="Write a JUnit XML file: one test case per path, a failing step is a <failure>.")
@click.pass_context
def run_command(ctx: click.Context, pipeline: str, store_opt: str | None, dry_run: bool, report_file: str | None,
                junit_file: str | None) -> None:
    """Evaluate the pipeline MODULE:FUNCTION with dds.eval: run what is stale, load the rest."""
    location = store_opt or ctx.obj
    fn, store = _prepare(pipeline, location)
    if dry_run:
        report = runner.plan_pipeline(pipeline, fn, store, location, "run --dry-run")
    else:
        report = runner.run_pipeline(pipeline, fn, store, location)
    _write(report, report_file, junit_file)
    _echo_steps(report)
    click.echo(_summary(report))
    if not report.ok:
        failed = [s for s in report.steps if s.outcome == FAILED]
        culprit = next((s for s in failed if s.path == report.failed_first), failed[0] if failed else None)
        what = f"step {culprit.path} failed: {culprit.error}" if culprit else report.error
        click.echo(f"dds: error: {what}. Steps that finished are stored; fix it and run again.", err=True)
        ctx.exit(1)


@click.command("status")
@click.argument("pipeline", metavar="MODULE:FUNCTION")
@_store_option
@click.option("--static", is_flag=True,
              help="Judge from the plan alone: never call the pipeline (a 'may run' step then counts as stale).")
@_report_option
@click.pass_context
def status_command(ctx: click.Context, pipeline: str, store_opt: str | None, static: bool,
                   report_file: str | None) -> None:
    """Exit 0 if the store holds every path of MODULE:FUNCTION for the current code, 1 if some would re-run."""
    location = store_opt or ctx.obj
    try:
        fn, store = _prepare(pipeline, location)
        report = check_status(pipeline, fn, store, location, static=static)
    except DDSError:
        raise
    except Exception as exc:  # anything else is still "could not tell": status 2, never a traceback
        raise DDSError(f"dds status {pipeline}: {type(exc).__name__}: {exc}") from exc
    _write(report, report_file, None)
    stale = [s.path for s in report.steps if s.outcome != FRESH]
    _echo_steps(report)
    if stale:
        click.echo(f"dds status: {len(stale)} of {len(report.steps)} path(s) would re-run: {', '.join(stale)}")
        ctx.exit(1)
    click.echo(f"dds status: all {len(report.steps)} path(s) are fresh")


def _prepare(pipeline: str, location: str) -> tuple[Callable, Store]:
    """Import the pipeline and open its store, and make it the store keep uses. Any failure is a DDSError
    (exit status 2: nothing ran)."""
    try:
        fn = runner.load_pipeline(pipeline)
        store = runner.open_store(location)
    except DDSError:
        raise
    except Exception as exc:
        raise DDSError(f"Cannot prepare pipeline {pipeline} on the store {location}: {type(exc).__name__}: "
                       f"{exc}") from exc
    runner.use_store(store)
    return fn, store


def _write(report: RunReport, report_file: str | None, junit_file: str | None) -> None:
    if report_file:
        write_json(report, report_file)
    if junit_file:
        write_junit(report, junit_file)


def _echo_steps(report: RunReport) -> None:
    """One line per path (outcome, path, time, signature, reason), then dds's explanation, indented."""
    if not report.steps:
        click.echo("no dds.keep or data function reached")
        return
    width = max(len(s.path) for s in report.steps)
    for step in report.steps:
        parts = [click.style(f"{step.outcome:<8}", fg=_COLOURS.get(step.outcome)), f"{step.path:<{width}}"]
        if step.duration_s is not None:
            parts.append(f"{step.duration_s:8.3f}s")
        if step.signature:
            parts.append(step.signature[:10])
        note = step.error if step.outcome == SKIPPED else step.reason if step.outcome not in (RAN, LOADED) else ""
        if note:
            parts.append(f"({note})")
        click.echo("  ".join(parts).rstrip())
        details = [step.error] if step.outcome == FAILED and step.error else []
        if step.why and step.outcome in (RAN, FAILED, WILL_RUN, MAY_RUN) and "\n" in step.why:
            details.append(step.why)  # a one-line explanation only restates the reason shown above
        for line in "\n".join(d for d in details if d).splitlines():
            click.echo(f"    {line}")
    if report.error:
        click.echo(click.style("error", fg="red") + f"  {report.error}")


def _summary(report: RunReport) -> str:
    counts = report.counts()
    order = [RAN, LOADED, FAILED, SKIPPED, FRESH, WILL_RUN, MAY_RUN]
    text = ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))
    return f"dds {report.command}: {text or 'no paths'} in {report.duration_s:.2f}s"
