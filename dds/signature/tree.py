"""The signature tree's one owner: its node types, the labels of its dependencies, how digests combine, and
its JSON form (kept in every value's metadata, read back by ``why``, the plan and lineage).

A *unit* is one piece of user code (function, class, module) or the call itself. Its *local* digest covers
its normalised code and one token per outside name it reads (a ``Dep``); its signature adds the signatures
of the units it references (``merkle.py``). Readers of a stored tree use the functions at the end of this
module, never the JSON layout directly. Imports only ``digest``; knows no files, stores or ASTs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, NamedTuple

from .digest import Tag, digest

#: Bump when the signature scheme changes, so old stored values are not mistaken for new ones.
#: 2: state the code only writes contributes its type; any object is hashed by its pickled state; arrays,
#: frames and tables over their buffers; ``dds.load`` by the stored content; code named by its file.
SCHEME = "dds-signature-2"

# Labels of dependencies that are not names in the code.
FUNCTION = "function"  # a call's function
ARGUMENTS = "arguments"
KEYWORD_ARGUMENTS = "keyword arguments"
DEFAULTS = "(defaults)"
BASES = "(bases)"


def attribute_label(name: str) -> str:
    """The label of a class attribute that is data."""
    return f"(attribute) {name}"


def load_label(path: str) -> str:
    return f"load({path})"


def keep_label(path: str) -> str:
    return f"keep({path})"


class Dep(NamedTuple):
    """One thing a unit reads: its label, its token, the keys of the units the token refers to, and a short
    preview of the value for ``why`` (for a load: the signature the path held). A tuple, so it is stored as
    the JSON list ``[name, token, refs, preview]``. ``refs`` is a tuple when built here (a tuple of strings costs
    the garbage collector nothing once it has seen it; a long pipeline keeps every step's deps), a list when
    read from JSON: readers only iterate it."""

    name: str
    token: str
    refs: "tuple[str, ...] | list[str]"
    preview: Any


@dataclass(eq=False, slots=True)  # slots: a long pipeline keeps two units per path, without a __dict__ each
class Unit:
    """One node of the signature graph."""

    key: str
    kind: str  # "function", "class", "module" or "call"
    obj: Any
    local: str = ""
    refs: list["Unit"] = field(default_factory=list)
    deps: list[Dep] = field(default_factory=list)
    sig: str = ""
    code: str = ""  # digest of the normalised source alone, so `why` can tell "body changed" apart
    where: str = ""  # file:line, for messages and `why`


# -- how digests combine --------------------------------------------------------------------------
def dep_parts(deps: list[Dep]) -> list[str]:
    parts: list[str] = []
    for dep in deps:
        parts += [dep.name, dep.token]
    return parts


def local_digest(kind: str, code: str, deps: list[Dep]) -> str:
    """Local digest of a function or class unit: its kind, its code and every dependency's label and token."""
    return digest(kind, code, *dep_parts(deps))


def call_digest(path: str, deps: list[Dep]) -> str:
    """Local digest of a call unit: the path and the tokens of its function and arguments."""
    return digest(Tag.CALL, SCHEME, path, *(dep.token for dep in deps))


def unit_digest(local: str, ref_sigs: Iterator[str] | list[str]) -> str:
    """Signature of a unit outside any cycle: its local digest and the signatures it references."""
    return digest(Tag.UNIT, local, *ref_sigs)


def data_function_token(path: str, function_token: str) -> str:
    """Token of a data function kept at ``path`` whose function has ``function_token`` (``ref:<key>``)."""
    return digest(Tag.DATA_FUNCTION, path, function_token)


def load_kept_here_token(path: str) -> str:
    """Token of ``load(path)`` when code in the same call keeps ``path`` (its code is covered instead)."""
    return digest(Tag.LOAD_KEPT_HERE, path)


class CallSignature:
    """The signature of one ``keep`` call and the tree that explains it (built only when asked for)."""

    __slots__ = ("sig", "_root", "_tree")

    def __init__(self, sig: str, root: Unit):
        self.sig = sig
        self._root = root
        self._tree: dict | None = None

    @property
    def tree(self) -> dict:
        if self._tree is None:
            self._tree = to_json(self._root)
        return self._tree

    def function_signature(self) -> tuple:
        """``function_signature(self.tree)``, read from the graph without building the tree."""
        dep = next((d for d in self._root.deps if d.name == FUNCTION), None)
        if dep is None:
            return ()
        sigs = {unit.key: unit.sig for unit in self._root.refs}  # a dep's refs are among its unit's refs
        return dep.token, tuple(sigs.get(key) for key in dep.refs)


# -- JSON form --------------------------------------------------------------------------------------
def to_json(root: Unit) -> dict:
    """A JSON-ready description of every unit: what ``why`` diffs between two runs."""
    units: dict[str, dict] = {}
    todo = [root]
    while todo:
        unit = todo.pop()
        if unit.key in units:
            continue
        units[unit.key] = {"kind": unit.kind, "sig": unit.sig, "code": unit.code, "where": unit.where,
                           "deps": unit.deps}
        todo.extend(unit.refs)
    return {"scheme": SCHEME, "root": root.key, "units": units}


# -- reading a tree (stored JSON or built now) -------------------------------------------------------
def units(tree: Any) -> dict[str, dict]:
    """``{key: unit}`` of a tree; {} for anything malformed (metadata written by hand or damaged)."""
    found = tree.get("units") if isinstance(tree, dict) else None
    return found if isinstance(found, dict) else {}


def root_key(tree: Any) -> str | None:
    key = tree.get("root") if isinstance(tree, dict) else None
    return key if isinstance(key, str) else None


def root_unit(tree: Any) -> dict | None:
    return units(tree).get(root_key(tree) or "")


def deps(unit: Any) -> list[Dep]:
    """A unit's dependencies as ``Dep`` (stored JSON has lists; trees older than scheme 2 may hold a single
    key instead of a list of refs)."""
    raw = unit.get("deps") if isinstance(unit, dict) else None
    found = []
    for dep in raw or ():
        if isinstance(dep, (list, tuple)) and len(dep) == 4:
            refs = dep[2]
            refs = [refs] if isinstance(refs, str) else [r for r in refs or () if isinstance(r, str)]
            found.append(Dep(dep[0], dep[1], refs, dep[3]))
    return found


def function_dep(tree: Any) -> Dep | None:
    """The call's function dependency (what ``dds.keep(path, fn)`` was given)."""
    return next((dep for dep in deps(root_unit(tree)) if dep.name == FUNCTION), None)


def function_signature(tree: Any) -> tuple:
    """The function's part of a call's signature: its token and the signatures of the units it reaches."""
    dep = function_dep(tree)
    if dep is None:
        return ()
    every = units(tree)
    return dep.token, tuple(every.get(key, {}).get("sig") for key in dep.refs)


def load_path(dep: Dep) -> str | None:
    """``/p`` for the dependency ``load(/p)``, else None."""
    return dep.name[5:-1] if dep.name.startswith("load(") and dep.name.endswith(")") else None


def loads(tree: Any) -> Iterator[tuple[str, Dep]]:
    """Every ``(path, dep)`` of a ``dds.load`` in the tree, in unit order."""
    for unit in units(tree).values():
        for dep in deps(unit):
            path = load_path(dep)
            if path is not None:
                yield path, dep
