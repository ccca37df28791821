"""Which kept path an argument of a ``keep`` came from, so ``dds show`` can name a value's upstream.

The signature hashes arguments by content and so does not say where they came from. This process remembers,
for the latest value each path returned, the object itself (weakly where the type allows, strongly only for
the one latest value of a path otherwise); a later ``keep`` receiving that very object records the path in
its metadata (``arguments_from``). Numbers, strings and other scalars are not tracked: equal ones are often
the same object, so their identity says nothing about where they came from.
"""

from __future__ import annotations

import weakref
from typing import Any

from .. import forks

_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_by_id: dict[int, tuple[Any, str]] = {}  # id(value) -> (a reference to it, the path that returned it)
_latest: dict[str, int] = {}  # path -> id of the value it returned last
_lock = forks.lock()  # free in a child forked while another thread held it


def remember(path: str, value: Any) -> None:
    """``value`` is what ``keep`` returned for ``path``."""
    if isinstance(value, _SCALARS):
        return
    known = _by_id.get(id(value))
    if known is not None and known[1] == path and known[0]() is value:
        return  # a warm keep handing out the value it handed out last time: already remembered
    try:
        ref: Any = weakref.ref(value)
    except TypeError:
        ref = lambda value=value: value  # noqa: E731 - the latest value of the path only, held until replaced
    with _lock:
        old = _latest.pop(path, None)
        if old is not None and _by_id.get(old, (None, ""))[1] == path:
            del _by_id[old]
        _by_id[id(value)] = (ref, path)
        _latest[path] = id(value)


def sources(args: tuple, kwargs: dict) -> list[str]:
    """The kept paths the arguments (top level) are the returned values of, in argument order."""
    found: list[str] = []
    for value in list(args) + list(kwargs.values()):
        entry = _by_id.get(id(value))
        if entry is not None and entry[0]() is value and entry[1] not in found:
            found.append(entry[1])
    return found
