"""Content digests of local files, re-used while a file's ``stat`` shows it unchanged.

Why: a warm ``keep`` re-checks every ``dds.File`` it depends on, and a fresh process re-checks them all;
reading a 1 GB input each time would cost a second where a ``stat`` costs a microsecond.

Why it cannot go stale: an entry is used only when the file's device, inode, size, modification time and
status-change time (``st_ctime``, which every write, rename and ``os.utime`` sets to *now* and which no
program can set back) all equal those recorded. A rewrite therefore always misses, even one that keeps
the size and restores the mtime (``touch -r``, ``cp -p``, ``rsync -t``), except a rewrite within the same
clock tick as the stamps that were recorded. That last case is excluded by recording only files whose
``mtime`` and ``ctime`` lie at least ``RACY_SECONDS`` before the moment the read began ("racy" files, as
git calls them, are hashed again on every check until they have aged): any later write gets a later
stamp. The margin covers coarse time stamps (FAT: 2 s; HFS+: 1 s) and small clock skew between a network
file system's server and this machine. A file that changes while it is read is read again.

Where: in this process's memory, and on disk for later processes in ``$DDS_FILE_CACHE`` (a directory;
``off`` disables it), else ``$XDG_CACHE_HOME/dds/files``, else ``~/.cache/dds/files``: one small JSON file
per input file (named by a digest of its absolute path, written atomically), at most ``MAX_ENTRIES`` of them
(past that, the least recently written half is removed), each carrying a checksum so a damaged entry is a
miss, never a wrong digest. A fresh process's first check is one ``stat`` and one small read. Deleting the
directory is always safe; one that cannot be written is not used.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from typing import Any

import xxhash

from ..errors import SignatureError
from .digests import file_digest

log = logging.getLogger("dds")

RACY_SECONDS = 2.0
MAX_ENTRIES = 50_000
_MAX_MEMORY = 200_000
_RETRIES = 3

StatKey = tuple  # (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)

_memory: dict[str, tuple[StatKey, str]] = {}
_pending: list[list] = []
_dir: Any = False  # the disk cache's directory; False: not decided yet; None: disabled
_pruned = False


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def content_digest(path: str, st: os.stat_result | None = None) -> tuple[int, str]:
    """``(size, XXH3-128 hex digest)`` of the local file ``path`` (absolute), reading it only when needed.

    ``st`` is the ``os.stat(path)`` the caller already made, if any. Raises OSError when the file cannot be
    read (FileNotFoundError when it does not exist).
    """
    if st is None:
        st = os.stat(path)
    key = stat_key(st)
    known = _memory.get(path)
    if known is not None and known[0] == key:
        return st.st_size, known[1]
    found = _disk_lookup(path, key)
    if found is not None:
        _remember(path, key, found, to_disk=False)
        return st.st_size, found
    for _ in range(_RETRIES):
        started = time.time_ns()
        size, digest = file_digest(path)
        after = os.stat(path)
        if stat_key(after) == key and size == st.st_size:
            if max(st.st_mtime_ns, st.st_ctime_ns) < started - int(RACY_SECONDS * 1e9):
                _remember(path, key, digest, to_disk=True)
            return size, digest
        st, key = after, stat_key(after)  # written while we read it: read the new version
    raise SignatureError(
        f"{path} changed every time dds read it ({_RETRIES} times), so its content is unknown. "
        "Fix: let whatever writes it finish before running the pipeline (or write it to a temporary name and "
        "rename it into place)."
    )


def forget() -> None:
    """Drop the in-memory entries (tests; the disk cache is still consulted)."""
    _memory.clear()


def flush() -> None:
    """Write the digests computed since the last flush to the disk cache (each entry atomically)."""
    global _pending, _pruned
    if not _pending:
        return
    rows, _pending = _pending, []
    directory = _directory()
    if directory is None:
        return
    if not _pruned:
        _pruned = True
        _prune(directory)
    for row in rows:
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(row, fh)
            os.replace(tmp, os.path.join(directory, _entry_name(row[0])))
            tmp = None
        except OSError as exc:  # disk full, permissions ...: only a cache
            log.debug("dds: file digest cache not written (%s): %s", directory, exc)
            return
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _prune(directory: str) -> None:
    """Past ``MAX_ENTRIES`` entries, remove the least recently written half; and temporary files a crashed
    writer left behind over an hour ago (once per process)."""
    try:
        entries = []
        with os.scandir(directory) as it:
            for e in it:
                mtime = e.stat().st_mtime_ns
                if not e.name.startswith("."):
                    entries.append((mtime, e.path))
                elif e.name.startswith(".tmp-") and time.time_ns() - mtime > 3600 * 10**9:
                    with contextlib.suppress(OSError):
                        os.unlink(e.path)
        if len(entries) <= MAX_ENTRIES:
            return
        for _, path in sorted(entries)[: len(entries) - MAX_ENTRIES // 2]:
            with contextlib.suppress(OSError):
                os.unlink(path)
    except OSError:
        pass


def _remember(path: str, key: StatKey, digest: str, to_disk: bool) -> None:
    if len(_memory) >= _MAX_MEMORY:
        _memory.clear()
    _memory[path] = (key, digest)
    if to_disk:
        _pending.append([path, *key, digest, _row_check(path, key, digest)])


def _row_check(path: str, key: StatKey, digest: str) -> str:
    return xxhash.xxh3_64_hexdigest("\0".join([path, *map(str, key), digest]).encode("utf-8", "surrogatepass"))


def _entry_name(path: str) -> str:
    return xxhash.xxh3_128_hexdigest(path.encode("utf-8", "surrogatepass"))


def _disk_lookup(path: str, key: StatKey) -> str | None:
    directory = _directory()
    if directory is None:
        return None
    try:
        with open(os.path.join(directory, _entry_name(path)), encoding="utf-8") as fh:
            row = json.load(fh)
        stored_path, *stored_key, digest, check = row
    except (OSError, ValueError, TypeError):  # no entry, or one that is damaged: a miss
        return None
    if stored_path != path or tuple(stored_key) != key or not isinstance(digest, str):
        return None
    return digest if check == _row_check(path, key, digest) else None


def cache_directory() -> str | None:
    """Where the disk cache lives (None: disabled by ``DDS_FILE_CACHE=off``)."""
    configured = os.environ.get("DDS_FILE_CACHE")
    if configured:
        return None if configured.lower() == "off" else configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dds", "files")


def _directory() -> str | None:
    global _dir
    if _dir is False:
        directory = cache_directory()
        if directory is not None:
            try:
                os.makedirs(directory, mode=0o700, exist_ok=True)
            except OSError as exc:
                log.debug("dds: file digest cache disabled (%s): %s", directory, exc)
                directory = None
        _dir = directory
    return _dir
