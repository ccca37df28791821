"""The local store's lock per signature: one byte of one shared lock file, locked with POSIX record locks.

Why not a file per signature (``filelock``, used before): creating a lock file, probing its folder and
opening and closing it cost about a dozen system calls and an inode per keep, ~1-3 ms of a first run's
step. Here every signature of a store maps to one byte of ``locks/_signatures.lock`` (at an offset taken
from a hash of the signature, below 2**56, so two signatures share a byte about never), locked with
``fcntl.lockf`` (``F_SETLKW``: waits, without polling). The file is opened once per process and kept open.

What a POSIX record lock is, and how this module makes it a lock per signature:

* It belongs to the *process*: the kernel releases it when the process dies, also by SIGKILL (a crashed
  holder never blocks anyone); threads of one process do not exclude each other. So a signature also has a
  ``threading.RLock`` in the process, taken first: threads exclude each other there, and only one thread
  at a time reaches the file lock of that signature (the same thread again, a nested keep of the same
  signature, enters again, as with ``filelock`` before).
* Closing *any* descriptor of the file drops every record lock the process holds on it. So the file is
  opened once per process (a registry keyed by the file's device and inode, checked with ``stat`` before any
  ``open``) and never closed; two stores on the same folder share it.
* Two signatures of one process may map to the same byte (nested keeps, or threads): the byte is locked
  once and counted; it is unlocked when its last holder leaves. A collision between processes only makes
  one wait for the other's step; a deadlock it could cause is reported by the kernel (``EDEADLK``), and the
  waiter then retries after a pause.
* Record locks are not inherited by ``fork``: a child holds none of its parent's, and starts with empty
  counts and fresh in-process locks (``os.register_at_fork``); it keeps the inherited descriptor (closing it
  would be harmless to the parent, but it is the child's only one).

Where ``fcntl`` does not exist (Windows) the store keeps a ``filelock`` per signature.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

FILE_NAME = "_signatures.lock"  # not a signature's name: a signature starts with a letter or a digit

_SPAN = 1 << 56  # offsets are below this (a signed 64-bit off_t everywhere)


def available() -> bool:
    """Whether this platform has POSIX record locks."""
    return fcntl is not None


def offset_of(sig: str) -> int:
    """The byte of the lock file that stands for ``sig``."""
    return int.from_bytes(hashlib.blake2b(sig.encode("utf-8"), digest_size=7).digest(), "big") % _SPAN


class _LockFile:
    """One lock file opened once by this process: its bytes locked and counted."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._state = threading.Condition(threading.Lock())
        self._held: dict[int, int] = {}  # offset -> holders in this process
        self._taking: set[int] = set()  # offsets a thread is waiting for in the kernel
        self._threads: dict[str, list[Any]] = {}  # sig -> [RLock, users]

    def thread_lock(self, sig: str) -> threading.RLock:
        with self._state:
            entry = self._threads.get(sig)
            if entry is None:
                entry = self._threads[sig] = [threading.RLock(), 0]
            entry[1] += 1
            return entry[0]

    def drop_thread_lock(self, sig: str) -> None:
        with self._state:
            entry = self._threads.get(sig)
            if entry is not None:
                entry[1] -= 1
                if entry[1] <= 0:
                    del self._threads[sig]

    def acquire(self, offset: int) -> None:
        with self._state:
            while offset in self._taking:
                self._state.wait()
            if self._held.get(offset, 0) > 0:
                self._held[offset] += 1
                return
            self._taking.add(offset)
        try:
            _lock_byte(self.fd, offset)
        except BaseException:
            with self._state:
                self._taking.discard(offset)
                self._state.notify_all()
            raise
        with self._state:
            self._taking.discard(offset)
            self._held[offset] = 1
            self._state.notify_all()

    def release(self, offset: int) -> None:
        with self._state:
            left = self._held.get(offset, 0) - 1
            if left > 0:
                self._held[offset] = left
                return
            self._held.pop(offset, None)
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 1, offset, os.SEEK_SET)

    def held(self) -> dict[int, int]:
        """``{offset: holders}`` of this process (for tests)."""
        with self._state:
            return dict(self._held)

    def after_fork(self) -> None:
        self._state = threading.Condition(threading.Lock())
        self._held = {}
        self._taking = set()
        self._threads = {}


def _lock_byte(fd: int, offset: int) -> None:
    pause = 0.01
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, offset, os.SEEK_SET)
            return
        except InterruptedError:  # a signal handler ran (PEP 475 retries most calls; be explicit)
            continue
        except OSError as exc:
            if exc.errno != errno.EDEADLK:
                raise
            # two processes each wait for a byte the other holds (two signatures sharing a byte, in nested
            # keeps): the kernel refused this wait; let the other one through, then try again
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


_files: dict[tuple[int, int], _LockFile] = {}  # (st_dev, st_ino) -> the one descriptor of this process
_files_lock = threading.Lock()


def lock_file(directory: str) -> _LockFile:
    """The lock file in ``directory`` (created if needed), opened once per process."""
    path = os.path.join(directory, FILE_NAME)
    with _files_lock:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            st = None
        if st is not None:
            known = _files.get((st.st_dev, st.st_ino))
            if known is not None and os.fstat(known.fd).st_nlink > 0:
                return known
            # else a file deleted with its store, whose inode number the new file reuses: a lock on the old
            # one would exclude nobody (its descriptor stays open: closing it could drop locks still held)
        os.makedirs(directory, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        st = os.fstat(fd)
        known = _files.get((st.st_dev, st.st_ino))
        if known is not None and os.fstat(known.fd).st_nlink > 0:  # cannot happen under _files_lock
            return known  # (keep fd open: closing it would drop the locks taken through ``known``)
        made = _files[(st.st_dev, st.st_ino)] = _LockFile(fd)
        return made


class SignatureLock:
    """``with SignatureLock(directory, sig):`` excludes every other holder of ``sig`` (thread or process) on
    the store whose lock folder is ``directory``; released by the OS if the process dies."""

    def __init__(self, directory: str, sig: str) -> None:
        self.directory = directory
        self.sig = sig
        self._file: _LockFile | None = None
        self._thread_lock: threading.RLock | None = None

    def acquire(self) -> None:
        if self._file is not None:
            raise RuntimeError(f"the lock of signature {self.sig} is already held by this object")
        file = lock_file(self.directory)
        mine = file.thread_lock(self.sig)
        try:
            mine.acquire()
            try:
                file.acquire(offset_of(self.sig))
            except BaseException:
                mine.release()
                raise
        except BaseException:
            file.drop_thread_lock(self.sig)
            raise
        self._file, self._thread_lock = file, mine

    def release(self) -> None:
        file, mine = self._file, self._thread_lock
        if file is None or mine is None:
            return
        self._file = self._thread_lock = None
        try:
            file.release(offset_of(self.sig))
        finally:
            mine.release()
            file.drop_thread_lock(self.sig)

    @property
    def is_locked(self) -> bool:
        return self._file is not None

    def __enter__(self) -> SignatureLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _after_fork_in_child() -> None:
    global _files_lock
    _files_lock = threading.Lock()
    for file in list(_files.values()):
        file.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
