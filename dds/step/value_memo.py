"""Values this process already holds for a signature, so a warm ``keep`` need not read the store again.

Only values that cannot change after ``keep`` returned them are held: ``None``, numbers, ``str``,
``bytes``, dates and the like, and tuples/frozensets of those, up to 1 MiB each. A list, a dict, an array
or a DataFrame could be mutated by the caller, so those are read from the store on every call: every
``keep`` returns exactly what ``fn`` returned, never an object someone changed since.

How many values are held is ``dds.set_store(..., cache_objects=N)`` (dds_py's option): see :func:`bound`.
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from typing import Any

from .. import forks
from ..signature.probes import IMMUTABLE

_MAX_BYTES = 1 << 20
DEFAULT_ENTRIES = 4096

_held: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()  # (id(store), sig) -> (store, value)
_lock = forks.lock()  # free in a child forked while another thread held it
_capacity: int | None = DEFAULT_ENTRIES  # None: no bound


def bound(cache_objects: bool | int | None) -> None:
    """Set how many values are held, with dds_py's meanings of ``cache_objects``.

    ``None`` or ``True``: the default (4096); ``False`` or ``0``: none (every warm ``keep`` reads the
    store); a positive ``N``: at most ``N``, the longest held dropped first; negative: no bound.
    Whatever the bound, only immutable values are held (see the module docstring).
    """
    global _capacity
    if cache_objects is None or cache_objects is True:
        capacity: int | None = DEFAULT_ENTRIES
    elif cache_objects is False:
        capacity = 0
    elif isinstance(cache_objects, int):
        capacity = None if cache_objects < 0 else cache_objects
    else:
        from ..errors import ArgumentError

        raise ArgumentError(
            f"dds.set_store(cache_objects={cache_objects!r}): expected None, True, False or an int (0: hold no "
            f"values; N > 0: at most N; negative: no bound). Fix: dds.set_store(..., cache_objects=100)."
        )
    with _lock:
        _capacity = capacity
        _trim()


def capacity() -> int | None:
    """The current bound (None: no bound)."""
    return _capacity


def _trim() -> None:
    if _capacity is not None:
        while len(_held) > _capacity:
            _held.popitem(last=False)


def remember(store: Any, sig: str, value: Any) -> None:
    """Hold ``value`` as the value of ``sig`` in ``store`` if it is immutable and small."""
    if _capacity == 0 or _size_if_immutable(value, _MAX_BYTES) is None:
        return
    with _lock:
        _held[(id(store), sig)] = (store, value)
        _held.move_to_end((id(store), sig))
        _trim()


def recall(store: Any, sig: str) -> tuple[bool, Any]:
    """(True, value) if this process holds the value of ``sig`` in ``store``."""
    held = _held.get((id(store), sig))
    if held is None or held[0] is not store:
        return False, None
    return True, held[1]


def forget() -> None:
    """Drop every held value (tests; a store whose contents were replaced behind dds's back)."""
    with _lock:
        _held.clear()


def _size_if_immutable(value: Any, budget: int) -> int | None:
    """Approximate size of an immutable value, or None if it is mutable (or larger than ``budget``)."""
    tp = type(value)
    if tp in IMMUTABLE:
        size = sys.getsizeof(value)
        return size if size <= budget else None
    if tp is tuple or tp is frozenset:
        total = sys.getsizeof(value)
        for item in value:
            size = _size_if_immutable(item, budget - total)
            if size is None:
                return None
            total += size
        return total if total <= budget else None
    return None
