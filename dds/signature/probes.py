"""What a signature read from the live program, recorded so a later call can check it cheaply.

Building a signature resolves names (module globals, closure cells, builtins, module attributes, imports),
reads function attributes (code, defaults), class attributes, module files and what the store holds at
loaded paths. Each read is recorded here as *(where, key, the object found)*. If every read gives the same
object again, and every value that could have been mutated in place hashes to the same token again, the
signature is unchanged: that is what lets a warm ``keep`` skip rebuilding it (see ``memo.py``).

Which objects are safe to compare by identity alone is decided by :func:`identity_suffices`: an object
whose token cannot change while the object lives (immutable data; code units, which carry their own
probes; library objects, hashed by name and version).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import fractions
import re
import types
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

#: The value of a name that is not defined (a read that found nothing is a read too).
MISSING: Any = object()

_generation = 0


def generation() -> int:
    """Changes whenever something that every signature depends on changes (accepted modules, hashers)."""
    return _generation


def invalidate_all() -> None:
    """Forget every recorded signature: called by accept_module, reject_module, register_hasher."""
    global _generation
    _generation += 1
    _plain_tokens.clear()


#: id -> (value, exact snapshot, token): a constant read by fifty steps is hashed once, then re-checked
#: against its snapshot (a list compared element by element costs far less than hashing it again)
_plain_tokens: dict[int, tuple[Any, list, str]] = {}


def known_plain_token(value: Any) -> str | None:
    """The token of a plain-data container hashed before, if it still holds exactly the same data."""
    known = _plain_tokens.get(id(value))
    if known is None or known[0] is not value or exact_snapshot(value) != known[1]:
        return None
    return known[2]


def remember_plain_token(value: Any, token: str) -> None:
    """Keep ``token`` for ``value`` if it is a list, tuple or dict of plain data (see exact_snapshot)."""
    if type(value) in (list, tuple, dict) and len(_plain_tokens) < 2_000:
        snapshot = exact_snapshot(value)
        if snapshot is not None:
            _plain_tokens[id(value)] = (value, snapshot, token)


#: Types whose values can never change: a re-read of the same object needs no re-hash, and the value memo
#: (``step/value_memo.py``) may hand the object out again.
IMMUTABLE = frozenset({
    type(None), bool, int, float, complex, str, bytes, range, type(Ellipsis), type(NotImplemented),
    datetime.datetime, datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, fractions.Fraction,
    uuid.UUID, re.Pattern,
})
_CODE_OBJECTS = (types.FunctionType, type, types.ModuleType)


def identity_suffices(value: Any, budget: int = 1000) -> bool:
    """True when the same object always hashes to the same token, so a re-read finding it again is enough.

    User functions, classes and modules qualify because each is a unit of the signature graph with its own
    probes; lists, dicts, sets and instances do not (they can be mutated in place) and are re-hashed.
    """
    tp = type(value)
    if tp in IMMUTABLE or isinstance(value, _CODE_OBJECTS):
        return True
    if isinstance(value, enum.Enum) or getattr(value, "__dds_library_attr__", False):
        return True
    if isinstance(value, types.BuiltinFunctionType):
        return value.__self__ is None or isinstance(value.__self__, types.ModuleType)
    if tp is tuple or tp is frozenset:
        if len(value) > budget:
            return False
        return all(identity_suffices(item, budget - len(value)) for item in value)
    return False


#: What an empty list or dict of a compacted ``Probes`` becomes: shared, so it costs no object per signature.
NOTHING: tuple = ()
NO_ENTRIES: Any = types.MappingProxyType({})


@dataclass(slots=True)
class Probes:
    """Every read one signature made of the live program."""

    names: list[tuple[dict, str, Any]] = field(default_factory=list)  # namespace.get(key) is obj
    attrs: list[tuple[Any, str, Any]] = field(default_factory=list)  # getattr(owner, name) is obj
    cells: list[tuple[Any, Any]] = field(default_factory=list)  # cell.cell_contents is obj
    files: dict[str, tuple[int, int]] = field(default_factory=dict)  # module file -> (size, mtime_ns)
    class_attrs: list[tuple[type, list[tuple[str, Any]]]] = field(default_factory=list)  # plain attributes
    rehash: dict[int, tuple[Any, str]] = field(default_factory=dict)  # id -> (mutable value, token it had)
    snapshots: dict[int, tuple[Any, list]] = field(default_factory=dict)  # id -> (mutable value, exact_snapshot)
    loads: list[tuple[str, str | None]] = field(default_factory=list)  # (path loaded, signature stored there)
    labels: dict[int, str] = field(default_factory=dict)  # id of a mutable value -> the name it was read by
    reusable: bool = True  # False: something was read that cannot be re-checked cheaply

    def name(self, namespace: dict, key: str, found: Any) -> None:
        self.names.append((namespace, key, found))

    def compact(self) -> "Probes":
        """Freeze for the memo: every empty list or dict becomes one shared empty value. A long pipeline keeps
        one ``Probes`` per path, and each empty container was an object the cyclic garbage collector walked on
        every full pass (most fields of most signatures are empty). Returns ``self``; no read may be recorded
        afterwards (the shared empties refuse writes)."""
        for name in _CONTAINERS:
            value = getattr(self, name)
            if not value:
                setattr(self, name, NOTHING if type(value) is list else NO_ENTRIES)
        return self

    def attr(self, owner: Any, name: str, found: Any) -> None:
        if isinstance(owner, types.ModuleType) and vars(owner).get(name, MISSING) is found:
            self.names.append((vars(owner), name, found))  # a dict read is cheaper than getattr
        else:
            self.attrs.append((owner, name, found))

    def cell(self, cell: Any, found: Any) -> None:
        self.cells.append((cell, found))

    def mutable(self, value: Any, token: str, label: str = "") -> None:
        """A value that may be mutated in place: compared with a snapshot if it is plain data, else re-hashed.
        ``label`` (``module.NAME``) says in messages which global changed."""
        if id(value) in self.snapshots or id(value) in self.rehash:
            return
        self.labels[id(value)] = label
        snapshot = exact_snapshot(value)
        if snapshot is not None:
            self.snapshots[id(value)] = (value, snapshot)
        else:
            self.rehash[id(value)] = (value, token)


_CONTAINERS = tuple(f.name for f in fields(Probes) if f.name != "reusable")  # what compact() may share

_EXACT = frozenset({int, str, bytes, bool, type(None)})  # of IMMUTABLE, those a snapshot holds as they are
_SNAPSHOT_LIMIT = 20_000


def exact_snapshot(value: Any) -> list | None:
    """A flat list that compares equal (``==``) exactly when ``value`` would hash the same, for lists, tuples
    and dicts of ints, strs, bytes, bools and None (every type recorded, so ``1`` and ``True`` differ; dict
    order kept); None for anything else (floats: ``0.0 == -0.0``), or when larger than the limit (which
    also stops on a list that contains itself). Much cheaper to re-take than a re-hash."""
    out: list = []
    stack = [value]
    while stack:
        item = stack.pop()
        tp = type(item)
        if tp in _EXACT:
            out += (tp, item)
        elif tp is list or tp is tuple:
            out += (tp, len(item))
            stack.extend(item)
        elif tp is dict:
            out += (tp, len(item))
            for pair in item.items():
                stack.extend(pair)
        else:
            return None
        if len(out) > _SNAPSHOT_LIMIT:
            return None
    return out
