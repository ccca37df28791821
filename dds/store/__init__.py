"""Stores: where values and refs are kept. Knows nothing of signatures, ASTs or pipelines.

``base.Store`` is the protocol (blobs and refs); ``fs_store.FsStore`` implements it over a file system's
primitives, which ``local``, ``fsspec_store``, ``dbfs`` and ``memory`` provide; ``registry`` names the kinds
and ``open`` is the one rule for which store ``DDS_STORE``/``DDS_DIR``/``--store``/a URL means.
"""

from .base import Store
from .dbfs import DbfsStore
from .fs_store import FsStore
from .fsspec_store import FsspecStore
from .maintainable import MaintainableStore
from .local import LocalStore
from .memory import MemoryStore
from .open import open_store
from .registry import create_store, known_stores, register_store

__all__ = [
    "Store", "MaintainableStore", "FsStore", "LocalStore", "MemoryStore", "FsspecStore", "DbfsStore",
    "create_store", "open_store", "register_store", "known_stores",
]
