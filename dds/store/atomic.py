"""Crash-safe file operations on the OS file system, used by the local store.

The rule everywhere: write under a temporary name on the same file system, flush it to disk, then rename
it into place. A reader (or a crash) sees the old file or the new one, never half of one. Files are created
with ``open``/``os.mkdir`` (not ``tempfile``, which would force mode 0600/0700), so the user's umask applies.
"""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import sys
import threading
import time
import weakref
from typing import BinaryIO, Callable, TypeVar

from .. import forks
from .checksums import Growing

_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
T = TypeVar("T")


def temp_name(directory: str, hint: str = "") -> str:
    """A fresh, unused name inside ``directory`` (which is created if needed)."""
    os.makedirs(directory, exist_ok=True)
    return fresh_name(directory, hint)


def fresh_name(directory: str, hint: str = "") -> str:
    """A fresh, unused name inside ``directory`` (not created: see ``KnownDirs``). 128 random bits, as uuid4."""
    return os.path.join(directory, f".{hint}{os.urandom(16).hex()}")


class KnownDirs:
    """Folders known to exist, so that a write does not ``makedirs`` its folders every time (a failed
    ``mkdir`` and a ``stat`` each, several per keep). A folder removed meanwhile (a store deleted under a
    running process) is found by the operation itself: ``run`` makes the folders again after a
    FileNotFoundError and retries the operation once."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def ensure(self, *directories: str) -> None:
        for directory in directories:
            if directory not in self._known:
                os.makedirs(directory, exist_ok=True)
                self._known.add(directory)

    def run(self, op: Callable[[], T], *directories: str) -> T:
        """``op()``, with ``directories`` existing (made again once if ``op`` finds one missing)."""
        self.ensure(*directories)
        try:
            return op()
        except FileNotFoundError:
            self._known.difference_update(directories)
            self.ensure(*directories)
            return op()


def write_bytes(path: str, data: bytes, tmp_dir: str, batch: SyncBatch | None = None,
                known: KnownDirs | None = None) -> None:
    """Replace ``path`` with ``data`` atomically (temp file in ``tmp_dir``, os.replace) and durably: at once
    (fsync of the file, then of its folder), or with ``batch`` at the batch's next sync. ``known``: folders
    taken to exist (else both folders are made if needed, every time)."""
    known = known or KnownDirs()
    folder = os.path.dirname(path)
    tmp = fresh_name(tmp_dir, "w-")

    def create() -> None:  # plain os calls: no buffered file object around one write
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if batch is None:
                os.fsync(fd)
        finally:
            os.close(fd)

    known.run(create, tmp_dir)
    try:
        known.run(lambda: os.replace(tmp, path), folder)
    except BaseException:
        remove(tmp)
        raise
    if batch is None:
        fsync_dir(folder)
    else:
        batch.note(path, folder)


def fsync_dir(path: str) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class SyncBatch:
    """Makes many small writes durable with few syncs: the group commit of the local store.

    Why it is safe: a killed process loses nothing that it renamed into place, synced or not (the data is
    in the kernel's page cache), and every rename still comes after its file is complete, so kill -9 leaves
    the old value or the new one exactly as with an fsync per file. The sync adds durability against a
    *machine* crash (power loss). A keep after a quiet spell (no sync for ``max_delay`` seconds) syncs
    before it returns, so an interactive keep is durable when it returns, as with an fsync per file; keeps
    that follow it within ``max_delay`` join a batch, synced when its oldest write is ``max_delay`` old
    (by the next keep, or a timer when none comes), after ``max_writes`` writes, and at process exit. A
    machine crash before that can lose the batch's writes, or leave a metadata or ref file whose data did
    not reach the disk: checksums (blobs) and format checks (metadata, refs) find that on load, which
    raises DamagedDataError or, with ``on_damage="recompute"``, computes again; never a wrong value.

    A small batch is synced file by file (``fsync``: bounded by our own writes); a big one with one
    ``syncfs`` of the store's file system where there is one (Linux), else file by file too.
    """

    def __init__(self, root: str, max_delay: float = 1.0, max_writes: int = 2000) -> None:
        self.root = root
        self.max_delay = max_delay
        self.max_writes = max_writes
        self._pending: dict[str, None] = {}
        self._since: float | None = None
        self._last_sync = float("-inf")
        self._writes = 0
        self._lock = forks.lock()  # free in a forked child even if the timer held it at the fork
        self._timer: threading.Timer | None = None  # syncs a batch that no later write comes to close
        _batches[self] = None

    def note(self, *paths: str, tree: bool = False) -> None:
        """Files or folders whose content (or entries) changed and must reach the disk; ``tree``: every file
        and folder below them too (a blob folder just renamed into place)."""
        with self._lock:
            for p in paths:
                self._pending[p] = self._pending.get(p, False) or tree
            self._writes += 1
            if self._since is None:
                self._since = time.monotonic()
            if self._timer is None:
                self._timer = threading.Timer(self.max_delay, self._on_time)
                self._timer.daemon = True
                self._timer.name = "dds-sync"
                self._timer.start()

    def _on_time(self) -> None:
        try:
            self.sync()
        except OSError:
            pass  # the next keep's sync, or the one at exit, tries again

    def quiet(self) -> bool:
        """Nothing pending and no sync for ``max_delay`` seconds: a write now starts no batch of others."""
        return self._since is None and time.monotonic() - self._last_sync >= self.max_delay

    def synced(self) -> None:
        """A write was made durable by its writer (file by file): the quiet spell ends now."""
        self._last_sync = time.monotonic()

    def maybe_sync(self) -> None:
        """Sync when the batch is due (old or big enough)."""
        since = self._since
        if since is None:
            return
        if self._writes >= self.max_writes or time.monotonic() - since >= self.max_delay:
            self.sync()

    def sync(self) -> None:
        """Make every noted write durable now."""
        with self._lock:
            pending, self._pending = self._pending, {}
            self._since, self._writes = None, 0
            timer, self._timer = self._timer, None
            self._last_sync = time.monotonic()
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if not pending:
            return
        try:
            if len(pending) > _FILE_BY_FILE and _syncfs(self.root):
                return
            for p, tree in pending.items():
                if tree:
                    fsync_tree(p)
                elif os.path.isdir(p):
                    fsync_dir(p)
                else:
                    _flush(p, fsync=True)
        except BaseException:
            with self._lock:  # not durable yet: the next sync tries again
                for p, tree in pending.items():
                    self._pending[p] = self._pending.get(p, False) or tree
                if self._since is None:
                    self._since = time.monotonic()
            raise

    def _after_fork(self) -> None:
        """In a forked child: the pending writes are the parent's (its timer syncs them), and the timer's
        thread did not survive the fork; the child's own writes start a batch of their own."""
        self._pending = {}
        self._since, self._writes = None, 0
        self._timer = None


def _syncfs(path: str) -> bool:
    """``syncfs(2)`` of the file system holding ``path`` (Linux); False where it is not available."""
    global _libc_syncfs
    if _libc_syncfs is None:
        _libc_syncfs = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                _libc_syncfs = ctypes.CDLL(None, use_errno=True).syncfs
            except (OSError, AttributeError):
                pass
    if _libc_syncfs is False:
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return _libc_syncfs(fd) == 0
    finally:
        os.close(fd)


_libc_syncfs = None
_FILE_BY_FILE = 32  # up to this many noted files and folders, fsync each (no waiting for others' writes)
_batches: weakref.WeakKeyDictionary[SyncBatch, None] = weakref.WeakKeyDictionary()


def sync_all() -> None:
    """Sync every batch of this process (at exit, and for callers that need durability now)."""
    for batch in list(_batches):
        try:
            batch.sync()
        except OSError:
            pass


atexit.register(sync_all)


def fsync_tree(path: str) -> None:
    """Flush every file and directory below ``path`` to disk, before it is renamed into place."""
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(dirpath)


class Follower:
    """Flushes the files being written under ``directory`` to disk while they are written.

    Used around a codec's write: the disk then works while the codec encodes, and the fsync before the rename
    (``fsync_tree``, which still runs) finds almost nothing left to write. With ``checksum`` (an algorithm),
    for writers that only ever append, each file is also checksummed as it grows, so it is not read back
    afterwards; ``checksums`` then maps each file's relative posix name to its entry, for the files that
    still are the ones hashed. A flush error is raised on exit: the fsync that follows might not see it again.
    The flushing happens in one background thread per process (``_Flusher``), so a small write pays no thread.
    """

    def __init__(self, directory: str, checksum: str | None = None) -> None:
        self.directory = directory
        self.checksums: dict[str, dict] = {}
        self._algorithm = checksum
        self._files: dict[str, tuple[BinaryIO, Growing]] = {}  # the files being checksummed
        self._lock = threading.Lock()  # held by a round in the background
        self._done = False
        self._error: BaseException | None = None

    def __enter__(self) -> Follower:
        _flusher.add(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        _flusher.discard(self)
        with self._lock:  # waits for a round in progress
            self._done = True
            try:
                if exc_type is None:
                    if self._error is not None:
                        raise self._error
                    if self._algorithm:
                        self._round(sync=False)  # the tail: hashed now, made durable by fsync_tree later
                        self._collect()
            finally:
                for f, _growing in self._files.values():
                    f.close()
                self._files.clear()

    def flush(self) -> None:
        """One round in the background thread: flush (and hash) what was written since the last one."""
        with self._lock:
            if self._done or self._error is not None:
                return
            try:
                self._round(sync=True)
            except BaseException as exc:  # noqa: BLE001 - raised in the writing thread, on exit
                self._error = exc

    def _round(self, sync: bool) -> None:
        for dirpath, _dirs, names in os.walk(self.directory):
            for name in names:
                path = os.path.join(dirpath, name)
                if self._algorithm is None:  # flush only, keeping no descriptor (there may be 1000s of files)
                    if sync:
                        _flush(path)
                    continue
                followed = self._files.get(path)
                if followed is None:
                    try:
                        f = open(path, "rb", buffering=0)  # noqa: SIM115 - kept open until __exit__
                    except OSError:  # renamed or removed by the writer meanwhile
                        continue
                    followed = self._files[path] = (f, Growing(self._algorithm))
                f, growing = followed
                size = os.fstat(f.fileno()).st_size
                if sync:
                    _fdatasync(f.fileno())
                growing.feed(f, size)  # only bytes already written (and flushed): final, as the writer appends

    def _collect(self) -> None:
        for path, (f, growing) in self._files.items():
            try:
                now = os.stat(path)
            except OSError:
                continue
            then = os.fstat(f.fileno())
            if (now.st_dev, now.st_ino) == (then.st_dev, then.st_ino) and now.st_size == growing.size:
                rel = os.path.relpath(path, self.directory).replace(os.sep, "/")
                self.checksums[rel] = growing.entry()


def _flush(path: str, fsync: bool = False) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # renamed or removed by the writer meanwhile
        return
    try:
        (os.fsync if fsync else _fdatasync)(fd)
    finally:
        os.close(fd)


class _Flusher:
    """The background thread of the followers: every ``interval`` seconds, a round for each of them."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._followers: dict[Follower, None] = {}
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, follower: Follower) -> None:
        with self._changed:
            self._followers[follower] = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="dds-flush", daemon=True)
                self._thread.start()
            self._changed.notify()

    def discard(self, follower: Follower) -> None:
        with self._changed:
            self._followers.pop(follower, None)

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._followers:
                    self._changed.wait()
            time.sleep(self.interval)
            with self._changed:
                followers = list(self._followers)
            for follower in followers:
                follower.flush()


_flusher = _Flusher()


def _new_flusher_after_fork() -> None:
    """In a forked child: the followers and the flush thread are the parent's (and its lock may be held)."""
    global _flusher
    _flusher = _Flusher(_flusher.interval)
    for batch in list(_batches):
        batch._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_flusher_after_fork)


def remove(path: str) -> None:
    """Delete a file, link or directory tree if it exists (one ``lstat`` when it does not)."""
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path, ignore_errors=True)
        return
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
