"""Crash-safe file operations on the OS file system, used by the local store.

The rule everywhere: write under a temporary name on the same file system, flush it to disk, then rename
it into place. A reader (or a crash) sees the old file or the new one, never half of one. Files are created
with ``open``/``os.mkdir`` (not ``tempfile``, which would force mode 0600/0700), so the user's umask applies.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from typing import BinaryIO

from .checksums import Growing

_fdatasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def temp_name(directory: str, hint: str = "") -> str:
    """A fresh, unused name inside ``directory`` (which is created if needed)."""
    os.makedirs(directory, exist_ok=True)
    return os.path.join(directory, f".{hint}{uuid.uuid4().hex}")


def write_bytes(path: str, data: bytes, tmp_dir: str) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp file in ``tmp_dir``, fsync, os.replace)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = temp_name(tmp_dir, "w-")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise
    fsync_dir(os.path.dirname(path))


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


def _flush(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # renamed or removed by the writer meanwhile
        return
    try:
        _fdatasync(fd)
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
    global _flusher
    _flusher = _Flusher(_flusher.interval)  # the thread did not survive the fork, and its lock may be held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_flusher_after_fork)


def remove(path: str) -> None:
    """Delete a file, link or directory tree if it exists."""
    if os.path.islink(path) or os.path.isfile(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
