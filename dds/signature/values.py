"""Type-aware hashing of values: constants a function reads, and arguments of a ``keep`` call.

``7``, ``7.0`` and ``True`` compare equal in Python but hash differently here, because a function can
behave differently for each. Containers are hashed element by element (sets order-independently, dicts in
their iteration order, which code can observe). Objects that are code rather than data (functions,
classes, modules ...) are handed to a callback supplied by the caller, which is how a dispatch table of
functions ends up hashed by the functions' signatures.

Nothing here uses ``hash()`` or ``id()`` for the result: digests are identical across processes.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import pathlib
import re
import sys
import uuid
from typing import Any, Callable

from ..errors import DDSError, UnhashableValueError
from .digest import digest
from .probes import invalidate_all

#: Hashers registered by the user or by dds for types it knows. Keys are types, or "module.QualName"
#: strings for types of libraries that must not be imported just to be recognised (pandas, pyarrow ...).
_HASHERS: dict[Any, Callable[[Any], Any]] = {}


def register_hasher(type_or_name: type | str, fn: Callable[[Any], Any]) -> None:
    """Teach dds to hash values of a type: ``fn(value)`` returns data dds can hash (bytes, str, tuple ...).

    The type's qualified name is part of the digest, so two types with equal payloads never collide.
    """
    _HASHERS[type_or_name] = fn
    invalidate_all()


def _type_name(tp: type) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"


def _registered_hasher(tp: type) -> Callable[[Any], Any] | None:
    for klass in tp.__mro__:
        fn = _HASHERS.get(klass) or _HASHERS.get(_type_name(klass))
        if fn is not None:
            return fn
    return None


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


class ValueHasher:
    """Hash values; ``on_object(value)`` returns the token of anything that is not plain data, or None."""

    def __init__(self, on_object: Callable[[Any], str | None], describe: Callable[[], str] = lambda: ""):
        self._on_object = on_object
        self._describe = describe
        self._active: set[int] = set()  # ids of containers being hashed, to refuse self-containing ones

    def token(self, value: Any) -> str:
        tp = type(value)
        scalar = _SCALARS.get(tp)
        if scalar is not None:
            return digest(_type_name(tp), *scalar(value))
        if tp in _BYTES_TYPES:
            return digest(_type_name(tp), bytes(value))
        hasher = _registered_hasher(tp)
        if hasher is not None:
            try:
                payload = hasher(value)
            except DDSError as exc:  # e.g. a dds.File that does not exist: say which step reads it
                if not getattr(exc, "dds_located", False):
                    exc.args, exc.dds_located = (self._describe() + str(exc), *exc.args[1:]), True
                raise
            return digest("registered", _type_name(tp), self.token(payload))
        if isinstance(value, pathlib.PurePath):
            return digest(_type_name(tp), str(value))
        if isinstance(value, enum.Enum):
            return digest("enum", self._object_token(tp), value.name)
        if isinstance(value, (tuple, list, dict, set, frozenset)):
            return self._container(value)
        token = self._on_object(value)
        if token is not None:
            return token
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return self._fields(value, [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)])
        raise self.unhashable(value)

    def _object_token(self, value: Any) -> str:
        token = self._on_object(value)
        if token is None:
            if isinstance(value, type):  # no code-aware callback for classes: identify them by name
                return digest("type", _type_name(value))
            raise self.unhashable(value)
        return token

    def _fields(self, value: Any, items: list[tuple[str, Any]]) -> str:
        parts = [self._object_token(type(value))]
        for name, item in items:
            parts += [name, self.token(item)]
        return digest("instance", *parts)

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
                f"{self._describe()}a {type(value).__name__} contains itself; dds cannot hash "
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
        return digest("subclass", self._object_token(tp), *extra, *parts)

    def unhashable(self, value: Any) -> UnhashableValueError:
        tp = type(value)
        return UnhashableValueError(
            f"{self._describe()}dds does not know how to hash a value of type {_type_name(tp)} "
            f"({_short_repr(value)}). Fix: register a hasher with "
            f"dds.register_hasher({tp.__qualname__}, lambda obj: <bytes/str/tuple that identifies obj>), "
            "or pass the value as an argument of a type dds can hash, or compute it inside the function."
        )


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

def _numpy_array(arr: Any) -> Any:
    if arr.dtype.hasobject:
        return ("object-array", arr.shape, arr.tolist())
    import numpy

    return (arr.dtype.str, arr.shape, numpy.ascontiguousarray(arr).tobytes())


def _numpy_scalar(x: Any) -> Any:
    return (x.dtype.str, x.tobytes())


def _pandas_frame(df: Any) -> Any:
    import pandas

    rows = pandas.util.hash_pandas_object(df, index=True).to_numpy().tobytes()
    return (rows, tuple(map(str, df.columns)), tuple(map(str, df.dtypes)), str(df.index.dtype),
            tuple(map(str, df.index.names)))


def _pandas_series(s: Any) -> Any:
    import pandas

    rows = pandas.util.hash_pandas_object(s, index=True).to_numpy().tobytes()
    return (rows, str(s.name), str(s.dtype), str(s.index.dtype))


def _arrow_table(table: Any) -> Any:
    import pyarrow

    sink = pyarrow.BufferOutputStream()
    with pyarrow.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


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
    "numpy.ndarray": _numpy_array,
    "numpy.generic": _numpy_scalar,
    "pandas.DataFrame": _pandas_frame,  # pandas sets __module__ to "pandas" on its public classes
    "pandas.core.frame.DataFrame": _pandas_frame,
    "pandas.Series": _pandas_series,
    "pandas.core.series.Series": _pandas_series,
    "pyarrow.lib.Table": _arrow_table,
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
