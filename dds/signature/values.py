"""Type-aware hashing of values: constants a function reads, and arguments of a ``keep`` call.

``7``, ``7.0`` and ``True`` compare equal in Python but hash differently here, because a function can
behave differently for each. Containers are hashed element by element (sets order-independently, dicts in
their iteration order, which code can observe). Objects that are code rather than data (functions,
classes, modules ...) are handed to a callback supplied by the caller, which is how a dispatch table of
functions ends up hashed by the functions' signatures.

Any other object is hashed by what pickling it would record (its ``__reduce_ex__``: the callable that
rebuilds it, its arguments and its state), each part hashed by the same rules, so dicts of state are
ordered canonically and numpy buffers go through their fast hasher; a fitted model or a random generator
is an input like any value. What cannot be pickled (locks, open files, sockets) is identified by its type
and its library's version, with one warning per type.

Nothing here uses ``hash()`` or ``id()`` for the result: digests are identical across processes.
"""

from __future__ import annotations

import collections
import copyreg
import dataclasses
import datetime
import decimal
import enum
import fractions
import logging
import pathlib
import re
import sys
import uuid
from typing import Any, Callable

from ..errors import DDSError, UnhashableValueError
from . import array_values
from .digest import Tag, digest
from .modules import library_version
from .probes import invalidate_all

log = logging.getLogger("dds")

#: Hashers registered by the user or by dds for types it knows. Keys are types, or "module.QualName"
#: strings for types of libraries that must not be imported just to be recognised (pandas, pyarrow ...).
_HASHERS: dict[Any, Callable[[Any], Any]] = {}


def register_hasher(type_or_name: type | str, fn: Callable[[Any], Any]) -> None:
    """Teach dds to hash values of a type: ``fn(value)`` returns data dds can hash (bytes, str, tuple ...).

    The type's qualified name is part of the digest, so two types with equal payloads never collide.
    """
    _HASHERS[type_or_name] = fn
    _hasher_of_type.clear()
    invalidate_all()


def _type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


_hasher_of_type: dict[type, Callable[[Any], Any] | None] = {}  # the MRO walk below, once per type


def _registered_hasher(tp: type) -> Callable[[Any], Any] | None:
    try:
        return _hasher_of_type[tp]
    except KeyError:
        pass
    found = None
    for klass in tp.__mro__:
        found = _HASHERS.get(klass) or _HASHERS.get(_type_name(klass))
        if found is not None:
            break
    if len(_hasher_of_type) >= 4096:  # classes made in a loop must not grow it without bound
        _hasher_of_type.clear()
    _hasher_of_type[tp] = found
    return found


def _float_text(x: float) -> str:
    return x.hex()


_SCALARS: dict[type, Callable[[Any], tuple[str, ...]]] = {
    type(None): lambda v: (),
    bool: lambda v: ("1" if v else "0",),
    int: lambda v: (str(v),) if v.bit_length() < 10000 else ("hex", hex(v)),
    float: lambda v: (_float_text(v),),
    complex: lambda v: (_float_text(v.real), _float_text(v.imag)),
    str: lambda v: (v,),
    range: lambda v: (str(v.start), str(v.stop), str(v.step)),
    type(Ellipsis): lambda v: (),
    type(NotImplemented): lambda v: (),
    datetime.datetime: lambda v: (v.isoformat(), repr(v.tzinfo), str(v.fold)),
    datetime.date: lambda v: (v.isoformat(),),
    datetime.time: lambda v: (v.isoformat(), repr(v.tzinfo), str(v.fold)),
    datetime.timedelta: lambda v: (str(v.days), str(v.seconds), str(v.microseconds)),
    decimal.Decimal: lambda v: (str(v),),
    fractions.Fraction: lambda v: (str(v.numerator), str(v.denominator)),
    uuid.UUID: lambda v: (v.hex,),
    re.Pattern: lambda v: (repr(v.pattern), str(v.flags)),
}
_BYTES_TYPES = (bytes, bytearray, memoryview)
#: Scalars whose token is kept per (type, value): equal keys always hash alike (floats are left out: 0.0 and
#: -0.0 are equal keys with different tokens).
_REUSED = frozenset({int, str, bool, type(None)})
_scalar_tokens: dict[tuple[type, Any], str] = {}
_EMPTY_TOKENS = {tuple: digest("tuple"), dict: digest("dict")}  # as _container_digest makes them


