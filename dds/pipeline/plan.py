"""Find every ``keep`` a pipeline reaches, without running it, and decide what is fresh and what must run.

The pipeline function's source is read (and that of every user function it reaches); a call site is a
``dds.keep("/literal/path", fn, ...)`` or a call of a ``@data_function``. For each site:

* if its arguments are known before running (literals, module constants, the pipeline's own arguments),
  its exact signature is computed: the step is *fresh* when the store holds it, else it *will run*;
* otherwise (arguments computed at run time) the step's code is compared with the stored value's: changed
  code *will run*; unchanged code is *fresh* when every argument comes from fresh upstream steps, else it
  *may run*.

Then a step whose upstream will run also will run. Upstream means: a ``dds.load("/p")`` in the step's
code, a kept value passed as an argument, or a ``keep`` nested inside the step's function.
"""

from __future__ import annotations

import ast
import functools
import inspect
import pathlib
import types
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import session
from ..step.overlaps import check_plan
from ..store.content import content_digest
from ..paths import validate_path
from ..signature import call_signature, is_user_module, resolve_chain
from ..signature import tree as trees
from ..signature.build import function_shape
from ..signature.identity import function_identity, function_name
from ..signature.normalize import all_arguments, attribute_chain, literal_str
from ..signature.source import function_node
from .status import FRESH, MAY_RUN, WILL_RUN

UNDECIDED = "signature decided at run time"  # shown instead of a signature the plan cannot know


@dataclass
class Step:
    """One kept path of the pipeline."""

    path: str
    function: str
    where: str
    status: str = MAY_RUN
    reason: str = ""
    sig: str | None = None  # exact: the signature a run uses; None when only the run can tell (see exact_sig)
    upstream: list[str] = field(default_factory=list)
    exact_sig: bool = False  # False: "signature decided at run time" (arguments or upstream refs change first)
    ref: str | None = None  # the signature the path pointed at when planned (None: none, or not read)


@dataclass
class Plan:
    """What an evaluation of the pipeline will do (or, after a run, did)."""

    steps: dict[str, Step] = field(default_factory=dict)

    def paths(self, *statuses: str) -> list[str]:
        return [p for p, s in self.steps.items() if not statuses or s.status in statuses]

    def to_text(self) -> str:
        if not self.steps:
            return "no dds.keep or data function reached"
        width = max(len(p) for p in self.steps)
        lines = []
        for step in self.steps.values():
            why = f" ({step.reason})" if step.reason else ""
            sig = step.sig[:10] if step.sig else UNDECIDED
            lines.append(f"{step.status:>8}  {step.path:<{width}}  {sig:<10}  {step.function}{why}")
        return "\n".join(lines)


@dataclass
class _Site:
    path: str
    callee: Any
    caller: types.FunctionType
    call: ast.Call
    arg_nodes: list[ast.expr]
    kw_nodes: list[ast.keyword]
    upstream: list[str] = field(default_factory=list)
    traceable: bool = True  # every argument is a constant or a value kept upstream


def _is_api(obj: Any, name: str) -> bool:
    """``dds.keep`` / ``dds.load`` however the code names them: both carry a marker attribute."""
    return getattr(obj, f"__dds_{name}__", False) is True


def _unwrap(obj: Any) -> Any:
    return getattr(obj, "__wrapped__", obj) if hasattr(obj, "__dds_keep_path__") else obj


def _resolve(fn: types.FunctionType, expr: ast.AST) -> Any:
    chain = attribute_chain(expr)
    return resolve_chain(fn, *chain) if chain else None


def _literal_path(call: ast.Call, fn: types.FunctionType | None = None) -> str | None:
    """The store path a call passes first: a str literal, or a pathlib class called on one
    (``PurePosixPath("/p")``), normalised as keep normalises it."""
    first = call.args[0] if call.args else None
    if (path := literal_str(first)) is not None:
        return path
    if (fn is not None and isinstance(first, ast.Call) and len(first.args) == 1 and not first.keywords
            and (inner := literal_str(first.args[0])) is not None):
        cls = _resolve(fn, first.func)
        if isinstance(cls, type) and issubclass(cls, pathlib.PurePath):
            return validate_path(cls(inner))
    return None


