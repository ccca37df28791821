"""``dds.ignore``: state the user declares is not an input, for what the write-only rule cannot prove.

A global that code only writes to (a log list, a counter, a metrics dict) is recognised by itself (see
writes.py). State that is also read for purposes that never change results, such as a cache or a progress
object whose value is printed, cannot be told apart from an input; ``dds.ignore`` says so explicitly. An
ignored value contributes its name, never its content, to every signature that reads it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ..errors import ArgumentError
from .probes import invalidate_all

T = TypeVar("T")

_names: set[str] = set()  # "module.NAME" of ignored globals
_objects: dict[int, Any] = {}  # id -> the ignored object itself (held, so the id stays its own)


def ignore(target: T) -> T:
    """Never hash ``target``'s content: ``dds.ignore("pkg.module.NAME")`` for a module global, or
    ``CACHE = dds.ignore({})`` for an object. Returns ``target``. Only for state whose value cannot change
    what any kept function returns: dds then cannot notice when it does."""
    if isinstance(target, str):
        module, _, name = target.rpartition(".")
        if not module or not name or not all(part.isidentifier() for part in target.split(".")):
            raise ArgumentError(
                f"dds.ignore({target!r}): a name must be the global's module and name, for example "
                "dds.ignore('mypackage.tracking.RAN'); or pass the object itself: RAN = dds.ignore([])."
            )
        _names.add(target)
    else:
        _objects[id(target)] = target
    invalidate_all()
    return target


def is_ignored(value: Any, qualified: str | None) -> bool:
    """Whether ``value``, read as the global ``qualified`` (``module.NAME``, or None), is ignored."""
    if not _names and not _objects:
        return False
    return _objects.get(id(value), _NOT) is value or (qualified is not None and qualified in _names)


def forget() -> None:
    """Ignore nothing again (tests)."""
    _names.clear()
    _objects.clear()
    invalidate_all()


_NOT = object()
