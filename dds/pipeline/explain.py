"""Explain, in words, why a path's signature changed: a diff of two signature trees.

A signature tree (stored in every value's metadata) lists each unit of code the call reached, with its
code digest and what it read (``signature.tree.Dep``: name, token, unit keys reached, preview). Walking two trees from their
roots and following only the dependencies whose tokens differ finds exactly the edits that matter, e.g.
``fit -> scale: body changed (pipe/util.py:12)`` or ``fit: constant SCALE 3 -> 4``.
"""

from __future__ import annotations

import sys
from typing import Iterable

from .. import session
from ..errors import NotFoundError
from ..inputs.preview import describe_change
from ..signature import tree as trees


def _label(key: str) -> str:
    if key.startswith("call:"):
        return key[5:]
    if key.startswith("module:"):
        return "module " + key[7:]
    module, _, qualname = key.partition(":")
    return f"{module}.{qualname}" if qualname else key


def diff_trees(old: dict, new: dict) -> list[str]:
    """Every difference between two signature trees, one line each, most upstream cause last."""
    if old.get("scheme") != new.get("scheme"):
        return [f"the signature scheme changed ({old.get('scheme')} -> {new.get('scheme')})"]
    old_units, new_units = trees.units(old), trees.units(new)
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    todo: list[tuple[str, str, tuple[str, ...]]] = [(trees.root_key(old), trees.root_key(new), ())]
    while todo:
        old_key, new_key, trail = todo.pop(0)
        if (old_key, new_key) in seen:
            continue
        seen.add((old_key, new_key))
        a, b = old_units.get(old_key), new_units.get(new_key)
        if a is None or b is None or a["sig"] == b["sig"]:
            continue
        here = trail + (_label(new_key),)
        prefix = " -> ".join(here)
        if a.get("code") != b.get("code"):
            lines.append(f"{prefix}: code changed ({_where(b.get('where', '?'))})")
        old_deps = {d.name: d for d in trees.deps(a)}
        new_deps = {d.name: d for d in trees.deps(b)}
        for name in new_deps.keys() - old_deps.keys():
            lines.append(f"{prefix}: now reads {name}{_value(new_deps[name])}")
        for name in old_deps.keys() - new_deps.keys():
            lines.append(f"{prefix}: no longer reads {name}")
        for name in [d.name for d in trees.deps(b) if d.name in old_deps]:
            before, after = old_deps[name], new_deps[name]
            old_refs, new_refs = before.refs, after.refs
            if before.token == after.token and old_refs == new_refs and not _any_changed(old_refs, new_refs, old_units, new_units):
                continue
            if old_refs and new_refs and len(old_refs) == len(new_refs):
                for o, n in zip(old_refs, new_refs):
                    if o != n and o.split("#")[0] != n.split("#")[0]:
                        lines.append(f"{prefix}: {name} now refers to {_label(n)} instead of {_label(o)}")
                    else:
                        todo.append((o, n, here))
                if before.token != after.token and not _any_changed(old_refs, new_refs, old_units, new_units):
                    lines.append(f"{prefix}: {_phrase(name)} changed")
            elif (path := trees.load_path(after)) is not None:
                lines.append(f"{prefix}: upstream {path} changed "
                             f"({_short(before.preview)} -> {_short(after.preview)})")
            elif (files := describe_change(before.preview, after.preview)) is not None:  # dds.File: size, digest
                lines.append(f"{prefix}: {_phrase(name)} changed: {files}")
            elif before.preview is not None or after.preview is not None:
                lines.append(f"{prefix}: {_phrase(name)} changed {before.preview} -> {after.preview}")
            else:
                lines.append(f"{prefix}: {_phrase(name)} changed")
    return lines


def _identical_upstreams(old: dict | None, new: dict | None) -> list[str]:
    """Paths a ``dds.load`` read whose stored value was replaced by one with the same content (early cutoff:
    same token, another signature at the path)."""
    if not old or not new:
        return []
    before = {dep.name: dep for _path, dep in trees.loads(old)}
    found = []
    for path, dep in trees.loads(new):
        was = before.get(dep.name)
        if was is not None and was.token == dep.token and was.preview != dep.preview and path not in found:
            found.append(path)
    return found


def _where(where: str) -> str:
    """Where a unit's code is, for people: a notebook cell is named by its number (``In [3], line 1``)."""
    if "IPython" not in sys.modules:
        return where
    from .cells import cell_location

    return cell_location(where)


def _any_changed(old_refs: Iterable[str], new_refs: Iterable[str], old_units: dict, new_units: dict) -> bool:
    return any(old_units.get(o, {}).get("sig") != new_units.get(n, {}).get("sig") for o, n in zip(old_refs, new_refs))


_SPECIAL = {trees.DEFAULTS: "default argument values", trees.BASES: "base classes",
            trees.ARGUMENTS: "the arguments", trees.KEYWORD_ARGUMENTS: "the keyword arguments"}