class _Discovery:
    """Walks user functions from the pipeline and records the call sites, in source order."""

    def __init__(self) -> None:
        self.sites: list[_Site] = []
        self._scanned: set[tuple[int, int]] = set()  # (id(code), id(owner site))

    def scan(self, fn: Any, owner: _Site | None) -> None:
        stack: list[types.FunctionType] = [fn]
        while stack:
            current = stack.pop()
            if not isinstance(current, types.FunctionType) or not is_user_module(current.__module__):
                continue
            key = (id(current.__code__), id(owner))
            if key in self._scanned:
                continue
            self._scanned.add(key)
            shape = function_shape(current.__code__)  # the one the signature uses (cached per code object)
            if shape is not None and not _may_call_dds(current, shape):
                stack.extend(_functions_read(current, shape))  # no call site here: no need for its AST
                continue
            node = function_node(current.__code__)
            stack.extend(self._scan_function(current, node, owner, shape))

    def _scan_function(self, fn: types.FunctionType, node: ast.AST, owner: _Site | None,
                       shape: Any) -> list[Any]:  # shape: function_shape(fn.__code__), None without source
        results: dict[str, str] = {}  # local name -> path of the kept value assigned to it
        site_of_call: dict[int, str] = {}
        reached: list[Any] = []
        syntax = _syntax_of(node)
        for call in syntax.calls:
            target = _resolve(fn, call.func)
            site = None
            if _is_api(target, "keep") and _literal_path(call, fn) and len(call.args) >= 2:
                site = _Site(_literal_path(call, fn), _resolve(fn, call.args[1]), fn, call, call.args[2:],
                             call.keywords)
            elif hasattr(target, "__dds_keep_path__"):
                site = _Site(target.__dds_keep_path__, target.__wrapped__, fn, call, call.args, call.keywords)
            elif _is_api(target, "load") and _literal_path(call, fn) and owner is not None:
                owner.upstream.append(_literal_path(call, fn))
            if site is None:
                continue
            site_of_call[id(call)] = site.path
            self.sites.append(site)
            if owner is not None:
                owner.upstream.append(site.path)
            if site.callee is not None:
                self.scan(site.callee, site)
        for stmt in syntax.call_assignments:  # data flow: x = keep(...); keep(..., x)
            if id(stmt.value) in site_of_call:
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        results[target.id] = site_of_call[id(stmt.value)]
        local_names = syntax.local_names
        for site in self.sites:
            if site.caller is not fn:
                continue
            for expr in site.arg_nodes + [k.value for k in site.kw_nodes]:
                for sub in ast.walk(expr):
                    if isinstance(sub, ast.Name) and sub.id in results:
                        site.upstream.append(results[sub.id])
                    elif isinstance(sub, ast.Name) and sub.id in local_names:
                        site.traceable = False
                    elif isinstance(sub, ast.Call):
                        if id(sub) in site_of_call:
                            site.upstream.append(site_of_call[id(sub)])
                        else:
                            site.traceable = False
        return reached + (_functions_read(fn, shape) if shape is not None else [])


def _functions_read(fn: types.FunctionType, shape: Any) -> list[types.FunctionType]:
    """The functions ``fn`` reads by name: planning follows them to find keeps nested deeper."""
    found = []
    for name, chain in shape.free:
        obj = resolve_chain(fn, name, chain)
        if isinstance(obj, types.FunctionType):
            found.append(obj)
    return found


def _may_call_dds(fn: types.FunctionType, shape: Any) -> bool:
    """Whether ``fn`` reads ``keep``, ``load`` or a data function under any outside name (or attribute of
    one): only then can it hold a call site. Every object along each name's attribute chain is looked at,
    so ``dds.keep``, ``keep`` and ``pkg.steps.step_a`` are all seen; a function reading none of them is
    planned from its shape alone, without locating and walking its AST."""
    for name, chain in shape.free:
        for depth in range(len(chain) + 1):
            obj = resolve_chain(fn, name, chain[:depth])
            if obj is None:
                break
            if _is_api(obj, "keep") or _is_api(obj, "load") or hasattr(obj, "__dds_keep_path__"):
                return True
    return False


_UNKNOWN = object()


def _static_value(fn: types.FunctionType, expr: ast.AST, bound: dict[str, Any], local_names: set[str]) -> Any:
    try:
        return ast.literal_eval(expr)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    chain = attribute_chain(expr)
    if chain is None:
        return _UNKNOWN
    name, attrs = chain
    if name in bound and not attrs:
        return bound[name]
    if name in local_names:
        return _UNKNOWN
    value = resolve_chain(fn, name, attrs)
    return _UNKNOWN if value is None or callable(value) else value


@dataclass
class _Syntax:
    """What planning reads from a function's AST; it never changes for one code object."""

    calls: list[ast.Call]  # every call, in source order
    call_assignments: list[ast.Assign]  # ``x = f(...)`` statements
    local_names: set[str]


