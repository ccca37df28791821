"""Values this process already holds for a signature, so a warm ``keep`` need not read the store again.

Only values that cannot change after ``keep`` returned them are held: ``None``, numbers, ``str``,
``bytes``, dates and the like, and tuples/frozensets of those, up to 1 MiB each. A list, a dict, an array
or a DataFrame could be mutated by the caller, so those are read from the store on every call: every
``keep`` returns exactly what ``fn`` returned, never an object someone changed since.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import sys
import threading
import uuid
from collections import OrderedDict
from typing import Any

_MAX_BYTES = 1 << 20
_MAX_ENTRIES = 4096
_SCALARS = frozenset({type(None), bool, int, float, complex, str, bytes, range, datetime.datetime, datetime.date,
                      datetime.time, datetime.timedelta, decimal.Decimal, fractions.Fraction, uuid.UUID})

_held: OrderedDict[tuple[int, str], tuple[Any, Any]] = OrderedDict()  # (id(store), sig) -> (store, value)
_lock = threading.Lock()


def remember(store: Any, sig: str, value: Any) -> None:
    """Hold ``value`` as the value of ``sig`` in ``store`` if it is immutable and small."""
    if _size_if_immutable(value, _MAX_BYTES) is None:
        return
    with _lock:
        _held[(id(store), sig)] = (store, value)
        _held.move_to_end((id(store), sig))
        while len(_held) > _MAX_ENTRIES:
            _held.popitem(last=False)


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
    if tp in _SCALARS:
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
