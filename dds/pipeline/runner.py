"""``dds run``: evaluate a pipeline named ``module:function`` and record, per path, what happened.

The run goes through :func:`dds.pipeline.evaluate.evaluate` (so values and re-run sets are exactly those of
``dds.eval``); the report is collected from its hooks: the plan (``on_plan``) gives every path the pipeline
keeps and its predicted status; ``dds.session.observers`` tells when each step's function started, and
whether it ran, loaded or failed.
"""

from __future__ import annotations

import inspect
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from typing import Callable

from .. import session
from ..errors import ArgumentError, DDSError
from .explain import explain_decision
from .reference import import_pipeline
from .plan import UNDECIDED, Plan, Step, make_plan
from .report import FAILED, FRESH, LOADED, RAN, SKIPPED, RunReport, StepReport
from ..signature import accept_module
from ..store import Store



class PipelineError(DDSError):
    """The pipeline could not be planned (its code raised while dds read it): nothing ran."""


def open_store(location: str, kind: str | None = None) -> Store:
    """The store ``dds run`` writes to (the rule of :mod:`dds.store.open`): an object store's bucket is checked
    now, so a typo or missing credentials is an error naming the URL before anything runs."""
    from ..store.open import open_store as open_by_rule

    return open_by_rule(location, kind, reachable=True)


def use_store(store: Store) -> None:
    """Make ``store`` the one ``dds.keep`` uses in this process (``dds status`` hands over a read-only
    wrapper that delegates to a store, which ``dds.set_store`` would not take for one)."""
    session.use_store(store)


def load_pipeline(spec: str) -> Callable:
    """Import ``module:function``; its top-level package is hashed by code even when it is installed."""
    top = spec.partition(":")[0].split(".", 1)[0]
    if top and top != "dds" and top not in sys.stdlib_module_names:
        accept_module(top)
    fn = import_pipeline(spec)
    try:
        inspect.signature(fn).bind()
    except TypeError:
        raise ArgumentError(
            f"Pipeline {spec} needs arguments, but dds run calls it without any. Fix: give its parameters "
            f"defaults, or add a function without parameters that calls it and name that one."
        ) from None
    except ValueError:  # no introspectable signature: let the call decide
        pass
    return fn


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def plan_pipeline(spec: str, fn: Callable, store: Store, location: str, command: str) -> RunReport:
    """The plan as a report (nothing runs): outcome = fresh / will run / may run, with dds's explanation."""
    started_at, t0 = now_iso(), time.perf_counter()
    plan = _planned(spec, lambda: make_plan(fn, (), {}, store))
    steps = [StepReport(path, step.function, step.status, signature=step.sig, planned=step.status,
                        reason=_with_undecided(step), upstream=list(step.upstream),
                        why=None if step.status == FRESH else explain(store, path))
             for path, step in plan.steps.items()]
    return RunReport(command, spec, location, started_at, time.perf_counter() - t0, steps)


def _with_undecided(step: Step) -> str:
    """The plan's reason, saying so when the step's signature is only known at run time."""
    if step.sig is not None:
        return step.reason
    return f"{step.reason}; {UNDECIDED}" if step.reason else UNDECIDED


def _planned(spec: str, make: Callable[[], Plan]) -> Plan:
    try:
        return make()
    except Exception as exc:
        raise _planning_error(spec, exc) from exc


def _planning_error(spec: str, exc: Exception) -> Exception:
    """A dds error as it is; anything else the plan raised becomes a PipelineError naming the pipeline."""
    if isinstance(exc, DDSError):
        return exc
    return PipelineError(f"Planning pipeline {spec} raised {type(exc).__name__}: {exc}. Nothing ran. "
                         "Fix the pipeline's code (dds reads it before running).")


def explain(store: Store, path: str) -> str | None:
    """``dds why`` for ``path`` from the latest decision, or None: an explanation never fails a run."""
    decision = session.decisions.get(path)
    if decision is None:
        return None
    try:
        return explain_decision(store, path, decision)
    except Exception as exc:  # noqa: BLE001 - a report without an explanation beats no report
        return f"(no explanation: {type(exc).__name__}: {exc})"


def run_pipeline(spec: str, fn: Callable, store: Store, location: str) -> RunReport:
    """Evaluate ``fn`` with ``dds.eval`` semantics and report every path: ran, loaded, failed or skipped.

    A step that raises stops the pipeline (as in Python); what finished before it stays stored. Raises
    (nothing ran) only when the plan cannot be made.
    """
    from .evaluate import evaluate

    started_at, t0 = now_iso(), time.perf_counter()
    run = _Collector()
    session.observers.append(run.observe)
    try:
        evaluate(fn, (), {}, export_graph=None, extra_debug=False, dont_eval=False, stages=None,
                 on_plan=run.planned)
    except Exception as exc:
        if run.plan is None:
            raise _planning_error(spec, exc) from exc
        run.failed(exc)
    finally:
        session.observers.remove(run.observe)
    return run.report(spec, store, location, started_at, time.perf_counter() - t0)


