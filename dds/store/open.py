"""The one rule for which store a name means, shared by ``dds.keep``, every ``dds`` command and
``dds.promote``.

* ``kind``: given, else ``$DDS_STORE``, else ``local``; a location that is a URL (``s3://bucket/dds``,
  ``file:///abs/dir``, ``memory://x``) makes a ``local`` kind ``fsspec``.
* ``location``: given (``--store``, ``set_store(internal_dir=...)``, ``promote(to=...)``), else ``$DDS_DIR``,
  else the kind's default (``./.dds`` for ``local``).
* ``fsspec`` takes the location as its ``url``; every other kind as its ``internal_dir``; ``memory`` none.

Knows nothing of signatures, pipelines or the command line.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import StoreError
from .base import Store
from .registry import create_store

DEFAULT_LOCAL_DIR = os.path.join(".", ".dds")


def resolve(kind: str | None = None, location: str | os.PathLike | None = None) -> tuple[str, str | None]:
    """``(kind, location)`` after the defaults and the environment are applied (see the module's rule)."""
    if location is None:
        location = os.environ.get("DDS_DIR") or None
    location = os.fspath(location) if location is not None else None
    kind = kind or os.environ.get("DDS_STORE") or "local"
    if kind == "local" and location is not None and "://" in location:
        kind = "fsspec"
    return kind, location


def open_store(location: str | os.PathLike | Store | None = None, kind: str | None = None, *,
               must_exist: bool = False, reachable: bool = False, **options: Any) -> Store:
    """The store ``location`` names under the module's rule (a Store object is returned as it is).

    ``must_exist``: a local store's folder must exist already (commands that only read it: a typo is an
    error, not a new empty store). ``reachable``: an object store's bucket is checked now (``dds run``).
    ``options`` go to the store's constructor.
    """
    if isinstance(location, Store):
        return location
    kind, location = resolve(kind, location)
    if kind == "memory":
        return create_store("memory", **options)
    if kind == "fsspec":
        store = create_store("fsspec", url=location, **options)
        if reachable:
            store.check_reachable()
        return store
    if must_exist and kind == "local" and not os.path.isdir(location or DEFAULT_LOCAL_DIR):
        raise StoreError(
            f"There is no dds store at {os.path.abspath(location or DEFAULT_LOCAL_DIR)}. Fix: pass the store "
            "your pipeline uses, e.g. `--store path/to/.dds`, or set DDS_DIR to it."
        )
    return create_store(kind, internal_dir=location, **options)
