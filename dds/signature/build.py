"""Build the Merkle signature of a call: walk every piece of user code it reaches, then hash bottom-up.

Each piece of user code (function, class, module referenced as a value) is a *unit* (``tree.py``). The walk
reads each unit's normalised code (``normalize``/``shape_cache``), resolves every outside name it reads
(``resolve``) and hashes the value found (``values``) or refers to the unit it is; ``merkle`` then signs
the graph. The walk is iterative. Knows no files or stores: what the store holds at a path comes in as the
``load_sig``/``content_of`` callables.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
import types
from typing import Any, Callable

from ..errors import SourceUnavailableError, UnhashableValueError
from . import ignored, merkle, shape_cache
from .digest import Tag, digest
from .identity import module_identity
from .modules import is_user_module
from .normalize import CodeShape, code_shape
from .probes import MISSING as _MISSING
from .probes import Probes, identity_suffices, known_plain_token, remember_plain_token
from .resolve import (LibraryAttr, code_names, follow_split, import_label, import_target, library_token, lookup,
                      lookup_function_name, module_attr_chain, package_of, plain_class_attributes)
from .source import class_node, function_node, parse_file
from .tree import (ARGUMENTS, BASES, DEFAULTS, FUNCTION, KEYWORD_ARGUMENTS, CallSignature, Dep, Unit, attribute_label,
                   call_digest, data_function_token, keep_label, load_kept_here_token, load_label, local_digest)
from .values import ValueHasher, preview
from .writes import only_writes


_shapes: dict[int, tuple[Any, CodeShape | None]] = {}
_HASHED_EVERY_CALL = (ARGUMENTS, KEYWORD_ARGUMENTS)


def function_shape(code: types.CodeType) -> CodeShape | None:
    """Static shape of a function's code; None when it has no source at all (exec'd code)."""
    cached = _shapes.get(id(code))
    if cached is not None and cached[0] is code:
        return cached[1]
    try:
        shape: CodeShape | None = shape_cache.lookup(code)
        if shape is None:
            node = function_node(code)
            shape = code_shape(node, keep_decorators=False)
            shape_cache.remember(code, node.end_lineno, shape)
    except SourceUnavailableError:
        if not code.co_filename.startswith("<") or _has_linecache(code.co_filename):
            raise
        shape = None
    _shapes[id(code)] = (code, shape)
    return shape


def _has_linecache(filename: str) -> bool:
    import linecache

    return bool(linecache.getlines(filename))


def _class_shape(cls: type) -> CodeShape:
    cached = _shapes.get(id(cls))
    if cached is not None and cached[0] is cls:
        return cached[1]
    shape = code_shape(class_node(cls), keep_decorators=True)
    _shapes[id(cls)] = (cls, shape)
    return shape


def _bytecode_digest(code: types.CodeType) -> str:
    """Fallback for code with no source (created by exec): hash the compiled code itself."""
    parts: list[str | bytes] = [code.co_code, ",".join(code.co_names), str(code.co_argcount),
                                str(code.co_kwonlyargcount), str(code.co_flags)]
    for const in code.co_consts:
        parts.append(_bytecode_digest(const) if isinstance(const, types.CodeType) else repr(const))
    return digest(Tag.BYTECODE, *parts)


class SignatureBuilder:
    """Computes call signatures. ``load_sig(path)`` returns what the store holds at a path (or None);
    ``content_of(sig)`` the content digest of that stored value (or None), for early cutoff."""

    def __init__(self, load_sig: Callable[[str], str | None] = lambda path: None,
                 content_of: Callable[[str], str | None] = lambda sig: None):
        self._load_sig = load_sig
        self._content_of = content_of
        self._units: dict[int, Unit] = {}
        self._keys: set[str] = set()
        self._pending: list[Unit] = []
        self._current: Unit | None = None
        self._reading = ""
        self._dep_refs: list[str] = []
        self._produced: set[str] = set()  # paths kept by code inside this call's graph
        self._loads: list[tuple[Unit, int, str]] = []  # load("/p") dependencies: (unit, dep index, path)
        self._keepalive: list[Any] = []
        self._hasher = ValueHasher(self._object_token, self._context, self._global_name)
        self.probes = Probes()  # every read of the live program, so a later call can re-check it cheaply
        self.root: Unit | None = None

    # public ------------------------------------------------------------------------------------
    def call_signature(self, path: str, fn: Callable, args: tuple, kwargs: dict) -> CallSignature:
        root = self.root = Unit(key=f"call:{path}", kind="call", obj=None, where=path)
        self._current = root
        self._dep(root, FUNCTION, fn)
        self._dep_arguments(root, args, kwargs)
        if self._produced:  # a data function passed as an argument: keeps depend on the arguments
            self.probes.reusable = False
        root.local = call_digest(path, root.deps)
        self._drain()
        self._loads_of_paths_kept_here()
        merkle.sign(root)
        return CallSignature(root.sig, root)

    def release(self) -> None:
        """Drop the hasher, whose callbacks are this builder's methods: without that cycle, a builder is
        freed as soon as it is done instead of waiting for the cyclic garbage collector (whose passes over
        every signature a long pipeline keeps were ~30 % of a 10,000-step no-op)."""
        self._hasher = None

    def _dep_arguments(self, root: Unit, args: tuple, kwargs: dict) -> None:
        """The arguments: hashed on every call anyway, so nothing about them is kept for re-checks."""
        probes, self.probes = self.probes, Probes()
        try:
            self._dep(root, ARGUMENTS, tuple(args))
            self._dep(root, KEYWORD_ARGUMENTS, dict(sorted(kwargs.items())))
        finally:
            self.probes = probes

    def _loads_of_paths_kept_here(self) -> None:
        """``load("/p")`` of a path that code in this same graph keeps depends on that code, which the graph
        already covers, not on what the store held before it ran (that would change after the first run
        and cause one needless recompute)."""
        for unit, index, path in self._loads:
            if path in self._produced:
                unit.deps[index] = Dep(load_label(path), load_kept_here_token(path), (), None)
                unit.local = local_digest(unit.kind, unit.code, unit.deps)
            else:
                self.probes.loads.append((path, unit.deps[index].preview))

    def value_digest(self, value: Any) -> str:
        """Digest of a single value (no references to user code may be involved)."""
        return self._hasher.token(value)

    # walking -----------------------------------------------------------------------------------
    def _drain(self) -> None:
        while self._pending:
            unit = self._pending.pop()
            self._current = unit
            {"function": self._analyse_function, "class": self._analyse_class,
             "module": self._analyse_module}[unit.kind](unit)

    def _unit(self, obj: Any, kind: str, key: str) -> Unit:
        unit = self._units.get(id(obj))
        if unit is not None and unit.obj is obj:
            return unit
        final, n = key, 1
        while final in self._keys:
            n += 1
            final = f"{key}#{n}"
        unit = Unit(key=final, kind=kind, obj=obj)
        self._keys.add(final)
        self._units[id(obj)] = unit
        self._keepalive.append(obj)
        self._pending.append(unit)
        return unit

    def _ref(self, obj: Any, kind: str, key: str) -> str:
        unit = self._unit(obj, kind, key)
        if unit not in self._current.refs:
            self._current.refs.append(unit)
        self._dep_refs.append(unit.key)
        return "ref:" + unit.key

    def _token(self, value: Any) -> str:
        return self._hasher.token(value)

    def _dep(self, unit: Unit, name: str, value: Any, qualified: str | None = None) -> None:
        """Record that ``unit`` reads ``name`` = ``value``: [name, token, unit keys it reaches, preview].
        ``qualified`` (``module.NAME``) names a global for messages and ``dds.ignore``."""
        if value is not _MISSING and ignored.is_ignored(value, qualified):
            unit.deps.append(Dep(name, digest(Tag.IGNORED, qualified or name), (), "<ignored>"))
            return
        self._reading = name
        self._dep_refs = []
        if value is _MISSING:
            token = digest(Tag.UNRESOLVED, name)
        elif unit.kind == "call":  # arguments: new objects on every call, not worth remembering
            token = self._token(value)
        else:
            token = known_plain_token(value)
            if token is None:
                token = self._token(value)
                remember_plain_token(value, token)
        unit.deps.append(Dep(name, token, tuple(self._dep_refs), preview(value) if value is not _MISSING else "<undefined>"))
        if unit is self.root and name in _HASHED_EVERY_CALL:
            return  # the arguments: hashed again on every call, never re-checked (their probes are dropped)
        if value is not _MISSING and not identity_suffices(value):
            self.probes.mutable(value, token, qualified or name)  # may be mutated in place: re-checked on re-use

    def _global_name(self) -> str:
        unit = self._current
        return "" if unit is None or unit.kind == "call" else self._reading

    def _context(self) -> str:
        unit = self._current
        if unit is None:
            return ""
        if unit.kind == "call":
            return f"While computing the signature of {unit.where} ({self._reading}): "
        return f"While hashing {unit.kind} {unit.key} ({unit.where}), which reads {self._reading!r}: "

    # tokens of non-data objects ------------------------------------------------------------------
    def _object_token(self, obj: Any) -> str | None:
        if isinstance(obj, LibraryAttr):
            return obj.token
        if hasattr(obj, "__dds_keep_path__") and hasattr(obj, "__wrapped__"):
            self._produced.add(obj.__dds_keep_path__)
            return data_function_token(obj.__dds_keep_path__, self._token(obj.__wrapped__))
        if isinstance(obj, types.FunctionType):
            module = obj.__module__ or ""
            if module == "dds" or module.startswith("dds."):
                return digest(Tag.DDS, obj.__qualname__)
            if is_user_module(module):
                return self._ref(obj, "function", f"{module_identity(module, obj.__globals__)}:{obj.__qualname__}")
            return library_token(module, obj.__qualname__)
        if isinstance(obj, type):
            if is_user_module(obj.__module__):
                return self._ref(obj, "class", f"{module_identity(obj.__module__)}:{obj.__qualname__}")
            return library_token(obj.__module__, obj.__qualname__)
        if isinstance(obj, types.ModuleType):
            if is_user_module(obj.__name__):
                return self._ref(obj, "module", f"module:{module_identity(obj.__name__, vars(obj))}")
            return library_token(obj.__name__, "")
        if isinstance(obj, functools.partial):
            return digest(Tag.PARTIAL, self._token(obj.func), self._token(obj.args), self._token(obj.keywords))
        if isinstance(obj, types.MethodType):
            return digest(Tag.METHOD, self._token(obj.__func__), self._token(obj.__self__))
        if isinstance(obj, (staticmethod, classmethod)):
            return digest(type(obj).__name__, self._token(obj.__func__))
        if isinstance(obj, property):
            return digest(Tag.PROPERTY, self._token(obj.fget), self._token(obj.fset), self._token(obj.fdel))
        if isinstance(obj, (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType,
                            types.MethodWrapperType, types.ClassMethodDescriptorType)):
            owner = getattr(obj, "__self__", None)
            name = getattr(obj, "__qualname__", obj.__name__)
            if owner is None or isinstance(owner, types.ModuleType):
                return library_token(getattr(obj, "__module__", None) or getattr(owner, "__name__", "builtins"), name)
            return digest(Tag.BOUND_BUILTIN, name, self._token(owner))
        wrapped = getattr(obj, "__wrapped__", _MISSING)
        if wrapped is not _MISSING and callable(obj):  # functools.lru_cache and similar wrappers
            return digest(Tag.WRAPPER, self._token(type(obj)), self._token(wrapped))
        tp = type(obj)
        if is_user_module(tp.__module__):
            return self._hasher.instance_token(obj)
        name = getattr(obj, "__name__", None)
        if callable(obj) and isinstance(name, str):  # e.g. numpy ufuncs
            return digest(Tag.LIBRARY_CALLABLE, library_token(tp.__module__, tp.__qualname__), name)
        return None

    # unit analyses -------------------------------------------------------------------------------
    def _analyse_function(self, unit: Unit) -> None:
        fn = unit.obj
        code = fn.__code__
        probes = self.probes
        probes.attr(fn, "__code__", code)
        probes.attr(fn, "__defaults__", fn.__defaults__)
        probes.attr(fn, "__kwdefaults__", fn.__kwdefaults__)
        unit.where = f"{code.co_filename}:{code.co_firstlineno}"
        shape = function_shape(code)
        if shape is None:
            ast_digest = _bytecode_digest(code)
            free = [(n, ()) for n in code_names(code)]
            shape = CodeShape(ast_digest=ast_digest, free=free)
        if fn.__defaults__ is not None or fn.__kwdefaults__ is not None:
            self._dep(unit, DEFAULTS, (fn.__defaults__, fn.__kwdefaults__))
        self._read_names(unit, shape, lambda name: lookup_function_name(fn, code, name, probes),
                         package=package_of(fn.__module__, fn.__globals__),
                         module=fn.__globals__.get("__name__") or fn.__module__)
        unit.code = shape.ast_digest
        unit.local = local_digest(Tag.FUNCTION, shape.ast_digest, unit.deps)

    def _analyse_class(self, unit: Unit) -> None:
        cls = unit.obj
        probes = self.probes
        module = sys.modules.get(cls.__module__)
        probes.name(sys.modules, cls.__module__, _MISSING if module is None else module)
        namespace = vars(module) if module is not None else {}
        shape = _class_shape(cls)
        unit.where = f"{getattr(module, '__file__', '?')} class {cls.__qualname__}"
        probes.attr(cls, "__bases__", cls.__bases__)
        self._dep(unit, BASES, tuple(cls.__bases__))
        self._read_names(unit, shape, lambda name: lookup(namespace, name, probes),
                         package=package_of(cls.__module__, namespace), module=cls.__module__)
        attributes = plain_class_attributes(cls)
        probes.class_attrs.append((cls, attributes))
        for name, value in attributes:
            try:
                self._dep(unit, attribute_label(name), value)
            except UnhashableValueError:
                unit.deps.append(Dep(attribute_label(name), digest(Tag.UNHASHABLE, type(value).__qualname__), (), None))
        unit.code = shape.ast_digest
        unit.local = local_digest(Tag.CLASS, shape.ast_digest, unit.deps)

    def _analyse_module(self, unit: Unit) -> None:
        module = unit.obj
        filename = getattr(module, "__file__", None)
        unit.where = filename or module.__name__
        if not filename:
            unit.local = digest(Tag.MODULE_NO_SOURCE, module.__name__)
            return
        try:
            st = os.stat(filename)  # before parsing: a later edit then fails the re-check
            self.probes.files[filename] = (st.st_size, st.st_mtime_ns)
        except OSError:
            self.probes.reusable = False
        tree = parse_file(filename).tree
        unit.code = unit.local = digest(Tag.MODULE, ast.dump(tree, annotate_fields=False, include_attributes=False))

    def _read_names(self, unit: Unit, shape: CodeShape, lookup: Callable[[str], Any], package: str | None,
                    module: str | None) -> None:
        probes = self.probes
        for name, chain in shape.free:
            value, used, owner = follow_split(lookup(name), chain, probes)
            qualified = f"{owner or module}.{chain[used - 1] if used else name}"
            label = ".".join((name,) + chain)
            kinds = shape.write_only.get((name, chain))
            if kinds is None or not self._written_only(unit, label, value, chain[used:], kinds, qualified):
                self._dep(unit, label, value, qualified)
        for local, chain in shape.import_uses:
            target = shape.imports[local]
            value, used, owner = follow_split(import_target(target, package, probes), chain, probes)
            if used:
                qualified = f"{owner}.{chain[used - 1]}"
            else:  # ``from module import NAME`` (absolute) names a global; ``import module`` is a module
                qualified = f"{target.module}.{target.attr}" if target.attr and not target.level else None
            label = import_label(target) + "".join("." + c for c in chain)
            kinds = shape.import_write_only.get((local, chain))
            if kinds is None or not self._written_only(unit, label, value, chain[used:], kinds, qualified):
                self._dep(unit, label, value, qualified)
        for name, chain, path in shape.literal_calls:
            callee = module_attr_chain(lookup(name), chain, probes)  # dds itself is a library
            if getattr(callee, "__dds_load__", False):
                stored = self._load_sig(path)
                content = self._content_of(stored) if stored else None
                # early cutoff: a load depends on the bytes stored at the path, not on the code that made them
                token = digest(Tag.LOAD_CONTENT, path, content) if content else digest(Tag.LOAD, path, stored or "absent")
                unit.deps.append(Dep(load_label(path), token, (), stored))
                self._loads.append((unit, len(unit.deps) - 1, path))
            elif getattr(callee, "__dds_keep__", False):
                self._produced.add(path)
                unit.deps.append(Dep(keep_label(path), digest(Tag.KEEP, path), (), None))

    def _written_only(self, unit: Unit, label: str, value: Any, tail: tuple[str, ...], kinds: tuple[str, ...],
                      qualified: str | None) -> bool:
        """Record a dep on state the code only writes (its type, not its content), if it is such state."""
        if value is _MISSING or isinstance(value, (LibraryAttr, types.ModuleType)):
            return False
        if ignored.is_ignored(value, qualified) or not only_writes(value, tail, kinds, function_shape, is_user_module):
            return False  # an ignored value is recorded as such by _dep
        self._reading = label
        self._dep_refs = []
        if not tail and isinstance(value, (types.MethodType, types.BuiltinMethodType)):
            # log = LOGGER.log / log = RAN.append, called by name: the method (its code) and its receiver's type
            method = self._token(value.__func__) if isinstance(value, types.MethodType) else value.__name__
            token = digest(Tag.WRITTEN_ONLY_METHOD, method, self._token(type(value.__self__)))
            what = f"{type(value.__self__).__qualname__}.{value.__name__}"
        else:
            token = digest(Tag.WRITTEN_ONLY, self._token(type(value)))
            what = type(value).__qualname__
        unit.deps.append(Dep(label, token, tuple(self._dep_refs), f"<written only: {what}>"))
        return True
