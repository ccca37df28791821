"""The small protocol every dds store implements.

A store holds two things:

* **blobs**, content addressed by signature: ``write(sig, value, meta)`` stores a value once, together with
  its metadata; a blob is never modified afterwards. The metadata file is written last, so its presence is
  the commit point: a blob without metadata is an unfinished write and is never read.
* **refs**, path addressed for people: ``set_ref(path, sig)`` makes a store path (``/group/name``) point
  at a blob, replacing the previous pointer atomically.

Stores know nothing about functions or ASTs; the signature is an opaque hex string to them. Listing and
deleting a store's parts (what ``dds gc`` and ``dds verify`` need) is a separate protocol,
``MaintainableStore`` in maintainable.py, so a store does not have to offer it to be complete.
"""

from __future__ import annotations

import abc
import contextlib
from typing import Any, ContextManager, Iterator


class Store(abc.ABC):
    """Abstract store. Implementations: ``local`` (a directory), ``memory`` (this process only)."""

    kind: str = "abstract"

    @abc.abstractmethod
    def read_meta(self, sig: str) -> dict | None:
        """The committed metadata of blob ``sig``, or None if no complete blob has that signature.

        Raises DamagedDataError if the metadata file exists but cannot be parsed.
        """

    @abc.abstractmethod
    def write(self, sig: str, value: Any, meta: dict) -> dict:
        """Store ``value`` as blob ``sig`` and return the committed metadata.

        The codec is chosen from the value's type; the returned metadata is ``meta`` plus the store's own
        fields (``codec``, ``files`` with sizes and checksums, ``stored_at``). Atomic: after a crash either
        the complete blob and its metadata exist, or ``read_meta(sig)`` returns None.
        """

    @abc.abstractmethod
    def read(self, sig: str, meta: dict | None = None) -> Any:
        """Decode blob ``sig``, verifying sizes and checksums first (DamagedDataError when they differ)."""

    @abc.abstractmethod
    def get_ref(self, path: str) -> str | None:
        """The signature ``path`` points to, or None."""

    @abc.abstractmethod
    def set_ref(self, path: str, sig: str) -> None:
        """Point ``path`` at blob ``sig`` (and refresh the human-readable view), atomically."""

    def ref_history(self, path: str) -> list[str]:
        """The signatures ``path`` pointed to before its current one, most recent first (what ``why``
        compares with). Stores that keep no history return []."""
        return []

    @abc.abstractmethod
    def iter_refs(self) -> Iterator[tuple[str, str]]:
        """Every ``(path, sig)`` pair, in path order."""

    def paths_below(self, path: str) -> Iterator[str]:
        """Store paths strictly below ``path`` that hold a value (``/f/g`` for ``/f``): what makes ``path`` a
        group. This default filters every ref; stores that can list one group's refs override it."""
        prefix = path + "/"
        return (p for p, _sig in self.iter_refs() if p.startswith(prefix))

    def lock(self, sig: str) -> ContextManager[Any]:
        """Held while one process computes ``sig``, so concurrent ``keep`` calls of the same signature run
        the function once (the fsspec store: a lease across machines where the file system can create a file
        atomically, e.g. S3). Stores without locks return a no-op: their write-once blobs make a concurrent
        duplicate computation harmless, only wasteful."""
        return contextlib.nullcontext()

    def planning(self) -> ContextManager[None]:
        """Held while ``dds.eval`` plans: a store that pays per request (S3) reads each ref and metadata file
        once while it is held, and may keep the metadata it found for the run's next read of it. The default
        changes nothing."""
        return contextlib.nullcontext()

    def refresh_view(self, path: str, sig: str, meta: dict | None = None) -> None:
        """Make the view for people of ``path`` show blob ``sig`` if it does not (stores without a view: nothing).
        ``meta``: the blob's metadata when the caller has it already (saves reading it again)."""

    def describe(self) -> str:
        """A short human description used in error messages, e.g. ``local store at ./.dds``."""
        return f"{self.kind} store"

    # Pins: values ``gc`` keeps whatever refs say (another user's pipeline may need them).
    def pin(self, path: str, sig: str) -> bool:
        """Keep blob ``sig`` through every ``gc`` while it is pinned at ``path``; False if it already was."""
        from ..errors import StoreError

        raise StoreError(f"The {self.describe()} cannot pin values.")

    def unpin(self, path: str) -> list[str]:
        """Remove every pin of ``path``; returns the signatures that were pinned."""
        return []

    def pins(self, path: str) -> list[str]:
        """The signatures pinned at ``path``, most recent first."""
        return []

    def iter_pins(self) -> Iterator[tuple[str, str]]:
        """Every ``(path, pinned signature)``."""
        return iter(())
