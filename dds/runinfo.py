"""Provenance recorded with every stored value: when, where, with which code and library versions."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import socket
import subprocess
import sys
from datetime import datetime, timezone

from ._version import __version__


@functools.lru_cache(maxsize=None)
def _git_state(directory: str) -> dict:
    """Commit and dirty flag of the git work tree holding ``directory`` (once per process and folder)."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return None


def run_info(started: float, duration: float, source_file: str | None) -> dict:
    """The ``run`` section of a value's metadata."""
    directory = os.path.dirname(os.path.abspath(source_file)) if source_file and os.path.exists(source_file) \
        else os.getcwd()
    return {
        "started": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "duration_s": round(duration, 6),
        "host": socket.gethostname(),
        "user": _user(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "dds": __version__,
        "platform": sys.platform,
        **_git_state(directory),
    }