class ValueHasher:
    """Hash values; ``on_object(value)`` returns the token of anything that is not plain data, or None."""

    def __init__(self, on_object: Callable[[Any], str | None], context: Callable[[], str] = lambda: "",
                 global_name: Callable[[], str] = lambda: ""):
        self._on_object = on_object
        self._context = context
        self._global_name = global_name  # the global being hashed, as the code names it ("" for arguments)
        self._active: set[int] = set()  # ids of containers being hashed, to refuse self-containing ones
        self._reducing: list[int] = []  # ids of objects hashed by their reduction, outermost first

    def token(self, value: Any) -> str:
        tp = type(value)
        if (tp is str or tp is bytes) and len(value) >= _LARGE:
            return _large_immutable_token(value)
        scalar = _SCALARS.get(tp)
        if scalar is not None:
            if tp in _REUSED:  # a constant read by every step (K = 3) is digested once per process
                key = (tp, value)
                token = _scalar_tokens.get(key)
                if token is None:
                    token = digest(_type_name(tp), *scalar(value))
                    if (tp is not str or len(value) <= 256) and len(_scalar_tokens) < 8192:
                        _scalar_tokens[key] = token
                return token
            return digest(_type_name(tp), *scalar(value))
        if tp in _BYTES_TYPES:
            return digest(_type_name(tp), bytes(value))
        hasher = _registered_hasher(tp)
        if hasher is not None:
            try:
                payload = hasher(value)
            except DDSError as exc:  # e.g. a dds.File that does not exist: say which step reads it
                if not getattr(exc, "dds_located", False):
                    exc.args, exc.dds_located = (self._context() + str(exc), *exc.args[1:]), True
                raise
            return digest(Tag.REGISTERED, _type_name(tp), self.token(payload))
        if isinstance(value, pathlib.PurePath):
            return digest(_type_name(tp), str(value))
        if isinstance(value, enum.Enum):
            return digest(Tag.ENUM, self._object_token(tp), value.name)
        if isinstance(value, (tuple, list, dict, set, frozenset)):
            if not value and (tp is tuple or tp is dict):  # no arguments, no keyword arguments
                return _EMPTY_TOKENS[tp]
            return self._container(value)
        token = self._on_object(value)
        if token is not None:
            return token
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._fields(value, [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)])
        return self._reduced(value)

    def _reduced(self, value: Any) -> str:
        """Hash an object by its pickle reduction; an object that refers back to one being hashed gets a
        back-reference (its depth), so cyclic structures hash deterministically."""
        key = id(value)
        if key in self._reducing:
            return digest(Tag.BACK_REFERENCE, str(self._reducing.index(key)))
        tp = type(value)
        reduce = copyreg.dispatch_table.get(tp)
        try:
            reduction = reduce(value) if reduce is not None else value.__reduce_ex__(4)
        except Exception:  # noqa: BLE001 - "cannot pickle '_thread.lock' object" and the like
            return self._opaque(value)
        if isinstance(reduction, str):  # a global, pickled by reference: its name is its identity
            return digest(Tag.GLOBAL, _type_name(tp), reduction)
        if not isinstance(reduction, tuple) or len(reduction) < 2:
            return self._opaque(value)
        self._reducing.append(key)
        try:
            rebuild, args, *rest = reduction
            parts = [self._object_token(rebuild), self.token(args)]
            for i, part in enumerate(rest[:3]):
                if i == 0:
                    parts.append(self.token(_canonical_state(part)))
                else:  # list items, then dict items: iterators
                    parts.append(self.token(None if part is None else list(part)))
            return digest(Tag.REDUCED, _type_name(tp), *parts)
        finally:
            self._reducing.pop()

    def _opaque(self, value: Any) -> str:
        """What cannot be pickled: identified by its type and the version of the library that defines it."""
        tp = type(value)
        name = _type_name(tp)
        if name not in _warned_opaque:
            _warned_opaque.add(name)
            log.warning(
                "dds: %sa %s (%s) cannot be pickled, so dds identifies it by its type only: a change of its "
                "state re-runs nothing. If its state matters, pass what matters as an argument, or teach dds "
                "to hash it: dds.register_hasher(%s, lambda obj: <bytes/str/tuple that identifies obj>).",
                self._context(), name, _short_repr(value), self._type_expression(tp))
        return digest(Tag.OPAQUE, name, library_version(tp.__module__))

    def _object_token(self, value: Any) -> str:
        token = self._on_object(value)
        if token is None:
            if isinstance(value, type):  # no code-aware callback for classes: identify them by name
                return digest(Tag.TYPE, _type_name(value))
            raise self.unhashable(value)
        return token

    def _fields(self, value: Any, items: list[tuple[str, Any]]) -> str:
        parts = [self._object_token(type(value))]
        for name, item in items:
            parts += [name, self.token(item)]
        return digest(Tag.INSTANCE, *parts)

    def instance_token(self, value: Any) -> str:
        """Hash an instance of a user class by its class and its attributes (``__dict__``/slots)."""
        state = getattr(value, "__dict__", None)
        items = list(state.items()) if isinstance(state, dict) else []
        for klass in type(value).__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for slot in (slots,) if isinstance(slots, str) else slots:
                if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                    items.append((slot, getattr(value, slot)))
        return self._guarded(value, lambda: self._fields(value, items))

    def _container(self, value: Any) -> str:
        return self._guarded(value, lambda: self._container_digest(value))

    def _guarded(self, value: Any, compute: Callable[[], str]) -> str:
        key = id(value)
        if key in self._active:
            raise UnhashableValueError(
                f"{self._context()}a {type(value).__name__} contains itself; dds cannot hash "
                "self-referencing containers. Fix: break the cycle or register a hasher for a wrapper type."
            )
        self._active.add(key)
        try:
            return compute()
        finally:
            self._active.discard(key)

    def _container_digest(self, value: Any) -> str:
        tp = type(value)
        if isinstance(value, (set, frozenset)):
            parts = sorted(self.token(v) for v in value)
        elif isinstance(value, dict):
            parts = []
            for k, v in value.items():
                parts += [self.token(k), self.token(v)]
        else:
            parts = [self.token(v) for v in value]
        if tp in (tuple, list, dict, set, frozenset):
            return digest(tp.__name__, *parts)
        # A subclass (namedtuple, OrderedDict, defaultdict ...): its type is part of what code sees.
        fields = getattr(value, "_fields", None)
        extra = [",".join(fields)] if isinstance(fields, tuple) else []
        return digest(Tag.SUBCLASS, self._object_token(tp), *extra, *parts)

    def unhashable(self, value: Any) -> UnhashableValueError:
        tp = type(value)
        return UnhashableValueError(
            f"{self._context()}dds does not know how to hash a value of type {_type_name(tp)} "
            f"({_short_repr(value)}). Fix: register a hasher with "
            f"dds.register_hasher({self._type_expression(tp)}, lambda obj: <bytes/str/tuple that identifies obj>), "
            "or pass the value as an argument of a type dds can hash, or compute it inside the function."
        )

    def _type_expression(self, tp: type) -> str:
        """How the user's code can name the type: ``type(LOCK)`` when the value was read as a global."""
        reading = self._global_name()
        if reading and all(part.isidentifier() for part in reading.split(".")):
            return f"type({reading})"
        return f"{tp.__module__}.{tp.__qualname__}" if tp.__module__ != "builtins" else tp.__qualname__


