"""Crash-safe file operations on the OS file system, used by the local store.

The rule everywhere: write under a temporary name on the same file system, flush it to disk, then rename
it into place. A reader (or a crash) sees the old file or the new one, never half of one. Files are created
with ``open``/``os.mkdir`` (not ``tempfile``, which would force mode 0600/0700), so the user's umask applies.
"""

from __future__ import annotations

import os
import shutil
import uuid


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


def remove(path: str) -> None:
    """Delete a file, link or directory tree if it exists."""
    if os.path.islink(path) or os.path.isfile(path):
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
    elif os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
