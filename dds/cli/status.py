"""``dds status``: does the store hold, for every path, what the current code would compute?

First the plan (nothing runs). A plan can only say *may run* for a step whose arguments are computed at run
time by code that is not a step; a CI gate must not call that fresh. So, unless ``--static``, such a plan
is resolved exactly by calling the pipeline against a read-only view of the store: every ``keep`` whose
value is stored loads it (no step body runs, no ref moves), and the first ``keep`` that would compute stops
the pipeline there. Either every path loaded (fresh, exactly) or that path would run.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import api
from ..report import FRESH, MAY_RUN, WILL_RUN, RunReport, StepReport
from ..store import Store
from .runner import PipelineError, explain, plan_pipeline, use_store


class _WouldRun(BaseException):
    """Raised where ``keep`` would compute: stops the pipeline before the step's body runs. Not an
    Exception, so a pipeline's own ``except Exception`` cannot swallow it."""

    def __init__(self, sig: str) -> None:
        super().__init__(sig)
        self.sig = sig


class ReadOnlyStore:
    """The real store for reading. Refuses to compute (``lock``/``write``) and keeps ref moves in memory,
    so signatures that read those refs see what a real run would, and the store itself never changes."""

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self._refs: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_ref(self, path: str) -> str | None:
        return self._refs[path] if path in self._refs else self._inner.get_ref(path)

    def set_ref(self, path: str, sig: str) -> None:
        self._refs[path] = sig

    def refresh_view(self, path: str, sig: str, meta: dict | None = None) -> None:
        return None

    def lock(self, sig: str) -> Any:
        raise _WouldRun(sig)

    def write(self, sig: str, value: Any, meta: dict) -> dict:
        raise _WouldRun(sig)


def check_status(spec: str, fn: Callable, store: Store, location: str, *, static: bool) -> RunReport:
    """The plan as a report; outcome per path fresh / will run / may run (may run left only by ``static``
    or when the check stopped at an earlier path that will run)."""
    report = plan_pipeline(spec, fn, store, location, "status")
    outcomes = {s.outcome for s in report.steps}
    if MAY_RUN not in outcomes or WILL_RUN in outcomes or static:
        for step in report.steps:
            if step.outcome == MAY_RUN:
                step.reason += ("; not resolved (--static)" if static else
                                "; not resolved (other paths will run anyway)")
        return report
    _resolve(report, spec, fn, store)
    return report


def _resolve(report: RunReport, spec: str, fn: Callable, store: Store) -> None:
    """Call the pipeline against a ReadOnlyStore and replace the plan's guesses by what it found."""
    loaded: dict[str, str] = {}

    def observer(path: str, what: str, sig: str) -> None:
        if what == "loaded":
            loaded[path] = sig

    use_store(ReadOnlyStore(store))  # type: ignore[arg-type]  # a Store by delegation
    api.observers.append(observer)
    stopped: str | None = None
    try:
        fn()
    except _WouldRun as stop:
        stopped = _path_of(stop.sig)
    except Exception as exc:
        raise PipelineError(
            f"dds status {spec}: the pipeline raised {type(exc).__name__}: {exc} while its stored values were "
            "being loaded (no step ran, nothing was changed). Fix the pipeline, or pass --static to judge from "
            "the plan alone."
        ) from exc
    finally:
        api.observers.remove(observer)
        use_store(store)
    for step in report.steps:
        if step.path in loaded:
            if step.outcome != FRESH:
                step.reason = "resolved: its stored value loaded for the current code and inputs"
            step.outcome, step.signature, step.why = FRESH, loaded[step.path], None
        elif step.path == stopped:
            step.outcome, step.why = WILL_RUN, explain(store, step.path)
            step.signature = getattr(api.decisions.get(step.path), "new_sig", None)
            step.reason = "resolved: nothing is stored for its current signature"
        elif step.outcome == MAY_RUN and stopped is None:
            step.outcome, step.why, step.reason = FRESH, None, "not reached: the pipeline does not keep it now"
        elif step.outcome == MAY_RUN:
            step.reason += f"; not resolved: the check stopped at {stopped}, which will run"
    if stopped is not None and stopped not in {s.path for s in report.steps}:
        report.steps.append(StepReport(stopped, "?", WILL_RUN, planned=None, why=explain(store, stopped),
                                       reason="not in the plan (found while checking); nothing stored for it"))


def _path_of(sig: str) -> str:
    """The path whose ``keep`` was about to compute ``sig`` (keep records its decision first)."""
    for path, decision in reversed(list(api.decisions.items())):
        if getattr(decision, "new_sig", None) == sig:
            return path
    return f"(a path with signature {sig[:10]})"