_warned_opaque: set[str] = set()  # types already warned about in this process

_LARGE = 1 << 16
_LARGE_BUDGET = 256 << 20  # bytes of values held at most (the least recently hashed are let go first)
#: id -> (value, token) of large str/bytes values hashed in this process. They cannot change, so a value
#: that came out of the store (or any other) and is passed on to the next step costs a lookup, not a pass.
_large_tokens: collections.OrderedDict[int, tuple[Any, str]] = collections.OrderedDict()
_large_held = [0]


def _large_immutable_token(value: str | bytes) -> str:
    key = id(value)
    known = _large_tokens.get(key)
    if known is not None and known[0] is value:
        _large_tokens.move_to_end(key)
        return known[1]
    tp = type(value)
    token = digest(_type_name(tp), *(_SCALARS[str](value) if tp is str else (value,)))
    if len(value) <= _LARGE_BUDGET // 4:
        _large_tokens[key] = (value, token)  # holds the value: its id cannot be reused while it is here
        _large_held[0] += len(value)
        while _large_held[0] > _LARGE_BUDGET:
            _, (old, _) = _large_tokens.popitem(last=False)
            _large_held[0] -= len(old)
    return token


def _canonical_state(state: Any) -> Any:
    """An object's state with its attributes in name order: the order they were set in is not part of
    what the object is (a model fitted in this process and one unpickled from the store must agree)."""
    if type(state) is dict and all(type(k) is str for k in state):
        return dict(sorted(state.items()))
    if type(state) is tuple and len(state) == 2 and all(type(p) in (dict, type(None)) for p in state):
        return tuple(_canonical_state(p) for p in state)  # (__dict__, slots) of objects with __slots__
    return state


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not hide the real error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def preview(value: Any) -> str | None:
    """A short text of small constants, kept in the signature tree so ``why`` can say ``3 -> 4``.

    An object can give its own (``__dds_preview__()``, e.g. dds.File: size and digest); a small tuple or dict
    (a call's arguments) shows those of its items that do."""
    if type(value) in (type(None), bool, int, float, complex, str, bytes):
        text = repr(value)
        return text if len(text) <= 80 else None
    if type(value) in (tuple, dict) and 0 < len(value) <= 16:
        texts = [preview(v) for v in (value.values() if type(value) is dict else value)
                 if hasattr(type(v), "__dds_preview__")]
        return "; ".join(t for t in texts if t) or None
    own = getattr(type(value), "__dds_preview__", None)
    return own(value) if own is not None else None


