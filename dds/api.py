"""The public functions: keep, data_function, load, set_store, eval, why, promote.

They hold no state of their own (the current store, decisions and observers are ``session``'s). ``keep`` is the
whole product: compute the call's signature, return the stored value if the store holds
one for it, else run the function, store the result and point the path at it. Nothing is stored when the
function raises, and the path keeps pointing at its previous value.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from . import options, session
from .codecs import capability, codec_named
from .errors import ArgumentError, DamagedDataError, DDSError, NotFoundError
from .inputs import File, during_run
from .paths import validate_path
from .signature import call_signature, warn_if_run_changed_inputs
from .signature.identity import function_name
from .step import failures, overlaps, planned_refs, provenance, value_memo
from .step.runinfo import RESERVED, run_info, user_run_info
from .store.base import Store
from .store.content import content_digest
from .store.open import open_store
from .store.registry import create_store

if TYPE_CHECKING:  # the annotation of promote
    from .store.promote import Promoted

log = logging.getLogger("dds")
T = TypeVar("T")


def set_store(kind: str | Store = "local", internal_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, dbutils: Any = None, commit_type: str | None = None,
              cache_objects: bool | int | None = None, **store_options: Any) -> Store:
    """Choose where values are kept: ``"local"`` (default ``./.dds``), ``"memory"`` (this process only).

    Also ``"fsspec"`` (``url="s3://bucket/prefix"``, any fsspec URL) and ``"dbfs"`` (Databricks), or a
    :class:`~dds.store.base.Store` object. Without a call, ``DDS_STORE`` (kind) and ``DDS_DIR`` (directory,
    or URL for fsspec) are read from the environment when the store is first needed.

    dds_py's keywords: ``cache_objects`` bounds how many values this process holds in memory (``None``/``True``:
    the default, ``False``/``0``: none, ``N``: at most N, negative: no bound; only immutable values are ever
    held, see :mod:`dds.value_memo`). ``commit_type`` (``"full"``, default, or ``"links_only"``) says whether
    the dbfs store copies each value into ``data_dir``. ``dbutils`` is accepted and not needed: the dbfs store
    works through the ``/dbfs`` mount.
    """
    _check_commit_type(kind, commit_type)
    value_memo.bound(cache_objects)  # before the store: a bad value changes nothing
    if isinstance(kind, Store):
        if internal_dir is not None or data_dir is not None or store_options:
            raise ArgumentError(
                f"dds.set_store({kind.describe()}, ...) got a store object and store options; the object is "
                "already configured. Fix: dds.set_store(my_store) alone."
            )
        return session.use_store(kind)
    if internal_dir is not None:
        store_options["internal_dir"] = os.fspath(internal_dir)
    if data_dir is not None:
        store_options["data_dir"] = os.fspath(data_dir)
    if kind == "dbfs" and str(commit_type or "full").lower() == "links_only":
        store_options.pop("data_dir", None)  # the refs in internal_dir are the links; no copy in data_dir
    return session.use_store(create_store(kind, **store_options))


_COMMIT_TYPES = ("full", "links_only", "none")


def _check_commit_type(kind: object, commit_type: str | None) -> None:
    """dds_py's ``commit_type``: "full" is what every dds store does; "links_only" applies to dbfs; "none"
    (never point paths at new values) is refused rather than ignored, since keep always commits."""
    if commit_type is None:
        return
    value = str(commit_type).lower()
    if value not in _COMMIT_TYPES:
        raise ArgumentError(
            f"dds.set_store(commit_type={commit_type!r}): expected one of {', '.join(_COMMIT_TYPES)}. "
            "Fix: dds.set_store('dbfs', ..., commit_type='full')."
        )
    if value == "none":
        raise ArgumentError(
            "dds.set_store(commit_type='none'): dds always points a path at the value its keep stored, so "
            "there is no mode that stores nothing. Fix: leave commit_type out; for a run that stores nothing "
            "use dds.eval(pipeline, dds_dont_eval=True) (a dry run) or dds.set_store('memory')."
        )
    if value == "links_only" and kind != "dbfs":
        raise ArgumentError(
            f"dds.set_store({kind!r}, commit_type='links_only'): commit_type applies to the dbfs store only "
            "(it decides whether values are copied into data_dir). Fix: leave commit_type out, or leave out "
            "data_dir to keep no view for people."
        )


def get_store() -> Store:
    """The current store (opened from ``DDS_STORE``/``DDS_DIR`` on first use, see :mod:`dds.store.open`)."""
    return session.current_store()


def keep(path: str | os.PathLike[str], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``fn(*args, **kwargs)``, from the store at ``path`` if it holds the value for this code.

    ``path`` is a ``str`` such as ``"/group/name"`` or a ``pathlib`` path (``PurePosixPath("/group/name")``).

    The signature covers ``path``, ``fn``'s normalised code and everything it transitively reads (helpers,
    constants, classes, upstream kept data) and the argument values. If the store has a value for that
    signature it is loaded and ``fn`` does not run; otherwise ``fn`` runs and its result is stored.
    """
    path = validate_path(path)
    if not callable(fn):
        raise ArgumentError(
            f"dds.keep({path!r}, ...) needs a function as second argument, got {type(fn).__name__} {fn!r}. "
            f"Fix: dds.keep({path!r}, my_function, *args)."
        )
    store = get_store()
    try:
        signature = call_signature(path, fn, args, kwargs, load_sig=store.get_ref,
                                   content_of=functools.partial(content_digest, store))
    except DDSError as exc:
        raise failures.without_dds_frames(exc) from exc.__cause__
    sig = signature.sig
    if options.get_option("extra_debug"):
        log.debug("signature tree of %s: %s", path, signature.tree)
    ref = sig if planned_refs.take(store, path, sig) else _current_ref(store, path)  # eval: the plan's read
    session.decisions[path] = session.Decision(ref, sig, signature)
    if ref is None:  # a new path: refuse one overlapping another before fn runs (a warm keep never gets here)
        overlaps.check_new_path(store, path, function_name(fn))
    if ref == sig:  # the path already points at this value: one this process holds needs no store read
        held, value = value_memo.recall(store, sig)
        if held:
            log.info("dds: loaded   %s (%s) [%s]", path, _LazyName(fn), sig[:10])
            provenance.remember(path, value)
            session.notify(path, "loaded", sig)
            return value
    name = function_name(fn)
    found, value = _load_stored(store, path, name, sig, ref)
    if found:
        return value
    with store.lock(sig):  # concurrent keeps of the same signature: one computes, the others load
        found, value = _load_stored(store, path, name, sig, _current_ref(store, path))
        if found:
            return value
        return _compute(store, path, name, sig, signature.tree, fn, args, kwargs)


