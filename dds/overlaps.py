"""Refuse overlapping store paths (``/f`` and ``/f/g``) before any function runs.

A store path is either a value or a group of values, never both (on a file system ``/f`` cannot be a file
and a folder). The store refuses such a ref when it is written, but by then the function has run; this
module answers the question beforehand, for ``keep`` (one new path) and ``eval``'s plan (all its paths).

Only a path that holds no value yet can overlap (the store never lets two overlapping refs exist), so a
warm ``keep`` never gets here. Ancestors are checked exactly with ``get_ref`` (one small read per level);
descendants against the store's ref paths, listed once per store and process and kept sorted, then kept
up to date by this process's own writes. A path listed but since removed is re-checked before refusing,
so a refusal is always true; a ref another process writes after the listing is still refused by the
store itself when the ref is written.
"""

from __future__ import annotations

import bisect
import threading
from typing import Any, Iterable

from .errors import OverlappingPathError
from .paths import descendant_range, overlap_of

_lock = threading.Lock()
_listed: dict[int, tuple[Any, list[str]]] = {}  # id(store) -> (store, sorted paths that hold a value)
_running = threading.local()  # .paths: paths whose function runs now on this thread, outermost first


def check_new_path(store: Any, path: str, function: str) -> None:
    """Raise :class:`OverlappingPathError` if ``path`` (which holds no value yet) overlaps a path that holds
    one in ``store``, or a path whose function is running on this thread (a keep nested in another's)."""
    running = getattr(_running, "paths", ())
    for other in running:
        if other == path:
            continue
        if path.startswith(other + "/") or other.startswith(path + "/"):
            raise _error(path, function, other, "is being computed now (this keep runs inside its function)")
    end = path.rfind("/")
    while end > 0:
        prefix = path[:end]
        if store.get_ref(prefix) is not None:
            raise _error(path, function, prefix, "already holds a value")
        end = path.rfind("/", 0, end)
    below = _first_below(store, path)
    if below is not None:
        raise _error(path, function, below, "already holds a value")


def check_plan(store: Any, paths: Iterable[str], functions: dict[str, str], new: set[str]) -> None:
    """Refuse a plan whose paths overlap each other, or whose ``new`` paths (no value stored yet) overlap
    the store's paths. ``functions`` maps each path to its function's name, for the message."""
    planned = set(paths)
    for path in sorted(planned):
        ancestor = overlap_of(path, planned)
        if ancestor is not None:
            raise _error(path, functions.get(path, "?"), ancestor,
                         f"is kept by the same pipeline ({functions.get(ancestor, '?')})", planned=True)
    for path in sorted(new):
        check_new_path(store, path, functions.get(path, "?"))


def remember(store: Any, path: str) -> None:
    """``path`` now holds a value in ``store`` (called after this process wrote its ref)."""
    listed = _listed.get(id(store))
    if listed is None or listed[0] is not store:
        return  # not listed yet: the listing, when made, will include it
    with _lock:
        paths = listed[1]
        i = bisect.bisect_left(paths, path)
        if i == len(paths) or paths[i] != path:
            paths.insert(i, path)


class running:
    """Context manager: ``path``'s function runs on this thread (nested keeps are checked against it)."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> None:
        stack = getattr(_running, "paths", None)
        if stack is None:
            stack = _running.paths = []
        stack.append(self.path)

    def __exit__(self, *exc: object) -> None:
        _running.paths.pop()


def forget() -> None:
    """Drop every listing (tests; a store whose refs were changed behind dds's back)."""
    with _lock:
        _listed.clear()


def _first_below(store: Any, path: str) -> str | None:
    """A path below ``path`` that holds a value, or None; stale entries of the listing are dropped."""
    paths = _paths_of(store)
    lo, hi = descendant_range(path)
    while True:
        with _lock:
            i = bisect.bisect_left(paths, lo)
            candidate = paths[i] if i < len(paths) and paths[i] < hi else None
        if candidate is None:
            return None
        if store.get_ref(candidate) is not None:
            return candidate
        with _lock:  # removed since the listing: drop it and look again
            j = bisect.bisect_left(paths, candidate)
            if j < len(paths) and paths[j] == candidate:
                del paths[j]


def _paths_of(store: Any) -> list[str]:
    listed = _listed.get(id(store))
    if listed is not None and listed[0] is store:
        return listed[1]
    try:  # every ref file, damaged ones too: a damaged ref still occupies its path
        paths = sorted(p for p, _where, _sig, _problem in store.iter_ref_entries())
    except NotImplementedError:
        paths = sorted(p for p, _sig in store.iter_refs())
    with _lock:
        listed = _listed.get(id(store))
        if listed is not None and listed[0] is store:
            return listed[1]
        _listed[id(store)] = (store, paths)
    return paths


def _error(path: str, function: str, other: str, what: str, planned: bool = False) -> OverlappingPathError:
    if other.startswith(path + "/"):
        relation, fix = (f"{other}, below it,", f"keep {path} under a name that is not a group, such as "
                         f"{path + '_value'!r}, or move {other} elsewhere")
    else:
        relation, fix = (f"{other}, above it,", f"keep {path} under a name outside {other}, such as "
                         f"{other + '_' + path[len(other) + 1:].replace('/', '_')!r}, or move {other} elsewhere")
    where = "Nothing ran" if planned else "Its function did not run"
    return OverlappingPathError(
        f"Cannot keep {path} ({function}): {relation} {what}, and a store path cannot be both a value and a "
        f"group of values. {where} and nothing was stored; what the store holds is unchanged. Fix: {fix}.",
        paths=(path, other),
    )
