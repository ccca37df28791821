"""Stored metadata read for people: sizes, ages and ``--where`` filters (``dds ls``/``show``, ``dds.info``).

Pure functions over metadata dicts, so they are tested without a terminal; no store, no signature code.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from ..errors import DamagedDataError

_MISSING = object()
_PREFIX_KEYS = {"git_commit", "signature"}  # `--where git_commit=abc123` matches a short commit


# ----------------------------------------------------------------------------------------- formatting
def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # unreachable


def age(stamp: str | None, now: datetime | None = None) -> str:
    """``"3m ago"`` for an ISO timestamp; ``"?"`` when there is none."""
    try:
        then = datetime.fromisoformat(str(stamp))
    except (TypeError, ValueError):
        return "?"
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = max(0.0, ((now or datetime.now(timezone.utc)) - then).total_seconds())
    for size, unit in ((86400 * 365, "y"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(seconds)}s ago"


def blob_size(meta: dict) -> int | None:
    files = meta.get("files")
    if not isinstance(files, dict):
        return None
    return sum(int(f.get("size") or 0) for f in files.values() if isinstance(f, dict))


# --------------------------------------------------------------------------------------------- --where
def parse_where(items: Iterable[str]) -> list[tuple[str, str]]:
    """``["host=ci-1"]`` -> ``[("host", "ci-1")]``; ValueError naming the bad item."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--where {item!r} is not key=value (for example --where host=ci-1)")
        out.append((key.strip(), value))
    return out


def lookup(meta: dict, key: str) -> Any:
    """``run.<key>`` first, then the top-level key; dotted keys walk nested dicts (``versions.pandas``)."""
    for base in (meta.get("run"), meta):
        value = _walk(base, key.split("."))
        if value is not _MISSING:
            return value
    return _MISSING


def matches(meta: dict, conditions: list[tuple[str, str]]) -> bool:
    return all(_equal(lookup(meta, key), wanted, key) for key, wanted in conditions)


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _equal(actual: Any, wanted: str, key: str) -> bool:
    if actual is _MISSING:
        return False
    if isinstance(actual, bool):
        return wanted.strip().lower() in (("true", "1", "yes") if actual else ("false", "0", "no"))
    text = actual if isinstance(actual, str) else json.dumps(actual, sort_keys=True)
    if text == wanted:
        return True
    last = key.rsplit(".", 1)[-1]
    return last in _PREFIX_KEYS and isinstance(actual, str) and len(wanted) >= 4 and actual.startswith(wanted)


def iter_by_path(store: Any, on_error: Callable[[str, str, Exception], None] | None = None
                 ) -> Iterator[tuple[str, dict]]:
    """``(path, metadata)`` of every path in ``store``, in path order, one at a time (a million paths in flat
    memory); damaged entries are left out and passed to ``on_error(path, sig, exc)``."""
    for path, sig in store.iter_refs():
        try:
            meta = store.read_meta(sig)
        except DamagedDataError as exc:
            if on_error is not None:
                on_error(path, sig, exc)
            continue
        if meta is not None:
            yield path, meta


def by_path(store: Any, on_error: Callable[[str, str, Exception], None] | None = None) -> dict[str, dict]:
    """``{path: metadata}`` of every path in ``store`` (what lineage needs at once); see ``iter_by_path``."""
    return dict(iter_by_path(store, on_error))