def _current_ref(store: Store, path: str) -> str | None:
    """``store.get_ref(path)``; a damaged ref counts as none when on_damage is "recompute" (keep rewrites it)."""
    try:
        return store.get_ref(path)
    except DamagedDataError:
        if options.get_option("on_damage") != "recompute":
            raise
        return None


def _read_meta(store: Store, path: str, sig: str) -> dict | None:
    try:
        return store.read_meta(sig)
    except DamagedDataError as exc:
        raise DamagedDataError(f"The stored value of {path} is damaged. {exc}") from None


def _load_stored(store: Store, path: str, name: str, sig: str, ref: str | None) -> tuple[bool, Any]:
    """(True, value) when the store holds ``sig`` intact; (False, None) when it must be computed.
    ``ref`` is what ``path`` points to now (read by the caller, which needs it too)."""
    try:
        meta = _read_meta(store, path, sig)
        if meta is None:
            return False, None
        value = store.read(sig, meta)
    except DamagedDataError:
        if options.get_option("on_damage") != "recompute":
            raise
        log.warning("dds: %s (%s): stored value is damaged, recomputing", path, name)
        return False, None
    if ref != sig:
        store.set_ref(path, sig)
    else:
        store.refresh_view(path, sig, meta)
    log.info("dds: loaded   %s (%s) [%s]", path, name, sig[:10])
    value_memo.remember(store, sig, value)
    provenance.remember(path, value)
    session.notify(path, "loaded", sig)
    return True, value


def _compute(store: Store, path: str, name: str, sig: str, tree: dict, fn: Callable, args: tuple,
             kwargs: dict) -> Any:
    """Run ``fn``, store its value as blob ``sig`` and point ``path`` at it."""
    extra_run_info = user_run_info(path, reserved=RESERVED)  # before fn runs: its failure loses no work
    session.notify(path, "started", sig)
    started = time.time()
    t0 = time.perf_counter()
    watched = during_run.watch(during_run.files_among((*args, *kwargs.values())))
    try:
        with overlaps.running(path):
            value = fn(*args, **kwargs)
    except Exception as exc:  # the user's own exception propagates as itself, noted with the path
        session.notify(path, "failed", sig)
        failures.annotate(exc, path, name, had_value=_holds_value(store, path))
        raise
    duration = time.perf_counter() - t0
    moved = [v for v in warn_if_run_changed_inputs(path, name, quiet=_is_file) if _is_file(v)]
    moved += during_run.changed(watched)
    if moved:  # the function may have read the new bytes: storing it under the old ones would be stale
        log.warning("dds: %s changed while %s computed %s: the value is returned but not stored (it may mix old "
                    "and new content); %s still holds its previous value, if any. Run again once the file is "
                    "complete.", ", ".join(sorted({str(f) for f in moved})), name, path, path)
        session.notify(path, "ran", sig)
        return value
    record = {
        "path": path,
        "function": name,
        "signature": sig,
        "tree": tree,
        "arguments_from": provenance.sources(args, kwargs),
        "run": run_info(started, duration, _source_file(fn), module=getattr(fn, "__module__", None), path=path,
                        user_fields=extra_run_info),
    }
    stored = store.write(sig, value, record)
    store.set_ref(path, sig)
    if capability(codec_named(stored["codec"]), "returns_stored_value"):
        value = store.read(sig, stored)  # e.g. Spark: the same lazily read DataFrame a later load returns
    log.info("dds: computed %s (%s) in %.3fs [%s]", path, name, duration, sig[:10])
    value_memo.remember(store, sig, value)
    provenance.remember(path, value)
    session.notify(path, "ran", sig)
    return value


