"""Build the Merkle signature of a call: walk every piece of user code it reaches, then hash bottom-up.

Each piece of user code (function, class, module referenced as a value) is a *unit*. A unit's *local*
digest covers its normalised AST and a token for every outside name it reads; a token is either a value
digest, a library's name and version, or a reference to another unit by its key. A unit's signature is
its local digest plus the signatures of the units it references, so a change anywhere below changes
everything above and nothing beside. Recursion (a unit reaching itself) is handled by hashing each
strongly connected component as a whole. The walk and the hashing are iterative: a chain of thousands of
helpers does not hit Python's recursion limit.
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import os
import sys
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import SignatureError, SourceUnavailableError, UnhashableValueError
from . import ignored, shape_cache
from .digest import digest
from .identity import module_identity
from .modules import is_user_module, library_version
from .normalize import CodeShape, ImportTarget, code_shape
from .probes import MISSING as _MISSING
from .probes import Probes, identity_suffices, known_plain_token, remember_plain_token
from .source import class_node, function_node, parse_file
from .values import ValueHasher, preview
from .writes import only_writes

#: Bump when the signature scheme changes, so old stored values are not mistaken for new ones.
#: 2: state the code only writes contributes its type; any object is hashed by its pickled state; arrays,
#: frames and tables over their buffers; ``dds.load`` by the stored content; code named by its file.
SCHEME = "dds-signature-2"


@dataclass(eq=False)
class Unit:
    """One node of the signature graph."""

    key: str
    kind: str  # "function", "class", "module" or "call"
    obj: Any
    local: str = ""
    refs: list["Unit"] = field(default_factory=list)
    deps: list[list] = field(default_factory=list)  # [name, token, ref key or None, preview or None]
    sig: str = ""
    code: str = ""  # digest of the normalised source alone, so `why` can tell "body changed" apart
    where: str = ""  # file:line, for messages and `why`


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
            self._tree = _tree(self._root)
        return self._tree


# -- memoised static analysis ---------------------------------------------------------------------
_shapes: dict[int, tuple[Any, CodeShape | None]] = {}


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
    return digest("bytecode", *parts)


# -- the builder ----------------------------------------------------------------------------------
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
        self._hasher = ValueHasher(self._object_token, self._describe, self._global_name)
        self.probes = Probes()  # every read of the live program, so a later call can re-check it cheaply
        self.root: Unit | None = None

    # public ------------------------------------------------------------------------------------
    def call_signature(self, path: str, fn: Callable, args: tuple, kwargs: dict) -> CallSignature:
        root = self.root = Unit(key=f"call:{path}", kind="call", obj=None, where=path)
        self._current = root
        self._dep(root, "function", fn)
        self._dep_arguments(root, args, kwargs)
        if self._produced:  # a data function passed as an argument: keeps depend on the arguments
            self.probes.reusable = False
        root.local = call_digest(path, root.deps)
        self._drain()
        self._loads_of_paths_kept_here()
        _merkle(root)
        return CallSignature(root.sig, root)

    def _dep_arguments(self, root: Unit, args: tuple, kwargs: dict) -> None:
        """The arguments: hashed on every call anyway, so nothing about them is kept for re-checks."""
        probes, self.probes = self.probes, Probes()
        try:
            self._dep(root, "arguments", tuple(args))
            self._dep(root, "keyword arguments", dict(sorted(kwargs.items())))
        finally:
            self.probes = probes

    def _loads_of_paths_kept_here(self) -> None:
        """``load("/p")`` of a path that code in this same graph keeps depends on that code, which the graph
        already covers, not on what the store held before it ran (that would change after the first run
        and cause one needless recompute)."""
        for unit, index, path in self._loads:
            if path in self._produced:
                unit.deps[index] = [f"load({path})", digest("load-kept-here", path), [], None]
                unit.local = digest(unit.kind, unit.code, *_dep_parts(unit))
            else:
                self.probes.loads.append((path, unit.deps[index][3]))

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
            unit.deps.append([name, digest("ignored", qualified or name), [], "<ignored>"])
            return
        self._reading = name
        self._dep_refs = []
        if value is _MISSING:
            token = digest("unresolved", name)
        elif unit.kind == "call":  # arguments: new objects on every call, not worth remembering
            token = self._token(value)
        else:
            token = known_plain_token(value)
            if token is None:
                token = self._token(value)
                remember_plain_token(value, token)
        unit.deps.append([name, token, self._dep_refs, preview(value) if value is not _MISSING else "<undefined>"])
        if value is not _MISSING and not identity_suffices(value):
            self.probes.mutable(value, token, qualified or name)  # may be mutated in place: re-checked on re-use

    def _global_name(self) -> str:
        unit = self._current
        return "" if unit is None or unit.kind == "call" else self._reading

    def _describe(self) -> str:
        unit = self._current
        if unit is None:
            return ""
        if unit.kind == "call":
            return f"While computing the signature of {unit.where} ({self._reading}): "
        return f"While hashing {unit.kind} {unit.key} ({unit.where}), which reads {self._reading!r}: "

    # tokens of non-data objects ------------------------------------------------------------------
    def _object_token(self, obj: Any) -> str | None:
        if isinstance(obj, _LibraryAttr):
            return obj.token
        if hasattr(obj, "__dds_keep_path__") and hasattr(obj, "__wrapped__"):
            self._produced.add(obj.__dds_keep_path__)
            return digest("data_function", obj.__dds_keep_path__, self._token(obj.__wrapped__))
        if isinstance(obj, types.FunctionType):
            module = obj.__module__ or ""
            if module == "dds" or module.startswith("dds."):
                return digest("dds", obj.__qualname__)
            if is_user_module(module):
                return self._ref(obj, "function", f"{module_identity(module, obj.__globals__)}:{obj.__qualname__}")
            return _library_token(module, obj.__qualname__)
        if isinstance(obj, type):
            if is_user_module(obj.__module__):
                return self._ref(obj, "class", f"{module_identity(obj.__module__)}:{obj.__qualname__}")
            return _library_token(obj.__module__, obj.__qualname__)
        if isinstance(obj, types.ModuleType):
            if is_user_module(obj.__name__):
                return self._ref(obj, "module", f"module:{module_identity(obj.__name__, vars(obj))}")
            return _library_token(obj.__name__, "")
        if isinstance(obj, functools.partial):
            return digest("partial", self._token(obj.func), self._token(obj.args), self._token(obj.keywords))
        if isinstance(obj, types.MethodType):
            return digest("method", self._token(obj.__func__), self._token(obj.__self__))
        if isinstance(obj, (staticmethod, classmethod)):
            return digest(type(obj).__name__, self._token(obj.__func__))
        if isinstance(obj, property):
            return digest("property", self._token(obj.fget), self._token(obj.fset), self._token(obj.fdel))
        if isinstance(obj, (types.BuiltinFunctionType, types.WrapperDescriptorType, types.MethodDescriptorType,
                            types.MethodWrapperType, types.ClassMethodDescriptorType)):
            owner = getattr(obj, "__self__", None)
            name = getattr(obj, "__qualname__", obj.__name__)
            if owner is None or isinstance(owner, types.ModuleType):
                return _library_token(getattr(obj, "__module__", None) or getattr(owner, "__name__", "builtins"), name)
            return digest("bound-builtin", name, self._token(owner))
        wrapped = getattr(obj, "__wrapped__", _MISSING)
        if wrapped is not _MISSING and callable(obj):  # functools.lru_cache and similar wrappers
            return digest("wrapper", self._token(type(obj)), self._token(wrapped))
        tp = type(obj)
        if is_user_module(tp.__module__):
            return self._hasher.instance_token(obj)
        name = getattr(obj, "__name__", None)
        if callable(obj) and isinstance(name, str):  # e.g. numpy ufuncs
            return digest("library-callable", _library_token(tp.__module__, tp.__qualname__), name)
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
            free = [(n, ()) for n in _code_names(code)]
            shape = CodeShape(ast_digest=ast_digest, free=free)
        if fn.__defaults__ is not None or fn.__kwdefaults__ is not None:
            self._dep(unit, "(defaults)", (fn.__defaults__, fn.__kwdefaults__))
        self._read_names(unit, shape, lambda name: _lookup_function_name(fn, code, name, probes),
                         package=_package_of(fn.__module__, fn.__globals__),
                         module=fn.__globals__.get("__name__") or fn.__module__)
        unit.code = shape.ast_digest
        unit.local = digest("function", shape.ast_digest, *_dep_parts(unit))

    def _analyse_class(self, unit: Unit) -> None:
        cls = unit.obj
        probes = self.probes
        module = sys.modules.get(cls.__module__)
        probes.name(sys.modules, cls.__module__, _MISSING if module is None else module)
        namespace = vars(module) if module is not None else {}
        shape = _class_shape(cls)
        unit.where = f"{getattr(module, '__file__', '?')} class {cls.__qualname__}"
        probes.attr(cls, "__bases__", cls.__bases__)
        self._dep(unit, "(bases)", tuple(cls.__bases__))
        self._read_names(unit, shape, lambda name: _lookup(namespace, name, probes),
                         package=_package_of(cls.__module__, namespace), module=cls.__module__)
        attributes = plain_class_attributes(cls)
        probes.class_attrs.append((cls, attributes))
        for name, value in attributes:
            try:
                self._dep(unit, f"(attribute) {name}", value)
            except UnhashableValueError:
                unit.deps.append([f"(attribute) {name}", digest("unhashable", type(value).__qualname__), [], None])
        unit.code = shape.ast_digest
        unit.local = digest("class", shape.ast_digest, *_dep_parts(unit))

    def _analyse_module(self, unit: Unit) -> None:
        module = unit.obj
        filename = getattr(module, "__file__", None)
        unit.where = filename or module.__name__
        if not filename:
            unit.local = digest("module-no-source", module.__name__)
            return
        try:
            st = os.stat(filename)  # before parsing: a later edit then fails the re-check
            self.probes.files[filename] = (st.st_size, st.st_mtime_ns)
        except OSError:
            self.probes.reusable = False
        tree = parse_file(filename).tree
        unit.code = unit.local = digest("module", ast.dump(tree, annotate_fields=False, include_attributes=False))

    def _read_names(self, unit: Unit, shape: CodeShape, lookup: Callable[[str], Any], package: str | None,
                    module: str | None) -> None:
        probes = self.probes
        for name, chain in shape.free:
            value, used, owner = _follow_split(lookup(name), chain, probes)
            qualified = f"{owner or module}.{chain[used - 1] if used else name}"
            label = ".".join((name,) + chain)
            kinds = shape.write_only.get((name, chain))
            if kinds is None or not self._written_only(unit, label, value, chain[used:], kinds, qualified):
                self._dep(unit, label, value, qualified)
        for local, chain in shape.import_uses:
            target = shape.imports[local]
            value, used, owner = _follow_split(_import_target(target, package, probes), chain, probes)
            if used:
                qualified = f"{owner}.{chain[used - 1]}"
            else:  # ``from module import NAME`` (absolute) names a global; ``import module`` is a module
                qualified = f"{target.module}.{target.attr}" if target.attr and not target.level else None
            label = _import_label(target) + "".join("." + c for c in chain)
            kinds = shape.import_write_only.get((local, chain))
            if kinds is None or not self._written_only(unit, label, value, chain[used:], kinds, qualified):
                self._dep(unit, label, value, qualified)
        for name, chain, path in shape.literal_calls:
            callee = _module_attr_chain(lookup(name), chain, probes)  # dds itself is a library
            if getattr(callee, "__dds_load__", False):
                stored = self._load_sig(path)
                content = self._content_of(stored) if stored else None
                # early cutoff: a load depends on the bytes stored at the path, not on the code that made them
                token = digest("load-content", path, content) if content else digest("load", path, stored or "absent")
                unit.deps.append([f"load({path})", token, [], stored])
                self._loads.append((unit, len(unit.deps) - 1, path))
            elif getattr(callee, "__dds_keep__", False):
                self._produced.add(path)
                unit.deps.append([f"keep({path})", digest("keep", path), [], None])

    def _written_only(self, unit: Unit, label: str, value: Any, tail: tuple[str, ...], kinds: tuple[str, ...],
                      qualified: str | None) -> bool:
        """Record a dep on state the code only writes (its type, not its content), if it is such state."""
        if value is _MISSING or isinstance(value, (_LibraryAttr, types.ModuleType)):
            return False
        if ignored.is_ignored(value, qualified) or not only_writes(value, tail, kinds, function_shape, is_user_module):
            return False  # an ignored value is recorded as such by _dep
        self._reading = label
        self._dep_refs = []
        if not tail and isinstance(value, (types.MethodType, types.BuiltinMethodType)):
            # log = LOGGER.log / log = RAN.append, called by name: the method (its code) and its receiver's type
            method = self._token(value.__func__) if isinstance(value, types.MethodType) else value.__name__
            token = digest("written-only-method", method, self._token(type(value.__self__)))
            what = f"{type(value.__self__).__qualname__}.{value.__name__}"
        else:
            token = digest("written-only", self._token(type(value)))
            what = type(value).__qualname__
        unit.deps.append([label, token, self._dep_refs, f"<written only: {what}>"])
        return True


# -- helpers --------------------------------------------------------------------------------------
class _LibraryAttr:
    """Stands for ``library_module.some.attr``: identified by name and version, never by value."""

    __dds_library_attr__ = True  # the same token for as long as it lives (see probes.identity_suffices)

    def __init__(self, module: str, chain: tuple[str, ...]):
        self.token = _library_token(module, ".".join(chain))


@functools.lru_cache(maxsize=4096)
def _library_token(module: str, qualname: str) -> str:
    """Name and installed version: both fixed for the life of the process, so computed once."""
    return digest("library", module, qualname, library_version(module))


def _follow_split(value: Any, chain: tuple[str, ...], probes: Probes | None = None) -> tuple[Any, int, str | None]:
    """Follow an attribute chain through modules; stop at the first object that is not a module. Returns
    that object, how many attributes of ``chain`` were used and the module the last one came from."""
    owner = None
    for i, attr in enumerate(chain):
        if value is _MISSING or not isinstance(value, types.ModuleType):
            return value, i, owner
        if not is_user_module(value.__name__):
            return _LibraryAttr(value.__name__, chain[i:]), len(chain), None
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


def _lookup(namespace: dict, name: str, probes: Probes | None = None) -> Any:
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


def _lookup_function_name(fn: types.FunctionType, code: types.CodeType, name: str,
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
    return _lookup(fn.__globals__, name, probes)


def _package_of(module_name: str | None, namespace: dict) -> str | None:
    package = namespace.get("__package__")
    if package is None and module_name:
        package = module_name.rpartition(".")[0]
    return package


def _import_target(target: ImportTarget, package: str | None, probes: Probes | None = None) -> Any:
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


def _import_label(target: ImportTarget) -> str:
    base = "." * target.level + target.module
    return f"import {base}" if target.attr is None else f"from {base} import {target.attr}"


def _code_names(code: types.CodeType) -> list[str]:
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


def call_digest(path: str, deps: list[list]) -> str:
    """Local digest of a call unit: the path and the tokens of its function and arguments."""
    return digest("call", SCHEME, path, *(token for _, token, _, _ in deps))


def _dep_parts(unit: Unit) -> list[str]:
    parts: list[str] = []
    for name, token, _, _ in unit.deps:
        parts += [name, token]
    return parts


def _merkle(root: Unit) -> None:
    """Assign ``sig`` to every unit reachable from ``root`` (iterative Tarjan, sinks first)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[Unit] = []
    counter = 0
    work: list[tuple[Unit, int]] = [(root, 0)]
    while work:
        unit, i = work.pop()
        uid = id(unit)
        if i == 0:
            index[uid] = low[uid] = counter
            counter += 1
            stack.append(unit)
            on_stack.add(uid)
        if i < len(unit.refs):
            work.append((unit, i + 1))
            child = unit.refs[i]
            cid = id(child)
            if cid not in index:
                work.append((child, 0))
            elif cid in on_stack:
                low[uid] = min(low[uid], index[cid])
            continue
        if low[uid] == index[uid]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(id(member))
                component.append(member)
                if member is unit:
                    break
            _sign_component(component)
        if work:
            parent = work[-1][0]
            low[id(parent)] = min(low[id(parent)], low[uid])


def _sign_component(component: list[Unit]) -> None:
    if len(component) == 1 and component[0] not in component[0].refs:
        unit = component[0]
        unit.sig = digest("unit", unit.local, *(r.sig for r in unit.refs))
        return
    members = set(map(id, component))
    parts = []
    for unit in sorted(component, key=lambda u: u.key):
        refs = [("scc:" + r.key) if id(r) in members else r.sig for r in unit.refs]
        parts.append(digest("member", unit.key, unit.local, *refs))
    group = digest("component", *parts)
    for unit in component:
        unit.sig = digest("in-component", unit.key, group)


def _tree(root: Unit) -> dict:
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


def _module_attr_chain(value: Any, chain: tuple[str, ...], probes: Probes) -> Any:
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


def _getattr_chain(value: Any, chain: tuple[str, ...], probes: Probes | None = None) -> Any:
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
    value = _getattr_chain(_lookup_function_name(fn, fn.__code__, name), chain)
    return None if value is _MISSING else value