# --- hashers for widely used library types, registered by name so nothing is imported eagerly -----

def _logger(logger: Any) -> Any:
    return logger.name


def _spark_handle(handle: Any) -> Any:
    # A session or context is how code reaches Spark, not data: all sessions hash alike (configuration
    # that changes results, such as time zones, must be passed as arguments or constants to be seen).
    return type(handle).__name__


def _spark_frame(df: Any) -> Any:
    from .spark_values import spark_frame_identity

    return spark_frame_identity(df)


for _name, _fn in {
    "numpy.ndarray": array_values.numpy_array_identity,  # over their buffers: array_values.py
    "numpy.generic": array_values.numpy_scalar_identity,
    "pandas.DataFrame": array_values.pandas_frame_identity,  # pandas sets __module__ to "pandas"
    "pandas.core.frame.DataFrame": array_values.pandas_frame_identity,
    "pandas.Series": array_values.pandas_series_identity,
    "pandas.core.series.Series": array_values.pandas_series_identity,
    "pandas.Index": array_values.pandas_index_identity,
    "pandas.core.indexes.base.Index": array_values.pandas_index_identity,
    "pyarrow.lib.Table": array_values.arrow_table_identity,
    "pyarrow.lib.RecordBatch": array_values.arrow_table_identity,
    "pyarrow.lib.ChunkedArray": array_values.arrow_column_identity,
    "pyarrow.lib.Array": array_values.arrow_column_identity,
    "pyspark.sql.session.SparkSession": _spark_handle,
    "pyspark.sql.classic.session.SparkSession": _spark_handle,
    "pyspark.context.SparkContext": _spark_handle,
    "pyspark.sql.dataframe.DataFrame": _spark_frame,
    "pyspark.sql.classic.dataframe.DataFrame": _spark_frame,
    "logging.Logger": _logger,
    "logging.RootLogger": _logger,
}.items():
    register_hasher(_name, _fn)

if sys.version_info < (3, 12):  # re.Pattern is an alias of the real class name on older versions
    _SCALARS[type(re.compile(""))] = _SCALARS[re.Pattern]
