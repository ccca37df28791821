"""Refuse overlapping store paths (``/f`` and ``/f/g``) before any function runs.

A store path is either a value or a group of values, never both (on a file system ``/f`` cannot be a file
and a folder). The store refuses such a ref when it is written, but by then the function has run; this
module answers the question beforehand, for ``keep`` (one new path) and ``eval``'s plan (all its paths).

Only a path that holds no value yet can overlap (the store never lets two overlapping refs exist), so a
warm ``keep`` never gets here. Ancestors are checked with ``get_ref`` (one small read per level), and
descendants with ``store.paths_below`` (one listing of the path's own group folder): the cost does not grow
with the store, and every answer is read from the store now, so nothing cached can go stale.
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import OverlappingPathError, PathError
from ..paths import overlap_of, validate_path

_running = threading.local()  # .paths: paths whose function runs now on this thread, outermost first


def check_new_path(store: Any, path: str, function: str) -> None:
    """Raise :class:`OverlappingPathError` if ``path`` (which holds no value yet) overlaps a path that holds
    one in ``store``, or a path whose function is running on this thread (a keep nested in another's)."""
    for other in getattr(_running, "paths", ()):
        if path.startswith(other + "/") or other.startswith(path + "/"):
            raise _error(path, function, other, "is being computed now (this keep runs inside its function)")
    end = path.rfind("/")
    while end > 0:
        prefix = path[:end]
        if store.get_ref(prefix) is not None:
            raise _error(path, function, prefix, "already holds a value")
        end = path.rfind("/", 0, end)
    for below in store.paths_below(path):
        raise _error(path, function, below, "already holds a value")


def check_plan(store: Any, functions: dict[str, str]) -> None:
    """Refuse a plan whose paths (``functions``: each path to its function's name) overlap each other, or
    whose paths that hold no value yet overlap the store's. A malformed path is left to the keep that would
    use it: refusing it here would fail a pipeline whose run never reaches that keep."""
    planned = set()
    for path in functions:
        try:
            planned.add(validate_path(path))
        except PathError:
            continue
    for path in sorted(planned):
        ancestor = overlap_of(path, planned)
        if ancestor is not None:
            raise _error(path, functions[path], ancestor, f"is kept by the same pipeline ({functions[ancestor]})",
                         planned=True)
    for path in sorted(planned):
        if store.get_ref(path) is None:
            check_new_path(store, path, functions[path])


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


def _error(path: str, function: str, other: str, what: str, planned: bool = False) -> OverlappingPathError:
    if other.startswith(path + "/"):
        relation, fix = (f"{other}, below it,", f"keep {path} under a name that is not a group, such as "
                         f"{path + '_value'!r}, or move {other} elsewhere")
    else:
        renamed = other + "_" + path[len(other) + 1:].replace("/", "_")
        relation, fix = (f"{other}, above it,", f"keep {path} under a name outside {other}, such as "
                         f"{renamed!r}, or move {other} elsewhere")
    where = "Nothing ran" if planned else "Its function did not run"
    return OverlappingPathError(
        f"Cannot keep {path} ({function}): {relation} {what}, and a store path cannot be both a value and a "
        f"group of values. {where} and nothing was stored; what the store holds is unchanged. Fix: {fix}.",
        paths=(path, other),
    )
