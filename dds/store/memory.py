"""The ``memory`` store: this process only, for tests and notebooks that should leave no files.

fsspec's MemoryFileSystem is one dict shared by every instance, so each store lives under its own random
root and is dropped from that dict when the store object is garbage collected. No view for people.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import defaultdict

from .fs_store import FsStore


class MemoryStore(FsStore):
    kind = "memory"

    def __init__(self) -> None:
        from fsspec.implementations.memory import MemoryFileSystem

        fs = MemoryFileSystem()
        super().__init__(fs, f"/dds-memory-{uuid.uuid4().hex}")
        weakref.finalize(self, _drop, fs, self.root)
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def describe(self) -> str:
        return "memory store (this process only)"

    def lock(self, sig: str) -> threading.Lock:
        """Threads of this process keeping the same signature compute it once."""
        with self._locks_guard:
            return self._locks[sig]


def _drop(fs, root: str) -> None:
    try:
        fs.rm(root, recursive=True)
    except (FileNotFoundError, OSError):
        pass