class _Collector:
    """Listens to one evaluation: the plan, each finished path, and the failure that stopped it."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.predicted: dict[str, tuple[str, str]] = {}
        self.done: dict[str, tuple[str, str, float]] = {}  # path -> (ran/loaded, signature, seconds)
        self.started: dict[str, float] = {}  # path -> when its function started running
        self.failures: dict[str, float] = {}  # path -> seconds it ran before raising; innermost step first
        self.last = time.perf_counter()
        self.error: Exception | None = None

    def planned(self, plan: Plan) -> None:
        self.plan = plan
        self.predicted = {p: (s.status, s.reason) for p, s in plan.steps.items()}
        self.last = time.perf_counter()

    def observe(self, path: str, what: str, sig: str) -> None:
        """A ran step's duration is its function's own wall time (steps it keeps inside included); a loaded
        step's is the time since the previous event."""
        now = time.perf_counter()
        if what == "started":
            self.started[path] = now
            return
        began = self.started.pop(path, self.last)
        if what == "failed":
            self.failures[path] = now - began
        else:
            self.done[path] = (what, sig, now - (began if what == "ran" else self.last))
        self.last = now

    def failed(self, exc: Exception) -> None:
        self.error = exc

    def report(self, spec: str, store: Store, location: str, started_at: str, seconds: float) -> RunReport:
        assert self.plan is not None
        out = RunReport("run", spec, location, started_at, seconds)
        failing = self._failing_paths()
        culprit = self._culprit(failing)
        out.failed_first = failing[0] if failing else None
        paths = list(dict.fromkeys([*self.plan.steps, *self.done, *failing]))
        for path in paths:
            step = self.plan.steps.get(path)
            planned, reason = self.predicted.get(path, (None, "not in the plan (found while running)"))
            entry = StepReport(path, step.function if step else self._function_of(store, path), SKIPPED,
                               planned=planned,
                               reason=reason, upstream=list(step.upstream) if step else [])
            if path in self.done:
                what, sig, seconds_ = self.done[path]
                entry.outcome, entry.signature = (RAN if what == "ran" else LOADED), sig
                entry.duration_s = round(seconds_, 6)
                entry.why = explain(store, path) if entry.outcome == RAN else None
            elif path in failing:
                entry.outcome, entry.why = FAILED, explain(store, path)
                decision = session.decisions.get(path)
                entry.signature = getattr(decision, "new_sig", None)
                entry.error, entry.error_type, entry.traceback = self._error_for(path, culprit)
                entry.duration_s = round(self.failures[path], 6) if path in self.failures else None
            elif self.error is not None:
                entry.error = f"not run: {culprit or 'the pipeline'} failed before reaching it"
            else:
                entry.error = self._not_reached(path)
            out.steps.append(entry)
        if self.error is not None and not failing:
            root = _root_cause(self.error)
            out.error = f"pipeline {spec} raised {type(root).__name__}: {root}"
            out.error_type = type(root).__name__
            out.traceback = _format(root)
        return out

    def _not_reached(self, path: str) -> str:
        """Why a planned path was not kept although nothing failed: usually the step whose function keeps
        it was loaded, so that function did not run (or the pipeline took another branch)."""
        assert self.plan is not None
        owners = [p for p, step in self.plan.steps.items()
                  if path in step.upstream and self.done.get(p, ("",))[0] == "loaded"]
        if owners:
            return f"not needed: {owners[0]} was loaded, so the function that keeps {path} did not run"
        return "not reached: the pipeline did not keep this path in this run"

    def _function_of(self, store: Store, path: str) -> str:
        """The function kept at a path the plan did not find (a dynamic path), from its stored metadata."""
        sig = self.done.get(path, (None, None))[1] or getattr(session.decisions.get(path), "new_sig", None)
        try:
            return str((store.read_meta(sig) or {}).get("function", "?")) if sig else "?"
        except DDSError:
            return "?"

    def _failing_paths(self) -> list[str]:
        """Paths whose function raised: the step that failed first, then every step whose function was
        running it (a keep nested in another step's function). Without an error (the pipeline caught the
        exception itself), these are the steps that raised all the same."""
        unfinished = [p for p in reversed(self.started) if p not in self.failures]  # e.g. its value failed to store
        return [p for p in [*self.failures, *unfinished] if p not in self.done]

    def _culprit(self, failing: list[str]) -> str | None:
        """The step that raised first (the innermost one), when the failure stopped the pipeline."""
        return failing[0] if self.error is not None and failing else None

    def _error_for(self, path: str, culprit: str | None) -> tuple[str, str | None, str | None]:
        """(message, exception type, traceback) of the failure, as seen from ``path``."""
        if self.error is None:
            caught = (f"the function kept at {path} raised, and the pipeline caught the exception: nothing was "
                      f"stored for {path}")
            return caught, None, None
        root = _root_cause(self.error)
        text = f"{type(root).__name__}: {root}"
        if path != culprit and culprit is not None:
            text = f"step {culprit}, kept while computing {path}, failed: {text}"
        return text, type(root).__name__, _format(root)


def _root_cause(exc: BaseException) -> BaseException:
    """The exception to report: the user's own, which keep lets through unwrapped (dds.failures)."""
    return exc


def _format(exc: BaseException) -> str:
    """The traceback without dds's own frames: the user's exception passes through ``keep`` on its way out
    (pipeline -> keep -> step), and the user's code is what the reader needs. Notes are kept."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not _in_dds(f.filename)]
    head = ["Traceback (most recent call last):\n"] if frames else []
    return "".join(head + traceback.format_list(frames) + traceback.format_exception_only(type(exc), exc))


def _in_dds(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_DDS_DIR)


_DDS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
