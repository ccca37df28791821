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
``off`` disables it), else ``$XDG_CACHE_HOME/dds/files``, else ``~/.cache/dds/files``: one SQLite file of
at most ``MAX_ROWS`` rows (the oldest half is dropped past that), each row carrying a checksum so a damaged
row is a miss, never a wrong digest. Deleting it is always safe; one that cannot be written is not used.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import xxhash

from ..errors import SignatureError
from .digests import file_digest

log = logging.getLogger("dds")

RACY_SECONDS = 2.0
MAX_ROWS = 50_000
_MAX_MEMORY = 200_000
_RETRIES = 3

StatKey = tuple  # (st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)

_memory: dict[str, tuple[StatKey, str]] = {}
_pending: list[tuple] = []
_db: Any = None  # sqlite3 connection; False: disabled
_lock = threading.Lock()  # one connection, used by every thread


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
    """Write the digests computed since the last flush to the disk cache, in one transaction."""
    global _pending
    if not _pending:
        return
    rows, _pending = _pending, []
    db = _connection()
    if db is None:
        return
    import sqlite3

    try:
        with _lock, db:
            db.executemany("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            (count,) = db.execute("SELECT count(*) FROM digests").fetchone()
            if count > MAX_ROWS:
                db.execute("DELETE FROM digests WHERE path IN "
                           "(SELECT path FROM digests ORDER BY used LIMIT ?)", (count - MAX_ROWS // 2,))
    except sqlite3.Error as exc:  # locked by another process for too long, disk full ...: only a cache
        log.debug("dds: file digest cache not written: %s", exc)


def _remember(path: str, key: StatKey, digest: str, to_disk: bool) -> None:
    if len(_memory) >= _MAX_MEMORY:
        _memory.clear()
    _memory[path] = (key, digest)
    if to_disk:
        _pending.append((path, *key, digest, time.time_ns(), _row_check(path, key, digest)))


def _row_check(path: str, key: StatKey, digest: str) -> str:
    return xxhash.xxh3_64_hexdigest("\0".join([path, *map(str, key), digest]).encode("utf-8", "surrogatepass"))


def _disk_lookup(path: str, key: StatKey) -> str | None:
    db = _connection()
    if db is None:
        return None
    import sqlite3

    try:
        with _lock:
            row = db.execute("SELECT dev, ino, size, mtime_ns, ctime_ns, digest, check_ FROM digests WHERE path = ?",
                             (path,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None or tuple(row[:5]) != key or not isinstance(row[5], str) or row[6] != _row_check(path, key, row[5]):
        return None
    return row[5]


def cache_directory() -> str | None:
    """Where the disk cache lives (None: disabled by ``DDS_FILE_CACHE=off``)."""
    configured = os.environ.get("DDS_FILE_CACHE")
    if configured:
        return None if configured.lower() == "off" else configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dds", "files")


def _connection() -> Any:
    global _db
    if _db is None:
        with _lock:
            if _db is None:
                _db = _open() or False
    return _db or None


def _open() -> Any:
    directory = cache_directory()
    if directory is None:
        return None
    import sqlite3

    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        db = sqlite3.connect(os.path.join(directory, "digests-1.sqlite"), timeout=1.0, isolation_level=None,
                             check_same_thread=False)
        db.execute("CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, "
                   "size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER, digest TEXT, used INTEGER, check_ TEXT)")
        db.isolation_level = ""  # transactions from here on (``with db:``)
        return db
    except (OSError, sqlite3.Error) as exc:
        log.debug("dds: file digest cache disabled (%s): %s", directory, exc)
        return None
