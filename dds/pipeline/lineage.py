"""Lineage: which stored paths a value was made from (``dds show``, ``dds run --report``, ``dds.info``).

Read from what the metadata records: the paths the call's arguments came from (``arguments_from``) and the
signature tree, where ``load("/x")`` calls are recorded with the signature they read and calls of functions
whose output is kept at other paths are found by the function's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