_syntax: dict[int, tuple[ast.AST, _Syntax]] = {}  # id(node) -> (node, its syntax); nodes are cached per code


def _syntax_of(node: ast.AST) -> _Syntax:
    """One walk of ``node`` per process, however many call sites reach the function (a shared helper is
    scanned once per step that reaches it)."""
    known = _syntax.get(id(node))
    if known is not None and known[0] is node:
        return known[1]
    nodes = list(ast.walk(node))
    syntax = _Syntax(
        calls=sorted((n for n in nodes if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)),
        call_assignments=[n for n in nodes if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)],
        local_names=_local_names(node, nodes),
    )
    _syntax[id(node)] = (node, syntax)
    return syntax


def _local_names(node: ast.AST, nodes: list[ast.AST]) -> set[str]:
    """Names the function binds (``nodes``: every node of ``node``, already walked)."""
    names = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        names |= {arg.arg for arg in all_arguments(node.args)}
    return names


def make_plan(fn: Callable, args: tuple, kwargs: dict, store: Any) -> Plan:
    """Statically plan an evaluation of ``fn(*args, **kwargs)`` against ``store``."""
    discovery = _Discovery()
    root = _unwrap(fn)
    root_site = None
    if hasattr(fn, "__dds_keep_path__"):  # eval of a data function: the function itself is a step
        root_site = _Site(fn.__dds_keep_path__, root, root, ast.Call(func=ast.Name("x"), args=[], keywords=[]), [], [])
        discovery.sites.append(root_site)
    discovery.scan(root, root_site)
    bound = _bind_root_arguments(root, args, kwargs)

    plan = Plan()
    check_plan(store, {s.path: function_name(s.callee) for s in discovery.sites})  # before anything runs
    loads: dict[str, list[tuple[str, str | None]]] = {}  # path -> the refs its exact signature read
    # Signatures go through the per-process memo: the run that follows re-checks them instead of rebuilding.
    signature_of = functools.partial(call_signature, load_sig=store.get_ref,
                                     content_of=functools.partial(content_digest, store))
    for site in discovery.sites:
        if site.path in plan.steps:  # the same path kept twice: the later site wins the plan
            plan.steps.pop(site.path)
        where = f"{site.caller.__code__.co_filename}:{getattr(site.call, 'lineno', site.caller.__code__.co_firstlineno)}"
        name = function_identity(site.callee) if site.callee is not None else function_name(site.callee)
        step = Step(site.path, name, where, upstream=list(dict.fromkeys(site.upstream)))
        plan.steps[site.path] = step
        if site is root_site:
            values, kw = list(args), dict(kwargs)
        else:
            caller_bound = bound if site.caller is root else {}
            code = site.caller.__code__
            locals_ = _syntax_of(function_node(code)).local_names
            values = [_static_value(site.caller, e, caller_bound, locals_) for e in site.arg_nodes]
            kw = {k.arg: _static_value(site.caller, k.value, caller_bound, locals_) for k in site.kw_nodes}
            if any(isinstance(e, ast.Starred) for e in site.arg_nodes) or any(k.arg is None for k in site.kw_nodes):
                values.append(_UNKNOWN)
        if site.callee is None:
            step.status, step.reason = MAY_RUN, "the function kept is chosen at run time"
            continue
        if all(v is not _UNKNOWN for v in values) and all(v is not _UNKNOWN for v in kw.values()):
            signature = signature_of(site.path, site.callee, tuple(values), kw)
            step.sig, step.exact_sig = signature.sig, True
            loads[site.path] = _loads_read(signature.tree)
            step.ref = store.get_ref(site.path)
            session.decisions[site.path] = session.Decision(step.ref, signature.sig, signature)
            if store.read_meta(signature.sig) is not None:
                step.status = FRESH
            else:
                step.status, step.reason = WILL_RUN, _reason_for_new(store, site.path)
            continue
        step.status, step.reason, tree = _compare_code(signature_of(site.path, site.callee, (), {}), store, site)
        step.ref = store.get_ref(site.path)
        session.decisions[site.path] = session.Decision(step.ref, None, tree, step.reason)
    _propagate(plan)
    _drop_inexact_signatures(plan, loads, store, session.decisions)
    _propagate(plan)  # a step that became "may run" above makes its fresh downstream "may run" too
    for path, step in plan.steps.items():
        if step.reason.startswith("upstream") and path in session.decisions:
            session.decisions[path].note = f"upstream {step.reason[len('upstream '):]}"
    return plan


