"""Normalise a function's or class's AST and list the outside names it reads.

Normalisation removes what cannot change behaviour: comments and formatting (gone after parsing), line
numbers (``ast.dump`` leaves them out), docstrings, decorators of the hashed function itself (the live
object already reflects them) and the names of local variables, which are renamed to ``_0, _1 ...`` in
order of first appearance, scope by scope, following Python's scoping rules (class bodies do not enclose
methods; comprehensions have their own scope; ``global``/``nonlocal`` are honoured).

The result also lists every *free* name the code reads, with the attribute chain that follows it
(``util.helper`` -> ``("util", ("helper",))``), names bound by ``import`` statements inside the code (they
are dependencies too), and literal paths passed to calls (for ``dds.load("/path")``).
"""

from __future__ import annotations

import ast
import pickle
from dataclasses import dataclass, field

from .digest import Tag, digest
from .probes import NO_ENTRIES

_FUNCTION_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class ImportTarget:
    """What a name bound by an import statement inside the code refers to."""

    module: str  # absolute module name ("" level resolved later against the function's package)
    attr: str | None  # for ``from module import attr``
    level: int  # relative import level


@dataclass(slots=True)
class CodeShape:
    """The static facts about a piece of code that do not depend on live values."""

    ast_digest: str
    free: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (name, attribute chain)
    imports: dict[str, ImportTarget] = field(default_factory=dict)  # local name -> import target
    import_uses: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    literal_calls: list[tuple[str, tuple[str, ...], str]] = field(default_factory=list)  # (name, chain, "/path")
    #: free (name, chain) keys whose every use only writes (see ``WRITES``), with the kinds of write
    write_only: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = field(default_factory=dict)
    #: the same for names bound by imports inside the code (keys as in ``import_uses``)
    import_write_only: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = field(default_factory=dict)
    #: for a def: how its first parameter (``self`` of a method) is used, chain -> write kinds; None when
    #: it is read anywhere (returned, passed, compared, its attributes read ...) or there is no parameter
    self_writes: dict[tuple[str, ...], tuple[str, ...]] | None = None

    def frozen(self) -> "CodeShape":
        """Lists as tuples and empty dicts as one shared empty mapping: a process keeps a shape per function it
        signed, and tuples of strings (unlike lists and dicts) cost the cyclic garbage collector nothing once
        seen. Returns ``self``, read-only from now on."""
        self.free = tuple(self.free)
        self.import_uses = tuple(self.import_uses)
        self.literal_calls = tuple(self.literal_calls)
        self.imports = self.imports or NO_ENTRIES
        self.write_only = self.write_only or NO_ENTRIES
        self.import_write_only = self.import_write_only or NO_ENTRIES
        return self


#: The kinds of use that only write to what a chain names (``X`` is the chain ``name.attr...``):
#: ``X.a = v`` / ``X.a += v`` / ``del X.a`` (attr), ``X[k] = v`` / ``X[k] += v`` / ``del X[k]`` (item), and
#: ``X.m(...)`` or ``f(...)`` as a statement, its result discarded (call: whether ``m`` only writes, or ``f`` is
#: a bound method that only writes its receiver, is decided on the live object, see signature/writes.py).
#: Any other use is a read.
WRITES = ("attr", "item", "call")
_READ = "read"


class _Scope:
    __slots__ = ("kind", "parent", "bound", "globals", "nonlocals", "renamed", "imports")

    def __init__(self, kind: str, parent: "_Scope | None"):
        self.kind = kind  # "function", "class", "comprehension" or "outer"
        self.parent = parent
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.renamed: dict[str, str] = {}
        self.imports: dict[str, ImportTarget] = {}


