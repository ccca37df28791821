"""The ``memory`` store: this process only, for tests and notebooks that should leave no files.

fsspec's MemoryFileSystem is one dict shared by every instance, so each store lives under its own random
root and is dropped from that dict when the store object is garbage collected. No view for people.
"""

from __future__ import annotations

import uuid
import weakref

from .fs_store import FsStore


class MemoryStore(FsStore):
    kind = "memory"

    def __init__(self) -> None:
        from fsspec.implementations.memory import MemoryFileSystem

        fs = MemoryFileSystem()
        super().__init__(fs, f"/dds-memory-{uuid.uuid4().hex}")
        weakref.finalize(self, _drop, fs, self.root)

    def describe(self) -> str:
        return "memory store (this process only)"


def _drop(fs, root: str) -> None:
    try:
        fs.rm(root, recursive=True)
    except (FileNotFoundError, OSError):
        pass
