"""Locks a forked child finds free: dds's state stays usable after ``os.fork``.

Why: ``fork`` copies only the thread that calls it. A lock that another thread held at that moment (the
local store's sync timer, a ``keep`` running in a thread pool) stays held in the child with no thread left
to release it, and the child's next ``keep`` waits on it forever. Linux's ``multiprocessing`` forks by
default, at any moment. So every lock dds's threads take is made with :func:`lock`, and a child frees those
it inherited held; state that belongs to threads (timers, flush threads) is dropped by the module owning it
(``os.register_at_fork(after_in_child=...)``), as those threads do not exist in the child.

Freeing instead of taking the locks before the fork: a fork never waits for dds, and each of these locks is
held only over a few dictionary updates (each one whole under the GIL) or the start of a timer thread, so
what it guards is usable in the child. Not for a lock held while user code runs (the per-signature locks):
the forking thread may be the one holding it.
"""

from __future__ import annotations

import os
import threading
import weakref

_locks: weakref.WeakSet = weakref.WeakSet()


def lock() -> threading.Lock:
    """A ``threading.Lock`` that is free in a forked child (never take it across a fork in the same thread)."""
    made = threading.Lock()
    _locks.add(made)
    return made


def _free_locks_in_child() -> None:
    for held in list(_locks):
        if held.locked():
            held.release()  # its holder was another thread, which the child does not have


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_free_locks_in_child)
