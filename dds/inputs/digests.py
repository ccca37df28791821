"""The content digest of a local file: XXH3-128 over its bytes, streamed in 1 MiB blocks.

128 bits make an accidental collision between two versions of a file negligible. Reading and hashing
overlap for big files: a reader thread fills a few reused buffers while this thread hashes the previous
one (both ``readinto`` and xxhash release the GIL), so a cold digest takes about as long as the read
alone, whichever of the disk and the hash is slower, instead of their sum. Memory stays flat (three
buffers) whatever the file's size. The result is cached by ``stat_cache`` so that an unchanged file is not
read again.
"""

from __future__ import annotations

import os
import queue
import threading
from typing import BinaryIO

import xxhash

_BLOCK = 1 << 20
_OVERLAP_FROM = 16 * _BLOCK  # smaller files: a thread costs more than the overlap gains
_BUFFERS = 3


def file_digest(path: str) -> tuple[int, str]:
    """``(bytes read, hex digest)`` of the file at ``path`` (OSError if it cannot be read)."""
    h = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as fh:
        if hasattr(os, "posix_fadvise"):
            try:
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
            except OSError:  # not supported by this file system: only a hint
                pass
        if os.fstat(fh.fileno()).st_size >= _OVERLAP_FROM:
            size = _overlapped(fh, h)
        else:
            size = _serial(fh, h)
    return size, h.hexdigest()


def _serial(fh: BinaryIO, h: "xxhash.xxh3_128") -> int:
    buffer = bytearray(_BLOCK)
    view = memoryview(buffer)
    size = 0
    while True:
        n = fh.readinto(buffer)
        if not n:
            return size
        h.update(view[:n])
        size += n


def _overlapped(fh: BinaryIO, h: "xxhash.xxh3_128") -> int:
    free: queue.Queue = queue.Queue()
    full: queue.Queue = queue.Queue()
    for _ in range(_BUFFERS):
        free.put(bytearray(_BLOCK))
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                buffer = free.get()
                if buffer is None:
                    return
                n = fh.readinto(buffer)
                full.put((buffer, n))
                if not n:
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the hashing thread, which raises it
            full.put((exc, 0))

    reader = threading.Thread(target=read, name="dds-file-digest", daemon=True)
    reader.start()
    size = 0
    try:
        while True:
            buffer, n = full.get()
            if isinstance(buffer, BaseException):
                raise buffer
            if not n:
                return size
            h.update(memoryview(buffer)[:n])
            size += n
            free.put(buffer)
    finally:
        stop.set()
        free.put(None)  # wakes the reader if it waits for a buffer
        reader.join()
