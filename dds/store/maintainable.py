"""The maintenance protocol: what a store offers beyond ``Store`` so that ``dds gc`` and ``dds verify`` can
clean and check it.

``Store`` (base.py) is what ``keep`` and ``load`` need: blobs and refs. Listing every part of a store and
deleting parts of it is a separate ability, declared here, so a store that cannot list itself is still a
complete store; ``gc`` and ``verify`` ask for this protocol (``require``) and say clearly what is missing
instead of failing half-way. Every built-in store implements it through ``FsStore``.

Must not import anything of dds above ``store/`` (no signatures, no ASTs).
"""

from __future__ import annotations

import abc
from typing import Iterator

from ..errors import StoreError
from .base import Store


class MaintainableStore(Store):
    """A store that can list and delete its own parts (what ``gc`` and ``verify`` walk).

    Listings are iterators, so a store of a million values can be walked without holding it in memory.
    """

    #: How many ``delete_blob`` calls ``gc`` may run at once (threads): more than 1 only where deleting is
    #: thread-safe and mostly waiting (a local disk, an object store).
    delete_workers: int = 1

    @abc.abstractmethod
    def iter_ref_entries(self) -> Iterator[tuple[str, str, str | None, str | None]]:
        """Every ref as ``(path, where, sig, problem)``, in path order: unlike ``iter_refs``, a damaged ref is
        reported (``sig`` None, ``problem`` says why) instead of raised, so ``verify`` can list them all."""

    @abc.abstractmethod
    def iter_blob_sigs(self) -> Iterator[str]:
        """Every committed signature (blobs with metadata), sorted."""

    @abc.abstractmethod
    def iter_blob_dirs(self) -> Iterator[str]:
        """Every signature with a blob folder, committed or not (an unfinished write has no metadata), sorted."""

    @abc.abstractmethod
    def iter_temp(self) -> Iterator[str]:
        """Every leftover the store may hold besides blobs (temporaries; full names, for ``entry_usage``)."""

    @abc.abstractmethod
    def entry_usage(self, where: str) -> tuple[int, float | None]:
        """``(bytes, newest modification time)`` of a file or folder of the store; time None if unknown or gone
        (``gc`` treats unknown age as young)."""

    @abc.abstractmethod
    def remove_entry(self, where: str) -> None:
        """Delete a file or folder of the store (a temporary or a blob), if it exists."""

    @abc.abstractmethod
    def delete_blob(self, sig: str) -> None:
        """Delete blob ``sig``: metadata first (un-committing it), then its files. Refs are not checked."""

    # where things are, named in what gc and verify report
    @abc.abstractmethod
    def blob_dir(self, sig: str) -> str:
        """The folder (or prefix) holding blob ``sig``'s files."""

    @abc.abstractmethod
    def meta_file(self, sig: str) -> str:
        """The metadata file of blob ``sig``."""

    @abc.abstractmethod
    def ref_file(self, path: str) -> str:
        """The file holding the ref of store path ``path``."""

    @abc.abstractmethod
    def verify(self, sig: str, meta: dict) -> None:
        """Check every file of blob ``sig`` against ``meta`` (DamagedDataError naming the problem)."""


#: The methods ``require`` checks, in the order its error message lists them.
METHODS = tuple(sorted(MaintainableStore.__abstractmethods__ - Store.__abstractmethods__))


def require(store: Store, command: str) -> MaintainableStore:
    """``store`` itself if it can be maintained (a ``MaintainableStore``, or any object with all of its methods);
    else a StoreError that names the store, what ``command`` needs and how to get it."""
    if isinstance(store, MaintainableStore):
        return store
    missing = [name for name in METHODS if not callable(getattr(store, name, None))]
    if not missing:
        return store  # type: ignore[return-value]  # implements the protocol without subclassing it
    describe = getattr(store, "describe", None)
    name = describe() if callable(describe) else f"{type(store).__name__} store"
    raise StoreError(
        f"`dds {command}` cannot work on the {name}: it cannot list and delete its own parts (it lacks "
        f"{', '.join(missing)} of dds.store.MaintainableStore). Fix: use a store kind that can (local, memory, "
        f"fsspec, dbfs), or make {type(store).__name__} a subclass of dds.store.MaintainableStore and "
        f"implement those methods."
    )