class _Binder(ast.NodeVisitor):
    """First pass: which names each scope binds."""

    def __init__(self) -> None:
        self.scopes: dict[int, _Scope] = {}
        self.current: _Scope | None = None

    def enter(self, node: ast.AST, kind: str) -> _Scope:
        scope = _Scope(kind, self.current)
        self.scopes[id(node)] = scope
        return scope

    def bind(self, name: str) -> None:
        self.current.bound.add(name)

    def visit_root(self, node: ast.AST) -> _Scope:
        self.current = outer = _Scope("outer", None)
        self.visit(node)
        return outer

    def _function(self, node: ast.AST) -> None:
        if not isinstance(node, ast.Lambda):
            self.bind(node.name)
            for d in node.decorator_list:
                self.visit(d)
            if node.returns:
                self.visit(node.returns)
        self._arguments_outside(node.args)
        outer, self.current = self.current, self.enter(node, "function")
        for arg in all_arguments(node.args):
            self.bind(arg.arg)
            if arg.annotation:
                self.visit(arg.annotation)
        body = node.body if isinstance(node.body, list) else [node.body]
        for stmt in body:
            self.visit(stmt)
        self.current = outer

    def _arguments_outside(self, args: ast.arguments) -> None:
        for default in args.defaults + [d for d in args.kw_defaults if d is not None]:
            self.visit(default)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.bind(node.name)
        for expr in node.bases + [k.value for k in node.keywords] + node.decorator_list:
            self.visit(expr)
        outer, self.current = self.current, self.enter(node, "class")
        for stmt in node.body:
            self.visit(stmt)
        self.current = outer

    def _comprehension(self, node: ast.AST) -> None:
        outer, self.current = self.current, self.enter(node, "comprehension")
        self.generic_visit(node)
        self.current = outer

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            self.bind(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        scope = self.current
        while scope.kind == "comprehension" and scope.parent is not None:
            scope = scope.parent  # PEP 572: the target binds in the enclosing function
        scope.bound.add(node.target.id)
        self.visit(node.value)

    def visit_Global(self, node: ast.Global) -> None:
        self.current.globals.update(node.names)

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.current.nonlocals.update(node.names)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            local = alias.asname or alias.name.split(".", 1)[0]
            module = alias.name if alias.asname else alias.name.split(".", 1)[0]
            self.bind(local)
            self.current.imports[local] = ImportTarget(module, None, 0)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                continue
            local = alias.asname or alias.name
            self.bind(local)
            self.current.imports[local] = ImportTarget(node.module or "", alias.name, node.level)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.name:
            self.bind(node.name)
        self.generic_visit(node)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        if node.rest:
            self.bind(node.rest)
        self.generic_visit(node)


def all_arguments(args: ast.arguments) -> list[ast.arg]:
    """Every parameter of a signature: positional-only, regular, keyword-only, ``*args`` and ``**kwargs``."""
    out = args.posonlyargs + args.args + args.kwonlyargs
    if args.vararg:
        out.append(args.vararg)
    if args.kwarg:
        out.append(args.kwarg)
    return out


class _Renamer(ast.NodeTransformer):
    """Second pass: rename locals, drop docstrings, and record free names with their attribute chains."""

    def __init__(self, scopes: dict[int, _Scope], outer: _Scope):
        self.scopes = scopes
        self.current = outer
        self.counter = 0
        self.shape = CodeShape(ast_digest="")
        self._free_seen: set[tuple[str, tuple[str, ...]]] = set()
        self._import_seen: set[tuple[str, tuple[str, ...]]] = set()
        self._marks: dict[int, str] = {}  # id(chain node) -> the write it is the target of
        self._free_uses: dict[tuple[str, tuple[str, ...]], set[str]] = {}
        self._import_uses: dict[tuple[str, tuple[str, ...]], set[str]] = {}
        self._self: tuple[_Scope, str] | None = None  # (scope, name) of the hashed def's first parameter
        self._self_uses: dict[tuple[str, ...], set[str]] = {}

    # -- name resolution ---------------------------------------------------------------------------
    def _owner(self, name: str) -> _Scope | None:
        """The scope inside the hashed code that binds ``name`` as seen from the current scope."""
        scope = self.current
        first = True
        while scope is not None and scope.kind != "outer":
            if name in scope.globals:
                return None
            if name in scope.bound and name not in scope.nonlocals and (first or scope.kind != "class"):
                return scope
            first = False
            scope = scope.parent
        return None

    def _local_name(self, scope: _Scope, name: str) -> str:
        new = scope.renamed.get(name)
        if new is None:
            new = scope.renamed[name] = f"_{self.counter}"
            self.counter += 1
        return new

    def _rename(self, name: str) -> str:
        scope = self._owner(name)
        if scope is None or scope.kind == "class":  # class-level names are attributes: their names matter
            return name
        return self._local_name(scope, name)

    def _record_read(self, name: str, chain: tuple[str, ...], node: ast.AST) -> None:
        use = self._marks.pop(id(node), _READ)
        scope = self._owner(name)
        if scope is None:
            key = (name, chain)
            if key not in self._free_seen:
                self._free_seen.add(key)
                self.shape.free.append(key)
            self._free_uses.setdefault(key, set()).add(use)
        elif name in scope.imports:
            target_key = self._local_name(scope, name)
            key = (target_key, chain)
            if key not in self._import_seen:
                self._import_seen.add(key)
                self.shape.imports[target_key] = scope.imports[name]
                self.shape.import_uses.append(key)
            self._import_uses.setdefault(key, set()).add(use)
        elif self._self is not None and self._self == (scope, name):
            self._self_uses.setdefault(chain, set()).add(use)

    def finish(self) -> None:
        """Fill in the write-only facts once every use has been seen."""
        self.shape.write_only = _only_writes(self._free_uses)
        self.shape.import_write_only = _only_writes(self._import_uses)
        if self._self is not None and not any(_READ in uses for uses in self._self_uses.values()):
            self.shape.self_writes = _only_writes(self._self_uses)

    # -- writes ------------------------------------------------------------------------------------
    def _mark_target(self, target: ast.AST, attr: str, item: str) -> None:
        if isinstance(target, ast.Attribute):
            self._marks[id(target)] = attr  # X.a = v: the chain X.a is written
        elif isinstance(target, ast.Subscript):
            self._marks[id(target.value)] = item  # X[k] = v: X is written into
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._mark_target(element.value if isinstance(element, ast.Starred) else element, attr, item)

    def visit_Assign(self, node: ast.Assign):
        for target in node.targets:
            self._mark_target(target, "attr", "item")
        self.generic_visit(node)
        return node

    def visit_AugAssign(self, node: ast.AugAssign):
        self._mark_target(node.target, "attr", "item")
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign):
        if node.value is not None:  # a bare annotation ``X.a: int`` evaluates X: a read
            self._mark_target(node.target, "attr", "item")
        self.generic_visit(node)
        return node

    def visit_Delete(self, node: ast.Delete):
        for target in node.targets:
            self._mark_target(target, "attr", "item")
        self.generic_visit(node)
        return node

    def visit_Expr(self, node: ast.Expr):
        call = node.value
        if isinstance(call, ast.Call) and isinstance(call.func, (ast.Attribute, ast.Name)):
            self._marks[id(call.func)] = "call"  # X.m(...) or f(...) as a statement: its result is discarded
        self.generic_visit(node)
        return node

    # -- scopes ------------------------------------------------------------------------------------
    def _enter(self, node: ast.AST):
        outer, self.current = self.current, self.scopes[id(node)]
        return outer

    def _function(self, node):
        is_root = self.scopes[id(node)].parent.kind == "outer"  # the hashed def itself, not a nested one
        if not isinstance(node, ast.Lambda):
            node.name = self._rename(node.name)
            node.decorator_list = [self.visit(d) for d in node.decorator_list]
            if node.returns:
                node.returns = self.visit(node.returns)
        args = node.args
        args.defaults = [self.visit(d) for d in args.defaults]
        args.kw_defaults = [self.visit(d) if d is not None else None for d in args.kw_defaults]
        outer = self._enter(node)
        positional = args.posonlyargs + args.args
        if is_root and positional:
            self._self = (self.current, positional[0].arg)
        for arg in all_arguments(args):
            arg.arg = self._rename(arg.arg)
            arg.type_comment = None
            if arg.annotation:
                arg.annotation = self.visit(arg.annotation)
        if isinstance(node, ast.Lambda):
            node.body = self.visit(node.body)
        else:
            node.body = self._body(node.body)
            node.type_comment = None
        self.current = outer
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef):
        node.name = self._rename(node.name)
        node.bases = [self.visit(b) for b in node.bases]
        node.keywords = [self.visit(k) for k in node.keywords]
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        outer = self._enter(node)
        node.body = self._body(node.body)
        self.current = outer
        return node

    def _comprehension(self, node):
        outer = self._enter(node)
        self.generic_visit(node)
        self.current = outer
        return node

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension

    def _body(self, body: list[ast.stmt]) -> list[ast.stmt]:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:] or [ast.Pass()]
        out = []
        for stmt in body:
            new = self.visit(stmt)
            if new is not None:
                out.extend(new if isinstance(new, list) else [new])
        return out

    # -- names -------------------------------------------------------------------------------------
    def visit_Name(self, node: ast.Name):
        if isinstance(node.ctx, ast.Load):
            self._record_read(node.id, (), node)
        node.id = self._rename(node.id)
        return node

    def visit_Attribute(self, node: ast.Attribute):
        chain: list[str] = []
        base: ast.AST = node
        while isinstance(base, ast.Attribute):
            chain.append(base.attr)
            base = base.value
        if isinstance(base, ast.Name) and isinstance(base.ctx, ast.Load):
            self._record_read(base.id, tuple(reversed(chain)), node)
            # the base name itself is covered by the chain: rename it without recording a bare read
            inner: ast.AST = node
            while isinstance(inner.value, ast.Attribute):
                inner = inner.value
            inner.value.id = self._rename(base.id)
            return node
        self.generic_visit(node)
        return node

    def visit_Call(self, node: ast.Call):
        if node.args and (path := literal_str(node.args[0])) is not None:
            target = attribute_chain(node.func)
            if target is not None and self._owner(target[0]) is None:
                self.shape.literal_calls.append((target[0], target[1], path))
        self.generic_visit(node)
        return node

    def visit_Global(self, node: ast.Global):
        return node

    def visit_Nonlocal(self, node: ast.Nonlocal):
        node.names = [self._rename(n) for n in node.names]
        return node

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            if alias.asname:
                alias.asname = self._rename(alias.asname)
            else:
                alias.asname = self._rename(alias.name.split(".", 1)[0]) if "." not in alias.name else None
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                alias.asname = self._rename(alias.asname or alias.name)
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler):
        if node.name:
            node.name = self._rename(node.name)
        self.generic_visit(node)
        return node

    def visit_MatchAs(self, node: ast.MatchAs):
        if node.name:
            node.name = self._rename(node.name)
        self.generic_visit(node)
        return node

    visit_MatchStar = visit_MatchAs

    def visit_MatchMapping(self, node: ast.MatchMapping):
        if node.rest:
            node.rest = self._rename(node.rest)
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant):
        node.kind = None  # u"x" and "x" are the same string
        return node


