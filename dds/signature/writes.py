"""Is live state that code only writes to really only written? The runtime half of the write-only rule.

The normaliser (normalize.py) lists, per piece of code, the outside names whose every use is a write:
``X.a = v``, ``X[k] += v``, ``del X.a``, or ``X.m(...)`` as a statement with its result discarded. Whether
``X.m(...)`` only writes depends on what ``X`` is at run time, which is decided here:

* a mutating method of a built-in container (``list.append``, ``dict.update``, ``set.add``,
  ``deque.append`` ...) writes; methods that can raise depending on the content (``list.remove``,
  ``dict.pop``, ``list.sort``) or that return something read from it do not count;
* a method of a user class writes only when its own code uses ``self`` for nothing but writes of the same
  kinds (checked recursively, a few levels deep: ``self.log.append(x)``, ``self.n += 1``,
  ``self.flush()`` where ``flush`` only writes too).

State that passes the check contributes its type to the signature, not its content: bookkeeping such as
a list of steps that ran, a counter or a metrics dict no longer changes the signature of the code that
keeps it. Anything else stays an input.
"""

from __future__ import annotations

import collections
import types
from typing import Any, Callable

_DICT = frozenset({"update", "clear", "setdefault"})
#: The methods of built-in containers that only write, whatever the content (they never raise for it).
MUTATORS: dict[type, frozenset[str]] = {
    list: frozenset({"append", "extend", "insert", "clear"}),
    dict: _DICT,
    collections.OrderedDict: _DICT,
    collections.defaultdict: _DICT,
    collections.Counter: _DICT | {"subtract"},
    set: frozenset({"add", "update", "discard", "clear", "difference_update", "intersection_update",
                    "symmetric_difference_update"}),
    bytearray: frozenset({"append", "extend", "insert", "clear"}),
    collections.deque: frozenset({"append", "appendleft", "extend", "extendleft", "clear"}),
}
_MAX_DEPTH = 4
_CODE = (types.FunctionType, type, types.ModuleType, types.MethodType, types.BuiltinFunctionType)
_NOTHING: Any = object()

ShapeOf = Callable[[types.CodeType], Any]  # build.function_shape: CodeShape or None


def only_writes(target: Any, tail: tuple[str, ...], kinds: tuple[str, ...], shape_of: ShapeOf,
                is_user: Callable[[str], bool], depth: int = 0) -> bool:
    """True when every use of kind in ``kinds`` on ``target.tail`` writes to ``target`` without reading it.

    ``target`` is the live object a chain led to; ``tail`` the rest of the chain in the code (for
    ``tracking.RAN.append(x)``: ``RAN``'s list and ``("append",)``).
    """
    for kind in kinds:
        if kind == "attr":  # X.a.b = v writes attribute b of X.a; with no tail it rebinds a module attribute
            owner = _walk(target, tail[:-1])
            if owner is _NOTHING or (tail and (isinstance(owner, _CODE) or _custom_write(owner, _ATTR_HOOKS, is_user)
                                               or _descriptor(owner, tail[-1]))):
                return False
        elif kind == "item":  # X.a[k] = v writes into X.a
            owner = _walk(target, tail)
            if owner is _NOTHING or isinstance(owner, _CODE) or _custom_write(owner, _ITEM_HOOKS, is_user):
                return False
        elif kind == "call":  # X.a.m(...): m's receiver is X.a; no tail: ``f(...)``, f must be a bound method
            if not tail:
                receiver = bound_receiver(target)
                if receiver is _NOTHING or not _method_only_writes(receiver, target.__name__, shape_of, is_user, depth):
                    return False
                if isinstance(target, types.MethodType) and getattr(type(receiver), target.__name__, None) \
                        is not target.__func__:
                    return False  # bound by hand to another class's function: the check above saw another one
                continue
            owner = _walk(target, tail[:-1])
            if owner is _NOTHING or not _method_only_writes(owner, tail[-1], shape_of, is_user, depth):
                return False
        else:
            return False
    return True


_ATTR_HOOKS = ("__setattr__", "__delattr__")
_ITEM_HOOKS = ("__setitem__", "__delitem__")


def _custom_write(owner: Any, hooks: tuple[str, ...], is_user: Callable[[str], bool]) -> bool:
    """A user class that defines how it is written to (``__setitem__`` ...) may read its state there."""
    for klass in type(owner).__mro__:
        if is_user(klass.__module__) and any(hook in vars(klass) for hook in hooks):
            return True
    return False


def _descriptor(owner: Any, name: str) -> bool:
    """``owner.name = v`` runs code when the class defines ``name`` as a property or other data descriptor."""
    for klass in type(owner).__mro__:
        if name in vars(klass):
            return hasattr(type(vars(klass)[name]), "__set__")
    return False


def bound_receiver(value: Any) -> Any:
    """The object a bound method (``log = LOG.append``) writes to, else a marker that it is none."""
    owner = getattr(value, "__self__", _NOTHING)
    if isinstance(value, types.MethodType) or (isinstance(value, types.BuiltinMethodType)
                                               and owner is not _NOTHING and not isinstance(owner, types.ModuleType)):
        return owner
    return _NOTHING


def _walk(value: Any, chain: tuple[str, ...]) -> Any:
    for attr in chain:
        if isinstance(value, _CODE):
            return _NOTHING  # writing into a class, module or function is not bookkeeping state
        try:
            value = getattr(value, attr)
        except Exception:  # noqa: BLE001 - a missing or raising attribute: plain Python would fail too
            return _NOTHING
    return value


def _method_only_writes(owner: Any, name: str, shape_of: ShapeOf, is_user: Callable[[str], bool],
                        depth: int) -> bool:
    if isinstance(owner, _CODE):
        return False
    instance_dict = getattr(owner, "__dict__", None)
    if isinstance(instance_dict, dict) and name in instance_dict:
        return False  # a callable stored on the instance: anything
    for klass in type(owner).__mro__:
        if name in vars(klass):
            method = vars(klass)[name]
            break
    else:
        return False
    builtin = MUTATORS.get(klass)
    if builtin is not None:
        return name in builtin
    if depth >= _MAX_DEPTH or not isinstance(method, types.FunctionType) or not is_user(method.__module__):
        return False
    try:
        shape = shape_of(method.__code__)
    except Exception:  # noqa: BLE001 - no source: cannot tell, so it is an input
        return False
    writes = getattr(shape, "self_writes", None)
    if writes is None:
        return False
    return all(only_writes(owner, chain, kinds, shape_of, is_user, depth + 1) for chain, kinds in writes.items())
