"""Per-process memo of call signatures: a warm ``keep`` re-checks what the signature read instead of
rebuilding it.

The first call of ``keep(path, fn, ...)`` builds the signature and keeps the builder's graph together with
its probes (every name, attribute, cell, module file, class attribute and loaded path it read; see
``probes.py``). A later call for the same ``path`` and the same ``fn`` object re-reads each of those and
compares by identity, re-hashes every value that could have been mutated in place (lists, dicts,
instances ...), re-reads what the store holds at each loaded path, then hashes only the call's arguments.
If anything differs, the signature is rebuilt from scratch. Nothing is skipped that a rebuild would look
at, so the memo can make a call faster but never give it a different signature.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from . import shape_cache
from .build import SignatureBuilder
from .resolve import plain_class_attributes
from .tree import ARGUMENTS, FUNCTION, KEYWORD_ARGUMENTS, CallSignature, Dep, Unit, call_digest, unit_digest
from .probes import MISSING, Probes, exact_snapshot, generation, identity_suffices, invalidate_all
from .values import ValueHasher, preview

__all__ = ["call_signature", "invalidate_all", "warn_if_run_changed_inputs"]

log = logging.getLogger("dds")
_warned: set[tuple[str, str]] = set()  # (path, global) pairs already reported


class _Stale(Exception):
    """A re-check found something the memo does not cover: rebuild the signature."""


class _Entry:
    __slots__ = ("fn", "generation", "probes", "units", "by_key", "fn_dep")

    def __init__(self, fn: Callable, builder: SignatureBuilder):
        self.fn = fn
        self.generation = generation()
        self.probes: Probes = builder.probes.compact()
        self.units: dict[int, Unit] = builder._units  # id(object) -> its unit (units keep the objects alive)
        for unit in self.units.values():  # a process keeps an entry per path: no empty list per leaf unit
            if not unit.refs:
                unit.refs = ()
        self.by_key: dict[str, Unit] | None = None  # built on the first warm call that hashes arguments
        self.fn_dep = builder.root.deps[0] if identity_suffices(fn) else None  # token fixed while fn lives

    def unit_named(self, key: str) -> Unit:
        if self.by_key is None:
            self.by_key = {unit.key: unit for unit in self.units.values()}
        return self.by_key[key]


_entries: dict[str, _Entry] = {}
_empty: tuple[int, str, str] | None = None  # (generation, token of (), token of {}): what a call without arguments hashes to


def _empty_tokens() -> tuple[str, str]:
    """The tokens of no arguments, as the builder hashes them now (a hasher registered for tuple or dict later
    changes them: register_hasher starts a new generation)."""
    global _empty
    if _empty is None or _empty[0] != generation():
        hasher = ValueHasher(lambda obj: None)
        _empty = (generation(), hasher.token(()), hasher.token({}))
    return _empty[1], _empty[2]


def call_signature(path: str, fn: Callable, args: tuple, kwargs: dict,
                   load_sig: Callable[[str], str | None],
                   content_of: Callable[[str], str | None] = lambda sig: None) -> CallSignature:
    """The signature of ``keep(path, fn, *args, **kwargs)``, reusing this process's last one when valid."""
    entry = _entries.get(path)
    if entry is not None and entry.fn is fn and _still_valid(entry, load_sig):
        try:
            return _signature_from(entry, path, fn, args, kwargs)
        except _Stale:
            pass
    builder = SignatureBuilder(load_sig=load_sig, content_of=content_of)
    try:
        signature = builder.call_signature(path, fn, args, kwargs)
    finally:
        builder.release()
    shape_cache.flush_soon()
    if builder.probes.reusable:
        _entries[path] = _Entry(fn, builder)
    else:
        _entries.pop(path, None)
    return signature


def forget() -> None:
    """Drop every memoised signature (tests, and set_store)."""
    _entries.clear()


def _still_valid(entry: _Entry, load_sig: Callable[[str], str | None]) -> bool:
    if entry.generation != generation():
        return False
    probes = entry.probes
    missing = MISSING
    for namespace, key, found in probes.names:
        if namespace.get(key, missing) is not found:
            return False
    for owner, name, found in probes.attrs:
        if getattr(owner, name, missing) is not found:
            return False
    for cell, found in probes.cells:
        try:
            if cell.cell_contents is not found:
                return False
        except ValueError:
            if found is not missing:
                return False
    for filename, (size, mtime_ns) in probes.files.items():
        try:
            st = os.stat(filename)
        except OSError:
            return False
        if st.st_size != size or st.st_mtime_ns != mtime_ns:
            return False
    for cls, attributes in probes.class_attrs:
        if not _same_class_attributes(cls, attributes):
            return False
    for path, stored in probes.loads:
        if load_sig(path) != stored:
            return False
    for value, snapshot in probes.snapshots.values():
        if exact_snapshot(value) != snapshot:
            return False
    if probes.rehash:
        hasher = _Rehasher(entry.units)  # one per call: a hasher has per-call state
        try:
            for value, token in probes.rehash.values():
                if hasher.token(value) != token:
                    return False
        except Exception:  # noqa: BLE001 - e.g. a value now unhashable: the rebuild reports it properly
            return False
        finally:
            hasher.release()
    return True


