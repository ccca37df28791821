"""What a name in user code refers to, at run time: closures, globals, builtins, imports and attribute
chains through modules; libraries are named with their version, never hashed.

Shared by the signature builder and the pipeline plan (which resolves ``dds.keep`` calls the same way).
Every read is recorded in the caller's ``Probes`` so a warm call can re-check it. Knows no files or stores.
"""

from __future__ import annotations

import builtins
import functools
import importlib
import importlib.util
import sys
import types
from typing import Any

from .digest import Tag, digest
from .modules import is_user_module, library_version
from .normalize import ImportTarget
from .probes import MISSING as _MISSING
from .probes import Probes


class LibraryAttr:
    """Stands for ``library_module.some.attr``: identified by name and version, never by value."""

    __dds_library_attr__ = True  # the same token for as long as it lives (see probes.identity_suffices)

    def __init__(self, module: str, chain: tuple[str, ...]):
        self.token = library_token(module, ".".join(chain))


@functools.lru_cache(maxsize=4096)
def library_token(module: str, qualname: str) -> str:
    """Name and installed version: both fixed for the life of the process, so computed once."""
    return digest(Tag.LIBRARY, module, qualname, library_version(module))


def follow_split(value: Any, chain: tuple[str, ...], probes: Probes | None = None) -> tuple[Any, int, str | None]:
    """Follow an attribute chain through modules; stop at the first object that is not a module. Returns
    that object, how many attributes of ``chain`` were used and the module the last one came from."""
    owner = None
    for i, attr in enumerate(chain):
        if value is _MISSING or not isinstance(value, types.ModuleType):
            return value, i, owner
        if not is_user_module(value.__name__):
            return LibraryAttr(value.__name__, chain[i:]), len(chain), None
        found = getattr(value, attr, _MISSING)
        if found is _MISSING and hasattr(value, "__path__"):  # a submodule the code imports before use
            try:
                found = importlib.import_module(f"{value.__name__}.{attr}")
            except ImportError:
                if probes is not None:
                    probes.reusable = False  # the import may succeed later
        if probes is not None:
            probes.attr(value, attr, found)
        owner = value.__name__
        value = found
    return value, len(chain), owner


def lookup(namespace: dict, name: str, probes: Probes | None = None) -> Any:
    value = namespace.get(name, _MISSING)
    if probes is not None:
        probes.name(namespace, name, value)
    if value is not _MISSING:
        return value
    b = namespace.get("__builtins__", builtins)
    b = vars(b) if isinstance(b, types.ModuleType) else b
    value = b.get(name, _MISSING)
    if probes is not None:
        probes.name(b, name, value)
    return value


def lookup_function_name(fn: types.FunctionType, code: types.CodeType, name: str,
                          probes: Probes | None = None) -> Any:
    if name in code.co_freevars and fn.__closure__:
        cell = fn.__closure__[code.co_freevars.index(name)]
        try:
            value = cell.cell_contents
        except ValueError:  # the enclosing function has not assigned it yet
            value = _MISSING
        if probes is not None:
            probes.cell(cell, value)
        return value
    return lookup(fn.__globals__, name, probes)


def package_of(module_name: str | None, namespace: dict) -> str | None:
    package = namespace.get("__package__")
    if package is None and module_name:
        package = module_name.rpartition(".")[0]
    return package


def import_target(target: ImportTarget, package: str | None, probes: Probes | None = None) -> Any:
    try:
        name = target.module
        if target.level:
            name = importlib.util.resolve_name("." * target.level + target.module, package or "")
        module = sys.modules.get(name) or importlib.import_module(name)
    except (ImportError, ValueError):
        if probes is not None:
            probes.reusable = False  # the import may succeed later
        return _MISSING
    if probes is not None:
        probes.name(sys.modules, name, module)
    if target.attr is None:
        return module
    value = getattr(module, target.attr, _MISSING)
    if value is _MISSING:  # ``from package import submodule`` before it was imported
        try:
            value = importlib.import_module(f"{name}.{target.attr}")
        except ImportError:
            value = _MISSING
            if probes is not None:
                probes.reusable = False
    if probes is not None:
        probes.attr(module, target.attr, value)
    return value


def import_label(target: ImportTarget) -> str:
    base = "." * target.level + target.module
    return f"import {base}" if target.attr is None else f"from {base} import {target.attr}"


def code_names(code: types.CodeType) -> list[str]:
    names: list[str] = []
    stack = [code]
    while stack:
        current = stack.pop()
        names.extend(n for n in current.co_names + current.co_freevars if n not in names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return names


def plain_class_attributes(cls: type) -> list[tuple[str, Any]]:
    """The class attributes that are data, not methods or dunders, sorted by name: part of a class's unit."""
    return [(name, value) for name, value in sorted(vars(cls).items())
            if not (name.startswith("__") and name.endswith("__"))
            and not isinstance(value, (types.FunctionType, staticmethod, classmethod, property))]


def module_attr_chain(value: Any, chain: tuple[str, ...], probes: Probes) -> Any:
    """``name.a.b`` when every step but the last is a module (``dds.load``, ``pipe.dds.keep``), else MISSING:
    a method of some other object is never a dds API function, and re-reading it on every warm call would
    fail the memo's identity check (``obj.method`` is a new bound method each time)."""
    for attr in chain:
        if not isinstance(value, types.ModuleType):
            return _MISSING
        found = getattr(value, attr, _MISSING)
        probes.attr(value, attr, found)
        value = found
    return value


def getattr_chain(value: Any, chain: tuple[str, ...], probes: Probes | None = None) -> Any:
    for attr in chain:
        if value is _MISSING:
            break
        found = getattr(value, attr, _MISSING)
        if probes is not None:
            probes.attr(value, attr, found)
        value = found
    return value


def resolve_chain(fn: types.FunctionType, name: str, chain: tuple[str, ...] = ()) -> Any:
    """The live object ``name.chain...`` refers to inside ``fn`` (closure, globals, builtins), or None."""
    value = getattr_chain(lookup_function_name(fn, fn.__code__, name), chain)
    return None if value is _MISSING else value
