"""What the ``dds`` command says about stored values: sizes, ages, ``--where`` filters and lineage.

Pure functions over metadata dicts, so they are tested without a terminal. Lineage is read from the
signature tree kept in the metadata: ``load("/x")`` calls are recorded there with the signature they read;
calls of functions whose output is kept at other paths are found by the function's name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

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


# --------------------------------------------------------------------------------------------- lineage
@dataclass
class Upstream:
    """One upstream path of a value and how the value depends on it."""

    path: str
    how: str  # "load" (reads it with dds.load), "calls" (calls the function kept at it) or "argument"
    via: str  # the function that reads it (for "calls": the caller)
    callee: str | None = None  # for "calls": the function kept at ``path``
    read_sig: str | None = None  # for "load": the signature it read when the value was computed
    exact: bool = True  # False: matched by function name only (the function may also be called directly)


@dataclass
class Lineage:
    upstream: list[Upstream] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # every user function/class the value's code reaches


def lineage(meta: dict, stored: dict[str, dict]) -> Lineage:
    """Direct upstream paths of the value described by ``meta``; ``stored`` maps path -> meta of the store.

    Walks the signature tree from its root and stops at functions kept at other paths (their own upstream
    is their lineage, not this value's).
    """
    tree = meta.get("tree") if isinstance(meta.get("tree"), dict) else {}
    units = tree.get("units") if isinstance(tree.get("units"), dict) else {}
    own_path = meta.get("path")
    kept_at: dict[str, list[str]] = {}
    for path, other in stored.items():
        function = _kept_function(other)
        if path != own_path and function is not None:
            kept_at.setdefault(function, []).append(path)
    result = Lineage()
    seen: set[str] = set()
    root = tree.get("root")
    todo = [(root, True, "")] if isinstance(root, str) else []
    found: dict[tuple[str, str], Upstream] = {}
    while todo:
        key, is_own, caller = todo.pop()
        if key in seen or key not in units:
            continue
        seen.add(key)
        unit = units[key] if isinstance(units[key], dict) else {}
        function = key.replace(":", ".", 1)
        if unit.get("kind") in ("function", "class"):
            result.functions.append(function)
        if not is_own and function in kept_at:
            for path in kept_at[function]:
                found.setdefault((path, "calls"), Upstream(path, "calls", caller, function, exact=False))
            continue
        for dep in unit.get("deps") or []:
            if not isinstance(dep, list) or len(dep) < 2 or not isinstance(dep[0], str):
                continue
            name, token = dep[0], dep[1]
            refs = _ref_keys(dep[2] if len(dep) > 2 else None)
            if name.startswith("load(") and name.endswith(")"):
                path = name[len("load("):-1]
                read = dep[3] if len(dep) > 3 and isinstance(dep[3], str) else None
                found.setdefault((path, "load"), Upstream(path, "load", _label(key, function), read_sig=read))
                continue
            for path in _data_function_paths(token, refs, stored):
                found[(path, "calls")] = Upstream(path, "calls", _label(key, function), refs[0].replace(":", ".", 1))
            # the kept call's own function is this value's code, not an upstream
            todo.extend((ref, key == root and name == "function", _label(key, function)) for ref in refs)
    for path in meta.get("arguments_from") or []:  # kept values passed to the call (dds/provenance.py)
        if isinstance(path, str):
            found.setdefault((path, "argument"), Upstream(path, "argument", "the call itself"))
    result.upstream = sorted(found.values(), key=lambda u: (u.path, u.how))
    result.functions.sort()
    return result


def _kept_function(meta: dict) -> str | None:
    """The function a value was computed by, named as signature trees name it (by its file, see
    dds/signature/identity.py: the same whether it ran as ``__main__`` or imported); else the metadata's
    ``function`` (``module.qualname`` as Python named it)."""
    tree = meta.get("tree") if isinstance(meta.get("tree"), dict) else {}
    root = (tree.get("units") or {}).get(tree.get("root")) if isinstance(tree.get("units"), dict) else None
    for dep in (root or {}).get("deps") or []:
        if isinstance(dep, list) and len(dep) > 2 and dep[0] == "function":
            refs = _ref_keys(dep[2])
            if len(refs) == 1:
                return refs[0].replace(":", ".", 1)
    function = meta.get("function")
    return function if isinstance(function, str) else None


def _ref_keys(raw: Any) -> list[str]:
    if isinstance(raw, str):  # older trees kept a single key
        return [raw]
    return [r for r in raw if isinstance(r, str)] if isinstance(raw, list) else []


def _label(key: str, function: str) -> str:
    return "the call itself" if key.startswith("call:") else function


def _data_function_paths(token: Any, refs: list[str], stored: dict[str, dict]) -> list[str]:
    """Paths P for which ``token`` is the token of a data function kept at P (exact, by recomputing it)."""
    if not isinstance(token, str) or len(refs) != 1:
        return []
    try:
        from ..signature.digest import digest
    except ImportError:  # pragma: no cover - the engine's layout changed; fall back to name matching
        return []
    return [path for path in stored if digest("data_function", path, "ref:" + refs[0]) == token]


def upstream_note(up: Upstream, current_sig: str | None) -> str:
    """How a value depends on ``up``, in words (``dds show``, ``dds.info``); ``current_sig`` is what the store
    holds at ``up.path`` now."""
    if up.how == "load":
        if up.read_sig is None:
            state = "was absent when read"
        elif current_sig == up.read_sig:
            state = f"read {up.read_sig[:10]}, still current"
        else:
            state = f"read {up.read_sig[:10]}, now {current_sig[:10] if current_sig else 'absent'} (changed since)"
        return f"dds.load in {up.via} ({state})"
    if up.how == "argument":
        return "its value is passed to the call as an argument"
    if up.exact:
        return f"data function {up.callee} called by {up.via}"
    return f"{up.via} calls {up.callee}, whose output is kept here"