def _only_writes(uses: dict) -> dict:
    return {key: tuple(sorted(kinds)) for key, kinds in uses.items() if _READ not in kinds}


def attribute_chain(expr: ast.AST) -> tuple[str, tuple[str, ...]] | None:
    """``a.b.c`` -> ``("a", ("b", "c"))``; None for anything that is not a name followed by attributes."""
    chain: list[str] = []
    while isinstance(expr, ast.Attribute):
        chain.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        return expr.id, tuple(reversed(chain))
    return None


def code_shape(node: ast.AST, *, keep_decorators: bool) -> CodeShape:
    """Normalise ``node`` (a def, lambda or class) and collect its free names; ``node`` is not modified."""
    node = pickle.loads(pickle.dumps(node, pickle.HIGHEST_PROTOCOL))  # a copy: 3x faster than deepcopy
    if not keep_decorators and hasattr(node, "decorator_list"):
        node.decorator_list = []
    binder = _Binder()
    outer = binder.visit_root(node)
    renamer = _Renamer(binder.scopes, outer)
    node = renamer.visit(node)
    renamer.finish()
    shape = renamer.shape
    shape.ast_digest = digest(Tag.AST, ast.dump(node, annotate_fields=False, include_attributes=False))
    return shape.frozen()


def literal_str(node: ast.AST | None) -> str | None:
    """The value of a ``str`` literal node, else None (how ``keep("/path", ...)`` paths are read)."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None
