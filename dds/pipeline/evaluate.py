"""``dds.eval``: plan a whole pipeline before running it, then run only what is stale.

The plan (see :mod:`dds.plan`) is made statically; the run itself goes through ``keep``, so values and
re-run sets are exactly those of calling the pipeline with plain ``keep`` calls. After the run, each
step's status is what really happened (``ran`` / ``loaded``), which is what the exported graph shows.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
from typing import Any, Callable, Iterable

from .. import session
from ..signature.identity import function_name
from ..step import planned_refs
from ..step.failures import without_dds_frames
from ..errors import ArgumentError, DDSError, DDSErrorCode
from .plan import Plan, make_plan
from .status import FRESH, LOADED, RAN

log = logging.getLogger("dds")
_active = threading.local()


class ProcessingStage(enum.Enum):
    """The stages of an evaluation; ``dds_stages`` selects a prefix of them."""

    ANALYSIS = "analysis"        # find the steps and their signatures
    PATH_LOADING = "path_loading"  # read what the store holds for each path
    EVAL = "eval"                # run the pipeline (each keep stores its value and commits its path)

    @classmethod
    def parse(cls, stages: Iterable[Any] | None) -> set["ProcessingStage"]:
        if stages is None:
            return set(cls)
        out, names = set(), set()
        for stage in stages:
            name = stage.value if isinstance(stage, cls) else str(stage).lower()
            names.add(name)
            try:
                out.add(stage if isinstance(stage, cls) else cls(_DDS_PY_STAGES.get(name, name)))
            except ValueError:
                raise ArgumentError(
                    f"Unknown dds stage {stage!r}; use {[s.value for s in cls]} or dds.ProcessingStage members."
                ) from None
        if cls.EVAL in out and names & {"store_inspect", "store_commit"} and "path_commit" not in names:
            raise ArgumentError(
                f"dds_stages={sorted(names)} runs the pipeline without dds_py's 'path_commit' stage, but a dds "
                "keep always points its path at the value it stored. Fix: add 'path_commit', or leave out 'eval' "
                "for a run that only plans."
            )
        return out


#: dds_py's stage names: store_inspect reads the store (path_loading); its store and path commits are part
#: of eval here, because each keep commits its own path as it finishes.
_DDS_PY_STAGES = {"store_inspect": "path_loading", "store_commit": "eval", "path_commit": "eval"}


def evaluate(fn: Callable, args: tuple, kwargs: dict, *, export_graph: str | None, extra_debug: bool,
             dont_eval: bool, stages: Iterable[Any] | None, on_plan: Callable[[Plan], None] | None = None) -> Any:
    """Implementation of :func:`dds.eval` (see its docstring).

    ``on_plan(plan)`` is called once the plan is made, before anything runs (``dds run`` records the
    predicted statuses from it without planning twice).
    """
    if not callable(fn):
        raise ArgumentError(f"dds.eval needs a function, got {type(fn).__name__} {fn!r}.")
    if getattr(_active, "fn", None) is not None:
        raise DDSError(
            f"dds.eval({function_name(fn)}) was called while dds.eval({function_name(_active.fn)}) is "
            "running. Fix: call the inner pipeline function directly (its keeps still cache), or move the "
            "inner dds.eval out of the pipeline.", code=DDSErrorCode.EVAL_IN_EVAL
        )
    selected = ProcessingStage.parse(stages)
    if dont_eval:
        selected.discard(ProcessingStage.EVAL)
    store = session.current_store()
    try:
        with store.planning():  # an S3 store reads each ref and metadata file once, and keeps metadata for the run
            plan = make_plan(fn, args, kwargs, store)
    except DDSError as exc:  # shown from the user's eval line, as keep shows its errors (step.failures.without_dds_frames)
        raise without_dds_frames(exc) from exc.__cause__
    if on_plan is not None:
        on_plan(plan)
    if extra_debug or ProcessingStage.EVAL not in selected:
        log.info("dds: plan for %s:\n%s", function_name(fn), plan.to_text())
    if ProcessingStage.EVAL not in selected:
        _export(plan, export_graph)
        return plan
    _active.fn = fn
    happened: dict[str, tuple[str, str]] = {}
    progress = _progress(len(plan.steps))

    def observer(path: str, what: str, sig: str) -> None:
        if what not in ("ran", "loaded"):
            return
        happened[path] = (what, sig)
        if progress is not None:
            progress.set_postfix_str(f"{what} {path}", refresh=False)
            progress.update(1)

    session.observers.append(observer)
    try:
        with planned_refs.trusted(store, {path: step.ref for path, step in plan.steps.items() if step.ref}):
            result = fn(*args, **kwargs)  # a keep at the signature its path held when planned: no second read
    finally:
        session.observers.remove(observer)
        _active.fn = None
        if progress is not None:
            progress.close()
        _record(plan, happened)
        _export(plan, export_graph)
    return result


def _progress(total: int) -> Any:
    """A progress bar on stderr for evaluations of several steps; none when stderr is not a terminal."""
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="dds", unit="step", leave=False, file=sys.stderr)


def _record(plan: Plan, happened: dict) -> None:
    for path, (what, sig) in happened.items():
        step = plan.steps.get(path)
        if step is None:
            continue
        predicted = step.status
        step.status, step.sig = (RAN if what == "ran" else LOADED), sig
        if predicted == FRESH and step.status == RAN:
            log.warning("dds: %s was planned as fresh but ran (%s)", path, step.reason or "inputs changed")


def _export(plan: Plan, export_graph: str | None) -> None:
    if export_graph is not None:
        from .drawing import export_graph as write

        write(plan, export_graph)
