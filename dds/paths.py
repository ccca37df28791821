"""Validation of store paths such as ``/group/name``.

A store path becomes a file name under ``data_dir`` and a key in the store's index, so anything that could
escape the store, collide with another path or confuse a file system is refused here, before any I/O.
"""

from __future__ import annotations

import os
import pathlib

from .errors import DDSErrorCode, PathError

_MAX_PART_BYTES = 200  # leaves room for temporary suffixes under the usual 255-byte file name limit
_FORBIDDEN_PARTS = {".", ".."}
_FIX = "Use an absolute path made of non-empty names separated by '/', for example '/group/name'."


_known_valid: set[str] = set()  # paths already checked: a warm keep validates its path in one set lookup


def validate_path(path: object) -> str:
    """Return ``path`` as a ``str`` if it is a valid store path, else raise :class:`PathError`.

    A ``pathlib`` path (``PurePosixPath("/a/b")``, any ``PurePath``) or another ``os.PathLike`` is accepted
    and normalised to its POSIX text, as dds_py accepts them.
    """
    if type(path) is str and path in _known_valid:
        return path
    if not isinstance(path, str):
        path = _path_text(path)
    if not path.startswith("/"):
        raise PathError(f"Store path {path!r} is relative: it must start with '/'. {_FIX}",
                        code=DDSErrorCode.PATH_NOT_ABSOLUTE)
    if path == "/":
        raise PathError(f"Store path {path!r} names the store root, not a value. {_FIX}")
    for part in path[1:].split("/"):
        _check_part(path, part)
    if len(path.encode("utf-8")) > 1024:
        raise PathError(f"Store path {path[:60]!r}... is longer than 1024 bytes. {_FIX}")
    if type(path) is str and len(_known_valid) < 100_000:
        _known_valid.add(path)
    return path


def _path_text(path: object) -> str:
    """The text of a path object: ``PurePath`` by its POSIX form, other ``os.PathLike`` by ``os.fspath``."""
    if isinstance(path, pathlib.PurePath):
        return path.as_posix()
    if isinstance(path, os.PathLike):
        text = os.fspath(path)
        if isinstance(text, str):
            return text
    raise PathError(f"Store path {path!r} is a {type(path).__name__}, not a str or a pathlib path. {_FIX}")


def overlap_of(path: str, others: "set[str] | frozenset[str]") -> str | None:
    """A path of ``others`` that is an ancestor of ``path`` (``/f`` for ``/f/g``), or None: O(depth) set
    lookups, whatever the number of ``others`` (checking every path this way finds every overlap)."""
    end = path.rfind("/")
    while end > 0:
        prefix = path[:end]
        if prefix in others:
            return prefix
        end = path.rfind("/", 0, end)
    return None


def _check_part(path: str, part: str) -> None:
    if part == "":
        raise PathError(f"Store path {path!r} has an empty part ('//' or a trailing '/'). {_FIX}")
    if part in _FORBIDDEN_PARTS:
        raise PathError(f"Store path {path!r} contains {part!r}, which could leave the store. {_FIX}")
    if "\\" in part:
        raise PathError(f"Store path {path!r} contains a backslash, a separator on Windows. {_FIX}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in part):
        raise PathError(f"Store path {path!r} contains a control character (NUL, newline ...). {_FIX}")
    try:
        size = len(part.encode("utf-8"))
    except UnicodeEncodeError:
        raise PathError(f"Store path {path!r} is not valid unicode (lone surrogate). {_FIX}") from None
    size += 2 * part.count("%")  # escaped as %25 in the store's folder names
    if size > _MAX_PART_BYTES:
        raise PathError(
            f"Store path {path!r} has a part of {size} bytes; at most {_MAX_PART_BYTES} are allowed. {_FIX}"
        )


def path_parts(path: str) -> list[str]:
    """The names of a validated path, root first: ``'/a/b'`` -> ``['a', 'b']``."""
    return validate_path(path)[1:].split("/")