def _phrase(name: str) -> str:
    """How a dependency name from the tree reads in a sentence."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    if name.startswith(trees.attribute_label("")):
        return "class attribute " + name[len(trees.attribute_label("")):]
    return name


def _value(dep: trees.Dep) -> str:
    return f" = {dep.preview}" if dep.preview is not None else ""


def _short(sig: str | None) -> str:
    return sig[:10] if sig else "nothing"


def explain(path: str, old_tree: dict | None, new_tree: dict | None, *, old_sig: str | None,
            new_sig: str | None) -> str:
    """A paragraph saying whether ``path`` is up to date and, if not, exactly what changed."""
    if new_sig is not None and old_sig == new_sig:
        same = "".join(f"; upstream {up} re-ran and produced identical data"
                       for up in _identical_upstreams(old_tree, new_tree))
        return f"{path} is up to date: the stored value ({new_sig[:10]}) matches the current code and inputs{same}."
    if old_tree is None:
        return f"{path} has no earlier stored value to compare with: it runs because nothing was stored for it."
    if new_tree is None:
        return f"{path}: the current signature is unknown (run the pipeline, or pass --pipeline)."
    changes = diff_trees(old_tree, new_tree)
    head = f"{path} changed ({_short(old_sig)} -> {_short(new_sig)}) because:"
    if not changes:
        changes = ["the signature differs, but no single dependency explains it (a different dds version?)"]
    return "\n".join([head] + [f"  - {line}" for line in changes])


def previous_version(store, path: str, sig: str) -> tuple[str, dict] | None:
    """What ``path`` held before it pointed at ``sig``, with its metadata: the most recent earlier ref in the
    store's ref history whose value is still stored. A store without history (written by an older dds)
    falls back to the value stored at ``path`` just before ``sig`` by time of storage."""
    history = store.ref_history(path)
    for old in history:
        meta = store.read_meta(old)
        if meta is not None:
            return old, meta
    if history:
        return None  # the earlier values were deleted (gc): nothing to compare with
    return _stored_before(store, path, sig)


def _stored_before(store, path: str, sig: str) -> tuple[str, dict] | None:
    """The newest value stored for ``path`` before ``sig``, found by listing every blob (stores written before
    refs kept a history); None on a store that cannot list itself."""
    if not callable(getattr(store, "iter_blob_sigs", None)):
        return None
    current = store.read_meta(sig)
    stamp = current.get("stored_at", "") if current else ""
    best: tuple[str, str, dict] | None = None
    for other in store.iter_blob_sigs():
        if other == sig:
            continue
        meta = store.read_meta(other)
        if meta is None or meta.get("path") != path or meta.get("stored_at", "") > stamp:
            continue
        if best is None or meta.get("stored_at", "") > best[0]:
            best = (meta.get("stored_at", ""), other, meta)
    return (best[1], best[2]) if best else None


def explain_stored_history(store, path: str) -> str:
    """Why the value currently at ``path`` differs from the one stored before it."""
    sig = store.get_ref(path)
    if sig is None:
        raise NotFoundError(f"Nothing is stored at {path} in the {store.describe()}; there is nothing to explain.")
    meta = store.read_meta(sig) or {}
    before = previous_version(store, path, sig)
    if before is None:
        if store.ref_history(path):
            return (f"{path} ({sig[:10]}): the values it held before were deleted from the store (dds gc), "
                    "so there is nothing to compare with.")
        return f"{path} ({sig[:10]}) has held only this value; no earlier value was stored to compare with."
    old_sig, old_meta = before
    return explain(path, old_meta.get("tree"), meta.get("tree"), old_sig=old_sig, new_sig=sig)


def explain_decision(store, path: str, decision) -> str:
    """Explain an ``session.Decision``: the stored tree at its old signature against its current tree."""
    old_meta = store.read_meta(decision.old_sig) if decision.old_sig else None
    old_tree = (old_meta or {}).get("tree")
    if decision.new_sig is None:  # arguments known only at run time: compare the code part only
        head = f"{path}: {decision.note or 'arguments are computed at run time'}"
        if old_tree is None or decision.tree is None:
            return head
        changes = [c for c in diff_trees(old_tree, decision.tree) if not _about_arguments(path, c)]
        return "\n".join([head] + [f"  - {line}" for line in changes])
    text = explain(path, old_tree, decision.tree, old_sig=decision.old_sig, new_sig=decision.new_sig)
    if decision.note:
        if decision.old_sig == decision.new_sig:
            text = f"{path} will re-run: {decision.note} (its own code and inputs are unchanged)."
        else:
            text += f"\n  - and {decision.note}"
    return text


def _about_arguments(path: str, line: str) -> bool:
    return line.startswith((f"{path}: the arguments", f"{path}: the keyword arguments"))


def explain_path(store, path: str, pipeline: str | None = None) -> str:
    """``dds why PATH``: with a pipeline, why it would re-run now; without, why its last value changed."""
    from ..paths import validate_path

    path = validate_path(path)
    if pipeline is None:
        return explain_stored_history(store, path)
    from .reference import import_pipeline
    from .plan import make_plan

    plan = make_plan(import_pipeline(pipeline), (), {}, store)
    if path not in plan.steps:
        raise NotFoundError(f"Pipeline {pipeline} does not keep {path}; it keeps: {', '.join(plan.steps) or 'nothing'}.")
    return explain_decision(store, path, session.decisions[path])
