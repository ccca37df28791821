"""``dds.set_option("warn_untracked_files", True)``: warn when a kept function reads a file that is not a
``dds.File`` input, because a change to that file would not re-run the step.

How: an audit hook (``sys.addaudithook``) sees every ``open`` event of this process, which Python raises for
``open``/``io.open``/``os.open`` and so for everything built on them (pathlib, csv, json, pickle, numpy,
pandas' CSV/JSON/Excel readers, PIL ...). While a kept function runs (the ``started``/``ran`` events of
``keep``, per thread), a read of a path that no File names, at or above it, is reported once per step and
path. Not reported: writes, module sources and byte code, files under the Python installation and other
system directories (/usr, /etc, /proc, /sys, /dev), and anything dds itself opens (the store, the source
it parses for a nested keep's signature), found by walking the frames between the open and the step.

Not seen, by construction: libraries that open files in C or C++ without Python's ``open`` (pyarrow and
``pd.read_parquet``, h5py, Spark), subprocesses, and threads the step starts. An audit hook cannot be
removed, so it is installed the first time the option is set and does nothing while it is off.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import warnings
from typing import Any

from .. import options, session

_local = threading.local()  # .steps: [(path, frame of the keep that runs it, paths reported)]
_installed = False
_CODE_SUFFIXES = (".py", ".pyc", ".pyi", ".pyd", ".so", ".pth", ".dylib")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class UntrackedFileWarning(UserWarning):
    """A kept function read a file that is not a ``dds.File`` input (``warn_untracked_files``)."""


def install() -> None:
    """Start watching (idempotent): the audit hook and the keep observer."""
    global _installed
    if _installed:
        return
    session.observers.append(_observe)
    sys.addaudithook(_audit)
    _installed = True


options.on_set("warn_untracked_files", lambda on: install() if on else None)


def _observe(path: str, event: str, sig: str) -> None:
    steps = getattr(_local, "steps", None)
    if steps is None:
        steps = _local.steps = []
    if event == "started":
        steps.append((path, sys._getframe(2), set()))  # the frame of the keep about to call the function
    elif event in ("ran", "failed") and steps and steps[-1][0] == path:
        steps.pop()


def _audit(event: str, args: tuple) -> None:
    if event != "open":
        return
    steps = getattr(_local, "steps", None)
    if not steps:
        return
    if not options.get_option("warn_untracked_files"):
        return
    path, mode, flags = args
    if path is None or isinstance(path, int):
        return
    if (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & _WRITE_FLAGS):
        return
    try:
        _check(os.fsdecode(path), steps[-1])
    except Exception:  # noqa: BLE001 - a warning helper must never break the user's open()
        pass


def _check(path: str, step: tuple[str, Any, set]) -> None:
    name, keep_frame, reported = step
    full = os.path.abspath(path)
    if full in reported or full.endswith(_CODE_SUFFIXES) or full.startswith(_system_dirs()):
        return
    if _claimed(full) or not _opened_by_the_step(keep_frame):
        return
    reported.add(full)
    warnings.warn(UntrackedFileWarning(
        f"dds: {name} read {path}, which is not a dds.File input: a change to it will not re-run {name}. "
        f"Fix: pass dds.File({path!r}) as an argument (or hold it in a module constant, "
        f"DATA = dds.File({path!r})), or dds.set_option('warn_untracked_files', False) if it never changes."),
        stacklevel=3)


def _claimed(full: str) -> bool:
    from .file import _claimed as claimed

    candidate = full
    while True:
        if candidate in claimed:
            return True
        parent = os.path.dirname(candidate)
        if parent == candidate:
            return False
        candidate = parent


def _opened_by_the_step(keep_frame: Any) -> bool:
    """True when the user's code running under ``keep_frame`` opened the file: no dds frame lies between the
    open and that keep (dds's own reads: the store, sources for a nested keep's signature), and that keep is
    still running on this thread's stack (not one a KeyboardInterrupt left without its "ran" event)."""
    frame = sys._getframe(3)
    while frame is not None:
        if frame is keep_frame:
            return True
        module = frame.f_globals.get("__name__", "")
        if module == "dds" or module.startswith("dds."):
            return False
        frame = frame.f_back
    return False


@functools.lru_cache(maxsize=1)
def _system_dirs() -> tuple[str, ...]:
    import sysconfig

    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values()}
    dirs.update(("/usr/", "/etc/", "/proc/", "/sys/", "/dev/", "/lib/", "/opt/conda/"))
    return tuple(d.rstrip("/") + "/" for d in dirs if d)
