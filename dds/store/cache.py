"""A local cache of a remote store's blobs: read a value from local disk instead of the network.

Blobs are write-once and named by signature, so a cached copy can never be stale: the only question is
whether it is intact, and that is checked against the checksums of the metadata before a byte is decoded. A
damaged or missing copy is fetched again. The committed metadata of each value read or written is kept too
(``.dds-meta.json`` in its folder): ``dds.eval``'s plan reads it instead of the store's copy (one request per
step saved; see ``FsspecStore.read_meta``), everything else reads metadata from the remote. Layout::

    <directory>/<store key>/<sig>/<file>             copies, under the same relative names as in blobs/<sig>/
    <directory>/<store key>/<sig>/.dds-meta.json     the value's committed metadata, as the store last gave it
    <directory>/tmp/                                 downloads in progress (renamed into place once checksummed)

The bound is kept by LRU: a blob's folder gets a fresh modification time whenever it is read, and the oldest
folders are deleted until the cache fits. A folder used within the last minute is never deleted (another
process sharing the cache may be about to open it), so the cache can exceed its bound for that long.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import time
from typing import Any, BinaryIO, Callable

from . import atomic, checksums

log = logging.getLogger("dds.store")

DEFAULT_BYTES = 10 * 2**30
META_NAME = ".dds-meta.json"  # never a blob file's name: fsspec blobs' files are below w-<random>/
_IN_USE_S = 60.0
_CHUNK = 1 << 20


class BlobCache:
    def __init__(self, directory: str, max_bytes: int, store_key: str) -> None:
        self.directory = os.path.abspath(os.path.expanduser(directory))
        self.max_bytes = int(max_bytes)
        self.root = os.path.join(self.directory, hashlib.sha256(store_key.encode()).hexdigest()[:16])
        self.hits = self.misses = 0  # files served from disk / fetched (for tests, bench and debugging)
        self._meta_added = 0  # bytes of metadata kept since the last eviction

    def blob_dir(self, sig: str) -> str:
        return os.path.join(self.root, sig)

    def fetch(self, sig: str, files: dict, open_remote: Callable[[str], BinaryIO],
              damaged: Callable[[str], Exception]) -> str:
        """The local folder of blob ``sig`` with every file in ``files`` (``{rel: {"size", "checksum"}}``)
        present and verified; missing or damaged copies are fetched with ``open_remote(rel)``. A remote file
        that does not match its checksum raises ``damaged(problem)`` and is not kept."""
        local = self.blob_dir(sig)
        fetched = 0
        for rel, want in sorted(files.items()):
            target = os.path.join(local, *rel.split("/"))
            algorithm = checksums.algorithm_of(want)
            if _matches(target, want, algorithm):
                self.hits += 1
                continue
            try:
                with open_remote(rel) as remote:
                    got = self._download(remote, target, algorithm, expect=want)
            except FileNotFoundError:
                raise damaged(f"the file {rel} is missing") from None
            if got is None:
                raise damaged(f"{rel} does not match the size and checksum in its metadata")
            self.misses += 1
            fetched += 1
        _touch(local)
        if fetched:
            self.evict(keep=sig)
        return local

    def put(self, sig: str, rel: str, remote: BinaryIO) -> dict:
        """Copy a file just written to the remote into the cache, returning its checksum entry (one read
        serves both: the store needs the checksum for the metadata anyway)."""
        entry = self._download(remote, os.path.join(self.blob_dir(sig), *rel.split("/")), checksums.DEFAULT)
        assert entry is not None
        return entry

    def read_file(self, sig: str, rel: str) -> bytes | None:
        """The bytes of the cached copy of ``rel`` in blob ``sig`` (None if absent); not checked here."""
        try:
            with open(os.path.join(self.blob_dir(sig), *rel.split("/")), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def read_meta(self, sig: str) -> bytes | None:
        """The metadata of ``sig`` kept by ``put_meta`` (None if absent); marks the value as used (LRU)."""
        local = self.blob_dir(sig)
        try:
            with open(os.path.join(local, META_NAME), "rb") as f:
                data = f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        _touch(local)
        return data

    def put_meta(self, sig: str, data: bytes) -> None:
        """Keep ``data``, the committed metadata of ``sig`` (replacing a different copy: the store replaced it)."""
        local = self.blob_dir(sig)
        target = os.path.join(local, META_NAME)
        try:
            with open(target, "rb") as f:
                if f.read() == data:
                    _touch(local)  # used (LRU): a value read from its inline copy touches nothing else here
                    return
        except (FileNotFoundError, NotADirectoryError):
            pass
        tmp = atomic.temp_name(os.path.join(self.directory, "tmp"), "m-")
        try:
            with open(tmp, "xb") as out:  # not fsynced, as no copy in the cache is: a lost one is fetched again
                out.write(data)
            os.makedirs(local, exist_ok=True)
            os.replace(tmp, target)
        finally:
            atomic.remove(tmp)
        self._meta_added += len(data)
        if self._meta_added >= self.max_bytes // 16:  # values kept inline fetch no blob, so fetch never evicts
            self._meta_added = 0
            self.evict(keep=sig)

    def drop_meta(self, sig: str) -> None:
        atomic.remove(os.path.join(self.blob_dir(sig), META_NAME))

    def _download(self, remote: BinaryIO, target: str, algorithm: str, expect: dict | None = None) -> dict | None:
        """Stream ``remote`` to ``target`` (via a temporary name), checksumming on the way; None (and nothing
        kept) when ``expect`` is given and differs."""
        tmp = atomic.temp_name(os.path.join(self.directory, "tmp"), "c-")
        try:
            with open(tmp, "xb") as out:
                entry = checksums.checksum_of(_Tee(remote, out), algorithm)
            if expect is not None and entry != expect:
                return None
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.replace(tmp, target)
            return entry
        finally:
            atomic.remove(tmp)

    def usage(self) -> list[tuple[float, int, str]]:
        """``(last used, bytes, folder)`` of every cached blob, oldest first."""
        found = []
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        for name in names:
            folder = os.path.join(self.root, name)
            try:
                used = os.stat(folder).st_mtime
            except FileNotFoundError:
                continue
            found.append((used, _size(folder), folder))
        return sorted(found)

    def evict(self, keep: str | None = None) -> int:
        """Delete the least recently used blobs until the cache fits its bound; returns bytes freed."""
        entries = self.usage()
        total = sum(size for _, size, _ in entries)
        freed = 0
        now = time.time()
        for used, size, folder in entries:
            if total - freed <= self.max_bytes:
                break
            if os.path.basename(folder) == keep or now - used < _IN_USE_S:
                continue  # just fetched, or another process may be about to open it
            shutil.rmtree(folder, ignore_errors=True)
            freed += size
            log.debug("dds: cache: evicted %s (%d bytes)", folder, size)
        return freed


class _Tee:
    """A reader that copies what it reads into ``out``."""

    def __init__(self, source: Any, out: BinaryIO) -> None:
        self.source, self.out = source, out

    def read(self, n: int = -1) -> bytes:
        chunk = self.source.read(n if n and n > 0 else _CHUNK)
        if chunk:
            self.out.write(chunk)
        return chunk


def _matches(path: str, want: Any, algorithm: str) -> bool:
    try:
        if isinstance(want, dict) and os.path.getsize(path) != want.get("size"):
            return False
        with open(path, "rb", buffering=0) as f:
            return checksums.checksum_of(f, algorithm) == want
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False


def _size(folder: str) -> int:
    """Bytes below ``folder``; files another process evicts meanwhile count as 0."""
    total = 0
    for directory, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(directory, name))
            except OSError:
                pass
    return total


def _touch(folder: str) -> None:
    try:
        os.utime(folder)
    except FileNotFoundError:
        pass
