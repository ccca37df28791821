"""Provenance recorded with every stored value: when, where, with which code and library versions.

``run_info`` builds the ``run`` section of a value's metadata; ``set_run_info_fn`` lets a user add fields
(a CI build id, an experiment name) so ``dds ls --where build=1234`` can find the values a run produced.
"""

from __future__ import annotations

import functools
import getpass
import json
import os
import platform
import socket
import subprocess
import sys
import types
from datetime import datetime, timezone
from typing import Any, Callable

from .._version import __version__
from ..errors import ArgumentError, DDSError
from ..signature.modules import distribution_version, distributions_of

_run_info_fn: Callable[[], dict] | None = None
_MAX_USER_MODULES = 200  # bound on the walk through the user's own modules when collecting versions


def set_run_info_fn(fn: Callable[[], dict] | None) -> None:
    """Add ``fn()``'s fields to the ``run`` section of every value stored from now on (None: stop).

    ``fn`` takes no argument and returns a dict of JSON-serialisable values, e.g.
    ``lambda: {"build": os.environ["CI_BUILD_ID"]}``. It runs each time a value is stored.
    """
    global _run_info_fn
    if fn is not None and not callable(fn):
        raise ArgumentError(
            f"dds.set_run_info_fn needs a function returning a dict (or None), not {type(fn).__name__} {fn!r}."
        )
    _run_info_fn = fn


#: Fields dds writes in the run section; a run-info function may not return them.
RESERVED = frozenset({"started", "duration_s", "host", "user", "pid", "python", "dds", "platform", "git_commit",
                      "git_dirty", "versions"})


def run_info(started: float, duration: float, source_file: str | None, module: str | None = None,
             path: str | None = None, user_fields: dict | None = None) -> dict:
    """The ``run`` section of a value's metadata.

    ``module`` names the kept function's module (found from ``source_file`` when omitted); its library
    imports are recorded under ``versions``. ``path`` only improves error messages. ``user_fields`` are
    the run-info function's fields when the caller collected them beforehand (see ``user_run_info``).
    """
    directory = os.path.dirname(os.path.abspath(source_file)) if source_file and os.path.exists(source_file) \
        else os.getcwd()
    info: dict[str, Any] = {
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
    versions = library_versions(module or _module_of_file(source_file))
    if versions:
        info["versions"] = versions
    info.update(user_run_info(path, reserved=RESERVED) if user_fields is None else user_fields)
    return info


def user_run_info(path: str | None = None, reserved: set[str] = frozenset()) -> dict:  # type: ignore[assignment]
    """The fields of the function given to ``set_run_info_fn`` (checked), or ``{}`` when there is none."""
    fn = _run_info_fn
    if fn is None:
        return {}
    name = _name(fn)
    where = f" while storing {path}" if path else ""
    fix = "Fix that function, or call dds.set_run_info_fn(None) to stop using it."
    try:
        fields = fn()
    except Exception as exc:
        raise DDSError(
            f"The run-info function {name} (given to dds.set_run_info_fn) raised {type(exc).__name__}{where}: "
            f"{exc}. {fix}"
        ) from exc
    if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
        raise DDSError(
            f"The run-info function {name} (given to dds.set_run_info_fn) returned a {type(fields).__name__}"
            f"{where}; it must return a dict with str keys. {fix}"
        )
    clash = sorted(set(fields) & reserved)
    if clash:
        raise DDSError(
            f"The run-info function {name} (given to dds.set_run_info_fn) returned the field(s) {clash}{where}, "
            f"which dds records itself. Rename them (e.g. 'ci_{clash[0]}'). {fix}"
        )
    for key, value in fields.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise DDSError(
                f"The run-info function {name} (given to dds.set_run_info_fn) returned field {key!r} = "
                f"{value!r:.80}{where}, which is not JSON-serialisable ({exc}). Return str, numbers, bools, "
                f"None, lists or dicts of them. {fix}"
            ) from None
    return dict(fields)


# ------------------------------------------------------------------------------------- library versions
def library_versions(module_name: str | None) -> dict[str, str]:
    """``{distribution: version}`` of the installed libraries that ``module_name`` imports (best effort).

    The walk follows the user's own modules that ``module_name`` imports (not libraries), so a pipeline
    whose helpers live in ``pipe.util`` still records the ``pandas`` that ``pipe.util`` imports.
    """
    if not module_name or module_name not in sys.modules:
        return {}
    try:
        return dict(_library_versions(module_name))
    except Exception:  # noqa: BLE001 - provenance is best effort; it must never stop a pipeline
        return {}


@functools.lru_cache(maxsize=256)
def _library_versions(module_name: str) -> tuple[tuple[str, str], ...]:
    seen: set[str] = set()
    todo = [module_name]
    found: dict[str, str] = {}
    while todo and len(seen) < _MAX_USER_MODULES:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module = sys.modules.get(name)
        for imported in _imported_module_names(module):
            top = imported.split(".", 1)[0]
            if top in ("dds", "builtins") or top in sys.stdlib_module_names:
                continue
            if dists := _distributions_of(top):
                for dist in dists:
                    version = distribution_version(dist)
                    if version is not None:
                        found[dist] = version
            elif imported in sys.modules:  # the user's own code: look at what it imports in turn
                todo.append(imported)
    return tuple(sorted(found.items()))


def _imported_module_names(module: types.ModuleType | None) -> set[str]:
    """Modules ``module`` refers to at top level: imported modules and the modules of imported objects."""
    names: set[str] = set()
    for value in list(vars(module).values()) if module is not None else ():
        if isinstance(value, types.ModuleType):
            names.add(value.__name__)
        else:
            owner = getattr(value, "__module__", None) if isinstance(value, (type, types.FunctionType,
                                                                           types.BuiltinFunctionType)) else None
            if isinstance(owner, str) and owner != module.__name__:
                names.add(owner)
    return names


def _module_of_file(source_file: str | None) -> str | None:
    """The name of the loaded module whose file is ``source_file`` (``__main__`` for a script)."""
    if not source_file:
        return None
    cached = _module_names.get(source_file)
    if cached is not None and cached in sys.modules:
        return cached
    target = os.path.abspath(source_file)
    for name, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and os.path.abspath(filename) == target:
            _module_names[source_file] = name
            return name
    return None


_module_names: dict[str, str] = {}


# ------------------------------------------------------------------------------------------ the rest
@functools.lru_cache(maxsize=None)
def _git_state(directory: str) -> dict:
    """Commit and dirty flag of the git work tree holding ``directory`` (once per process and folder)."""
    def git(*args: str) -> str | None:
        try:
            # --no-optional-locks: `git status` refreshes the index under .git/index.lock, which a timeout
            # killing git would leave behind, blocking the user's next git command
            out = subprocess.run(["git", "--no-optional-locks", *args], cwd=directory, capture_output=True, text=True,
                                 timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


@functools.lru_cache(maxsize=1)
def _user() -> str | None:
    """Once per process: without $USER/$LOGNAME, getpass reads the password database (/etc/passwd) on every
    call, 0.1-0.3 ms of each keep that computes."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return None


def _name(fn: Callable) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or repr(fn)
    return f"{module}.{qualname}" if module else qualname


def _distributions_of(top: str) -> list[str]:
    try:
        return distributions_of(top)
    except Exception:  # noqa: BLE001 - broken metadata of one distribution must not stop a pipeline
        return []