def _loads_read(tree: dict) -> list[tuple[str, str | None]]:
    """Every ``dds.load("/p")`` a signature tree read the store's ref for, as (path, the ref it read).
    Loads of paths kept inside the same call are not listed: the signature covers their code instead."""
    return [(path, dep.preview) for path, dep in trees.loads(tree) if dep.token != trees.load_kept_here_token(path)]


def _drop_inexact_signatures(plan: Plan, loads: dict[str, list[tuple[str, str | None]]], store: Any,
                             decisions: dict) -> None:
    """A signature that read ``load("/p")`` is exact only if ``/p`` still points where it did when the run
    reaches the load: ``/p`` is not a step of this pipeline, or its own signature is exact, fresh and already
    the path's ref. Otherwise (``/p`` will run, or a run moves its ref to another stored value) the run
    computes another signature, so the plan prints none and marks it "decided at run time". Repeated to a
    fixed point: a step loading such a step is undecided too."""
    changed = True
    while changed:
        changed = False
        for path, step in plan.steps.items():
            if not step.exact_sig:
                continue
            for up, _read in loads.get(path, []):  # read: the current ref, which _settled compares with
                upstream = plan.steps.get(up)
                if upstream is None or _settled(plan, up, store, set()):
                    continue
                step.sig, step.exact_sig, changed = None, False, True
                why = _why_load_undecided(up, upstream)
                if step.status == FRESH:  # the ref it read may move first: the run decides
                    step.status, step.reason = MAY_RUN, why
                decision = decisions.get(path)
                if decision is not None:
                    decision.new_sig, decision.note = None, decision.note or why
                break


def _settled(plan: Plan, path: str, store: Any, seen: set[str]) -> bool:
    """Whether a run leaves ``path``'s ref where it is now: not a step of this pipeline, fresh with exactly its
    current ref as signature, or fresh by its unchanged code with every upstream settled too (the values its
    arguments come from stay where they are)."""
    step = plan.steps.get(path)
    if step is None:
        return True
    if step.status != FRESH:
        return False
    if path in seen:  # met again (a diamond, or a cycle): its answer is the one being computed
        return True
    if step.exact_sig:
        return step.sig == store.get_ref(path)
    seen.add(path)
    return all(_settled(plan, up, store, seen) for up in step.upstream)


def _why_load_undecided(path: str, upstream: Step) -> str:
    if upstream.status in (WILL_RUN, MAY_RUN):
        return f"it loads {path}, which {upstream.status}"
    if upstream.exact_sig:
        return f"it loads {path}, which a run points at another stored value first"
    return f"it loads {path}, whose signature is decided at run time"


def _bind_root_arguments(fn: Any, args: tuple, kwargs: dict) -> dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {}
    bound.apply_defaults()
    return dict(bound.arguments)


def _reason_for_new(store: Any, path: str) -> str:
    return "nothing stored yet" if store.get_ref(path) is None else "code or inputs changed"


def _compare_code(current: trees.CallSignature, store: Any, site: _Site) -> tuple[str, str, Any]:
    """Arguments unknown before running: compare the function's own signature (``current``, the signature of
    a call without arguments) with the stored one. Returns the status, its reason and ``current`` (whose tree
    is built only if ``why`` asks for it)."""
    sig = store.get_ref(site.path)
    meta = store.read_meta(sig) if sig else None
    if meta is None or "tree" not in meta:
        return WILL_RUN, "nothing stored yet", current
    function_sig = current.function_signature()
    if trees.function_signature(meta["tree"]) != function_sig:
        if _held_before_with_this_code(store, site.path, function_sig):
            return MAY_RUN, "code changed back to that of an earlier stored value", current
        return WILL_RUN, "code changed", current
    if site.traceable:
        return FRESH, "", current
    return MAY_RUN, "arguments computed at run time", current


def _held_before_with_this_code(store: Any, path: str, function_sig: tuple) -> bool:
    """Whether a value ``path`` held before (its ref history) was computed by this very code: after a revert
    the run may load it, so the plan must not say "will run"."""
    for old in store.ref_history(path):
        meta = store.read_meta(old)
        if meta is not None and "tree" in meta and trees.function_signature(meta["tree"]) == function_sig:
            return True
    return False


def _propagate(plan: Plan) -> None:
    changed = True
    while changed:
        changed = False
        for step in plan.steps.values():
            for up in step.upstream:
                upstream = plan.steps.get(up)
                if upstream is None or step.status == WILL_RUN:
                    continue
                if upstream.status == WILL_RUN:
                    step.status, step.reason, changed = WILL_RUN, f"upstream {up} will run", True
                elif upstream.status == MAY_RUN and step.status == FRESH:
                    step.status, step.reason, changed = MAY_RUN, f"upstream {up} may run", True
