"""Input files that change while the step reading them runs: the value is not stored.

A step's signature hashes each ``dds.File`` before the function runs. If the file is rewritten while it runs,
the function may have read the new bytes (or half of each), and storing its value under the old bytes'
signature would hand it out later for the old content — a stale value. So ``keep`` takes the files'
identities again after the run and stores nothing when one changed (the value is still returned).
"""

from __future__ import annotations

from typing import Any, Iterable

from ..errors import DDSError
from .file import File, identity


def files_among(values: Iterable[Any]) -> list[File]:
    """The ``dds.File`` values among ``values`` and inside their lists, tuples, sets and dict values."""
    found: list[File] = []
    for value in values:
        if isinstance(value, File):
            found.append(value)
        elif isinstance(value, (list, tuple, set, frozenset)):
            found.extend(v for v in value if isinstance(v, File))
        elif isinstance(value, dict):
            found.extend(v for v in value.values() if isinstance(v, File))
    return found


def watch(files: Iterable[File]) -> list[tuple[File, str | None]]:
    """Each file with its identity now (what the signature hashed; cheap: the stat cache answers)."""
    return [(f, _identity_or_none(f)) for f in files]


def changed(watched: list[tuple[File, str | None]]) -> list[File]:
    """The watched files whose identity is not what it was."""
    return [f for f, before in watched if _identity_or_none(f) != before]


def _identity_or_none(f: File) -> str | None:
    try:
        return identity(f)
    except (DDSError, OSError):  # deleted or unreadable: not what the signature hashed
        return None
