"""Store registry: ``create_store(kind, **options)`` builds a store by name.

Built-in kinds: ``local`` (a directory, default ``./.dds``), ``memory`` (this process only), ``fsspec`` (any
fsspec URL: ``s3://``, ``file://``, ...) and ``dbfs`` (Databricks' ``/dbfs`` mount). A new kind is one module
with a ``Store`` subclass plus one ``register_store`` line.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from ..errors import StoreError
from .base import Store
from .dbfs import DbfsStore
from .fs_store import FsStore
from .fsspec_store import FsspecStore
from .maintainable import MaintainableStore
from .local import LocalStore
from .memory import MemoryStore

__all__ = [
    "Store", "MaintainableStore", "FsStore", "LocalStore", "MemoryStore", "FsspecStore", "DbfsStore",
    "create_store", "register_store", "known_stores",
]

_factories: dict[str, Callable[..., Store]] = {
    "local": LocalStore,
    "memory": MemoryStore,
    "fsspec": FsspecStore,
    "dbfs": DbfsStore,
}


def register_store(kind: str, factory: Callable[..., Store]) -> None:
    """Make ``create_store(kind, **options)`` call ``factory(**options)`` (replaces a previous ``kind``)."""
    if not isinstance(kind, str) or not kind:
        raise StoreError(f"register_store: the kind must be a non-empty str, not {kind!r}.")
    if not callable(factory):
        raise StoreError(f"register_store({kind!r}, ...): the factory {factory!r} is not callable.")
    _factories[kind] = factory


def known_stores() -> list[str]:
    return sorted(_factories)


def create_store(kind: str = "local", **options: Any) -> Store:
    """A new store of ``kind``. Options set to None are left out, so callers can pass their defaults."""
    factory = _factories.get(kind)
    if factory is None:
        raise StoreError(
            f"Unknown store kind {kind!r}; known kinds: {', '.join(known_stores())}. "
            f"Add one with dds.store.register_store(kind, factory)."
        )
    options = {k: v for k, v in options.items() if v is not None}
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise StoreError(f"The {kind!r} store does not accept the options {sorted(options)}: {exc}.") from None
    except ValueError:  # no introspectable signature (some builtins): let the call decide
        pass
    return factory(**options)