def warn_if_run_changed_inputs(path: str, function: str,
                               quiet: Callable[[Any], bool] = lambda value: False) -> list[Any]:
    """Called right after ``function`` ran for ``path``: the globals its signature read that the run itself
    changed (so the next call would compute again), each logged once with the fix, except values ``quiet``
    says the caller reports itself. Returns the values that changed in place (a rebound global is only
    logged)."""
    entry = _entries.get(path)
    if entry is None:
        return []
    probes = entry.probes
    names = [f"{namespace.get('__name__', '?')}.{key}" for namespace, key, found in probes.names
             if namespace.get(key, MISSING) is not found]
    values: list[Any] = []
    for key, (value, snapshot) in probes.snapshots.items():
        if exact_snapshot(value) != snapshot:
            values.append(value)
            names.append(probes.labels.get(key, "?"))
    if probes.rehash:
        hasher = _Rehasher(entry.units)
        for key, (value, token) in probes.rehash.items():
            try:
                same = hasher.token(value) == token
            except Exception:  # noqa: BLE001 - the next signature reports what it cannot hash
                same = False
            if not same:
                values.append(value)
                if not quiet(value):
                    names.append(probes.labels.get(key, "?"))
    for name in names:
        if (path, name) not in _warned:
            _warned.add((path, name))
            log.warning(
                "dds: computing %s, %s changed %s, which its signature reads: the next call will compute it "
                "again. If %s is bookkeeping whose value never changes what is returned, exclude it: "
                "dds.ignore(%r)", path, function, name, name, name)
    return values


def _same_class_attributes(cls: type, attributes: list[tuple[str, Any]]) -> bool:
    now = plain_class_attributes(cls)
    return len(now) == len(attributes) and all(
        n1 == n2 and v1 is v2 for (n1, v1), (n2, v2) in zip(now, attributes))


def _signature_from(entry: _Entry, path: str, fn: Callable, args: tuple, kwargs: dict) -> CallSignature:
    """The call's signature from a still-valid entry: only the function token and arguments are hashed."""
    root = Unit(key=f"call:{path}", kind="call", obj=None, where=path)
    hasher: _Rehasher | None = None
    refs: list[Unit] = []
    empty_args, empty_kwargs = _empty_tokens()
    for name, value, empty in ((FUNCTION, fn, None), (ARGUMENTS, args, empty_args),
                               (KEYWORD_ARGUMENTS, kwargs, empty_kwargs)):
        if name == FUNCTION and entry.fn_dep is not None:
            token, keys = entry.fn_dep.token, entry.fn_dep.refs
        elif not value:
            token, keys = empty, []
        else:
            if hasher is None:
                hasher = _Rehasher(entry.units)
            if name == KEYWORD_ARGUMENTS:
                value = dict(sorted(value.items()))
            elif name == ARGUMENTS:
                value = tuple(value)
            try:
                token, keys = hasher.token_and_refs(value)
            except Exception:  # noqa: BLE001 - unknown code or an unhashable argument: the rebuild decides
                raise _Stale() from None
            if hasher.produced:
                raise _Stale()  # a data function among the arguments: its path changes what loads mean
        root.deps.append(Dep(name, token, tuple(keys), preview(value) if value and name != FUNCTION else None))  # as built
        for key in keys:
            unit = entry.unit_named(key)
            if unit not in refs:
                refs.append(unit)
    if hasher is not None:
        hasher.release()
    root.refs = refs
    root.local = call_digest(path, root.deps)
    root.sig = unit_digest(root.local, [r.sig for r in refs])
    return CallSignature(root.sig, root)


class _Rehasher(SignatureBuilder):
    """Hashes values exactly as the builder did, but code objects must be units the memo already holds."""

    def __init__(self, units: dict[int, Unit]):  # noqa: D107 - deliberately lighter than the builder's
        self._units = units  # read only: a code object outside them means the memo does not apply
        self._current = None
        self._reading = ""
        self._dep_refs: list[str] = []
        self._produced: set[str] = set()
        self._hasher = ValueHasher(self._object_token, self._context)

    @property
    def produced(self) -> set[str]:
        return self._produced

    def token_and_refs(self, value: Any) -> tuple[str, list[str]]:
        self._dep_refs = []
        return self._hasher.token(value), self._dep_refs

    def token(self, value: Any) -> str:
        return self._hasher.token(value)

    def _ref(self, obj: Any, kind: str, key: str) -> str:
        unit = self._units.get(id(obj))
        if unit is None or unit.obj is not obj:
            raise _Stale()
        self._dep_refs.append(unit.key)
        return "ref:" + unit.key
