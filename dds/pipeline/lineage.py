"""Lineage: which stored paths a value was made from (``dds show``, ``dds run --report``, ``dds.info``).

Read from what the metadata records: the paths the call's arguments came from (``arguments_from``) and the
signature tree, where ``load("/x")`` calls are recorded with the signature they read and calls of functions
whose output is kept at other paths are found by the function's name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..signature import tree as trees

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
    tree = meta.get("tree")
    units = trees.units(tree)
    own_path = meta.get("path")
    kept_at: dict[str, list[str]] = {}
    for path, other in stored.items():
        function = _kept_function(other)
        if path != own_path and function is not None:
            kept_at.setdefault(function, []).append(path)
    result = Lineage()
    seen: set[str] = set()
    root = trees.root_key(tree)
    todo = [(root, True, "")] if root is not None else []
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
        for dep in trees.deps(unit):
            name, token, refs = dep.name, dep.token, dep.refs
            path = trees.load_path(dep)
            if path is not None:
                read = dep.preview if isinstance(dep.preview, str) else None
                found.setdefault((path, "load"), Upstream(path, "load", _label(key, function), read_sig=read))
                continue
            for path in _data_function_paths(token, refs, stored):
                found[(path, "calls")] = Upstream(path, "calls", _label(key, function), refs[0].replace(":", ".", 1))
            # the kept call's own function is this value's code, not an upstream
            todo.extend((ref, key == root and name == trees.FUNCTION, _label(key, function)) for ref in refs)
    for path in meta.get("arguments_from") or []:  # kept values passed to the call (dds/step/provenance.py)
        if isinstance(path, str):
            found.setdefault((path, "argument"), Upstream(path, "argument", "the call itself"))
    result.upstream = sorted(found.values(), key=lambda u: (u.path, u.how))
    result.functions.sort()
    return result


def _kept_function(meta: dict) -> str | None:
    """The function a value was computed by, named as signature trees name it (by its file, see
    dds/signature/identity.py: the same whether it ran as ``__main__`` or imported); else the metadata's
    ``function`` (``module.qualname`` as Python named it)."""
    dep = trees.function_dep(meta.get("tree"))
    if dep is not None and len(dep.refs) == 1:
        return dep.refs[0].replace(":", ".", 1)
    function = meta.get("function")
    return function if isinstance(function, str) else None


def _label(key: str, function: str) -> str:
    return "the call itself" if key.startswith("call:") else function


def _data_function_paths(token: Any, refs: list[str], stored: dict[str, dict]) -> list[str]:
    """Paths P for which ``token`` is the token of a data function kept at P (exact, by recomputing it)."""
    if not isinstance(token, str) or len(refs) != 1:
        return []
    return [path for path in stored if trees.data_function_token(path, "ref:" + refs[0]) == token]


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
