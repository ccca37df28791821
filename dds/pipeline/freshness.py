"""``dds status``'s engine: does the store hold, for every path, what the current code would compute?

First the plan (nothing runs). A plan reads code, not data: where a step's arguments or the refs it loads
are only known at run time, it can only guess. A CI gate must not guess, so, unless ``--static``, the plan is
then checked exactly by calling the pipeline against a read-only view of the store: every ``keep`` whose
value is stored loads it (no step body runs, no ref moves), and the first ``keep`` that would compute stops
the pipeline there, with the exact signature it would compute. So status exits 0 exactly when ``dds run``
would load every path, and every signature it prints is the one the run uses.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import session
from .plan import UNDECIDED
from .report import FRESH, MAY_RUN, WILL_RUN, RunReport, StepReport
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
    if static:
        for step in report.steps:
            if step.outcome == MAY_RUN:
                step.reason += "; not resolved (--static)"
        return report
    if any(step.outcome != FRESH or step.signature is None for step in report.steps):
        _resolve(report, spec, fn, store)
    return report


def _resolve(report: RunReport, spec: str, fn: Callable, store: Store) -> None:
    """Call the pipeline against a ReadOnlyStore and replace the plan's guesses by what it found."""
    loaded: dict[str, str] = {}

    def observer(path: str, what: str, sig: str) -> None:
        if what == "loaded":
            loaded[path] = sig

    use_store(ReadOnlyStore(store))  # type: ignore[arg-type]  # a Store by delegation
    session.observers.append(observer)
    stopped: str | None = None
    stopped_sig: str | None = None
    try:
        fn()
    except _WouldRun as stop:
        stopped, stopped_sig = _path_of(stop.sig), stop.sig
    except Exception as exc:
        raise PipelineError(
            f"dds status {spec}: the pipeline raised {type(exc).__name__}: {exc} while its stored values were "
            "being loaded (no step ran, nothing was changed). Fix the pipeline, or pass --static to judge from "
            "the plan alone."
        ) from exc
    finally:
        session.observers.remove(observer)
        use_store(store)
    after = _downstream(report, stopped) if stopped is not None else set()
    for step in report.steps:
        if step.path in loaded:
            if step.outcome != FRESH:
                step.reason = "resolved: its stored value loaded for the current code and inputs"
            elif step.signature is None:
                step.reason = step.reason.replace(f"; {UNDECIDED}", "").replace(UNDECIDED, "")
            step.outcome, step.signature, step.why = FRESH, loaded[step.path], None
        elif step.path == stopped:
            step.outcome, step.why = WILL_RUN, explain(store, step.path)
            step.signature = stopped_sig
            step.reason = "resolved: nothing is stored for its current signature"
        elif stopped is None:
            step.outcome, step.why, step.signature = FRESH, None, None
            step.reason = "not needed: the pipeline does not keep it now (a step that keeps it loaded)"
        elif step.path in after:
            step.outcome, step.signature, step.why = MAY_RUN, None, None
            step.reason = f"decided at run time: it depends on {stopped}, which will run"
        else:
            step.reason = (step.reason + "; " if step.reason else "") + f"not checked: the check stopped at {stopped}"
    if stopped is not None and stopped not in {s.path for s in report.steps}:
        report.steps.append(StepReport(stopped, "?", WILL_RUN, signature=stopped_sig, planned=None,
                                       why=explain(store, stopped),
                                       reason="not in the plan (found while checking); nothing stored for it"))


def _downstream(report: RunReport, path: str) -> set[str]:
    """The paths whose plan lists ``path`` upstream, directly or through others."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for step in report.steps:
            if step.path not in found and ({path} | found) & set(step.upstream):
                found.add(step.path)
                changed = True
    return found


def _path_of(sig: str) -> str:
    """The path whose ``keep`` was about to compute ``sig`` (keep records its decision first)."""
    for path, decision in reversed(list(session.decisions.items())):
        if getattr(decision, "new_sig", None) == sig:
            return path
    return f"(a path with signature {sig[:10]})"