def _is_file(value: Any) -> bool:
    return isinstance(value, File)


def _holds_value(store: Store, path: str) -> bool | None:
    """Whether ``path`` holds a value (None: unknown); never raises over the user's own exception."""
    try:
        return store.get_ref(path) is not None
    except Exception:  # noqa: BLE001 - a damaged ref must not hide the exception being reported
        return None


def why(path: str | os.PathLike[str]) -> str:
    """Explain in words why ``path`` was (or will be) recomputed: which dependency changed, and how.

    Uses the latest decision made in this process (by ``keep``, or by ``eval(..., dds_dont_eval=True)``);
    otherwise compares the value stored at ``path`` with the one stored before it.
    """
    from .pipeline.explain import explain_decision, explain_stored_history

    path = validate_path(path)
    store = get_store()
    decision = session.decisions.get(path)
    if decision is None:
        return explain_stored_history(store, path)
    return explain_decision(store, path, decision)


def load(path: str | os.PathLike[str]) -> Any:
    """The value stored at ``path`` (NotFoundError naming the path and the store if there is none)."""
    path = validate_path(path)
    store = get_store()
    sig = store.get_ref(path)
    meta = _read_meta(store, path, sig) if sig is not None else None
    if meta is None:
        raise NotFoundError(
            f"Nothing is stored at {path} in the {store.describe()}. Fix: run the pipeline step that keeps it "
            f"(dds.keep({path!r}, fn) or a @dds.data_function({path!r})) first, or check the store with "
            "dds.set_store(...) / DDS_DIR."
        )
    return store.read(sig, meta)


load.__dds_load__ = True  # type: ignore[attr-defined]  # lets signatures depend on what load() reads
keep.__dds_keep__ = True  # type: ignore[attr-defined]  # lets signatures know which paths a function keeps


class DataFunction:
    """A function whose every call is ``dds.keep(path, fn, *args, **kwargs)``."""

    def __init__(self, fn: Callable, path: str):
        functools.update_wrapper(self, fn)
        self.__dds_keep_path__ = path

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return keep(self.__dds_keep_path__, self.__wrapped__, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<dds data function {function_name(self.__wrapped__)} -> {self.__dds_keep_path__}>"


def data_function(path: str | os.PathLike[str]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: ``@data_function("/path")`` makes every call of the function a :func:`keep` at ``path``."""
    path = validate_path(path)

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        if not callable(fn):
            raise ArgumentError(f"@dds.data_function({path!r}) decorates functions, not {type(fn).__name__}.")
        return DataFunction(fn, path)  # type: ignore[return-value]

    return decorate


dds_function = data_function


class _LazyName:
    """``function_name(fn)`` formatted only if the log record is emitted."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable):
        self.fn = fn

    def __str__(self) -> str:
        return function_name(self.fn)


def _source_file(fn: Callable) -> str | None:
    code = getattr(getattr(fn, "__wrapped__", fn), "__code__", None)
    return code.co_filename if code is not None else None


def promote(path: str, to: "Store | str", from_: "Store | str | None" = None) -> "Promoted":
    """Copy ``path``'s value, metadata and ref from the current store (or ``from_``) to ``to`` (a store, an
    fsspec URL such as ``"s3://team-bucket/dds"``, or a local store's folder): byte for byte, verified against
    the source's checksums, and idempotent. Returns ``(path, signature, copied)``."""
    from .store.promote import promote as copy

    return copy(path, open_store(from_) if from_ is not None else get_store(), open_store(to))


def eval(fn, *args, dds_export_graph=None, dds_extra_debug=False, dds_dont_eval=False, dds_stages=None,
         **kwargs):  # noqa: A001 - the name is dds_py's public API
    """Run the pipeline ``fn(*args, **kwargs)`` after planning it: find every keep/data function it reaches,
    compute their signatures, and run only what is stale.

    ``dds_dont_eval=True`` is a dry run: nothing runs, and the :class:`dds.pipeline.plan.Plan` (which paths would
    run and why) is returned. ``dds_export_graph="pipeline.svg"`` (or .png/.dot) draws the pipeline.
    ``dds_stages`` selects stages (``"analysis"``, ``"path_loading"``, ``"eval"``). Returns what ``fn``
    returns (the plan in a dry run).
    """
    from .pipeline.evaluate import evaluate

    return evaluate(fn, args, kwargs, export_graph=dds_export_graph, extra_debug=dds_extra_debug,
                    dont_eval=dds_dont_eval, stages=dds_stages)
