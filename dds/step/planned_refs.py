"""The refs ``dds.eval``'s plan read, which the keeps of that same eval may trust for their own path.

An eval plans first: it reads each step's ref (and metadata) once. Without this, each step's ``keep`` then
reads its path's ref again, only to find what the plan found: one request per step on S3. So while the
eval's pipeline runs, a ``keep`` whose signature is exactly the one its path pointed at when planned takes
the plan's answer instead (``take``): only the first keep of each path, on the eval's thread, for the eval's
store (a later keep of the same path may follow one of this eval that moved it).

What that changes: another process that moves the path between plan and run is not seen by that keep, so
the keep returns this code's value (always the value of its own signature: never stale data) and leaves the
path where the other process put it, instead of moving it back. Right after any read of a ref the same race
exists (the other process may move the path a moment after the keep read it); the plan only widens the
window from one keep to one eval. Never used for a ``dds.load(...)`` read inside a signature: there the ref
read and the value the step's code then loads must agree, and an old ref would make a signature name other
data than the step reads.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator

_state = threading.local()  # .store, .refs: the running eval's (this thread's)


@contextmanager
def trusted(store: Any, refs: dict[str, str]) -> Iterator[None]:
    """While held (the run of one eval, on this thread): ``take`` answers from ``refs`` (path -> the signature
    its ref held when the plan read it) for ``store``."""
    saved = (getattr(_state, "store", None), getattr(_state, "refs", None))
    _state.store, _state.refs = store, dict(refs)
    try:
        yield
    finally:
        _state.store, _state.refs = saved


def take(store: Any, path: str, sig: str) -> bool:
    """True when the running eval's plan found ``path`` pointing at exactly ``sig`` in ``store``: the caller's keep
    may use ``sig`` as the path's current ref without reading it again. Only the first keep of each path asks
    the plan (whatever its answer): a later keep of the same path in the same eval may follow one that moved it."""
    refs = getattr(_state, "refs", None)
    if not refs or _state.store is not store:
        return False
    return refs.pop(path, None) == sig
