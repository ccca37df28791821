"""Codec registry: which codec stores a value, and which one decodes a stored blob.

``codec_for`` asks the registered codecs in order (user codecs first by default, then the built-ins) and
falls back to pickle. ``codec_named`` finds the codec recorded in a blob's metadata. A new codec is one
file plus one ``register_codec`` line.

**Stored pickles are code**: unpickling runs whatever the file says, so anyone who can write to a store can
run code in every process that loads from it. Load pickles only from stores you trust. With
``dds.set_option("codecs", "safe")`` dds refuses pickle both ways: values are only written and read with data
formats (Parquet and Delta, ``.npy`` without objects, text, bytes, and user codecs whose class sets
``safe = True``); a value none of them handles is an error naming its type, and a pickle found in the store
is not loaded.
"""

from __future__ import annotations

from typing import Any

from .. import options
from ..errors import ArgumentError, CodecError
from .arrow_parquet import ArrowParquetCodec
from .base import Codec, NotSuitable
from .binary import BytesCodec
from .delta import ArrowDeltaCodec, PandasDeltaCodec
from .numpy_npy import NumpyNpyCodec
from .pandas_parquet import PandasParquetCodec
from .pickled import PickleCodec
from .spark_parquet import SparkParquetCodec
from .text import TextCodec

__all__ = [
    "Codec",
    "NotSuitable",
    "codec_for",
    "codec_named",
    "known_codecs",
    "register_codec",
    "unregister_codec",
    "PICKLE",
    "is_safe",
]

_SAFE_FORMATS = ("Parquet (pandas DataFrame, pyarrow Table, Spark DataFrame), .npy (numpy arrays without Python "
                 "objects), text (str) and bytes")


def _safe_mode() -> bool:
    return options.get_option("codecs") == "safe"


def _refuse_to_write(value: Any) -> CodecError:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    return CodecError(
        f"dds.set_option('codecs', 'safe') is on, and a {kind} can only be stored as a pickle, which safe mode "
        f"refuses (loading a pickle runs code). Safe mode stores {_SAFE_FORMATS}. Fix: return one of those types, "
        f"register a codec for {kind} whose class sets safe = True (dds.register_codec), or, if every reader "
        f"trusts this store, dds.set_option('codecs', 'all')."
    )


class _Pickle(PickleCodec):
    """The pickle fallback, refused both ways in safe mode (also when a data codec hands a value over to it)."""

    def write(self, value: Any, fs: Any, path: str) -> None:
        if _safe_mode():
            raise _refuse_to_write(value)
        super().write(value, fs, path)

    def read(self, fs: Any, path: str) -> Any:
        if _safe_mode():
            raise _refuse_to_read()
        return super().read(fs, path)


def _refuse_to_read() -> CodecError:
    return CodecError(
        "it is stored as a pickle, and dds.set_option('codecs', 'safe') refuses to load pickles: unpickling runs "
        "whatever code the file holds, so anyone who can write to the store could run code here. Fix: if you "
        "trust this store, dds.set_option('codecs', 'all'); otherwise delete the value and recompute it in safe "
        f"mode as {_SAFE_FORMATS}."
    )


PICKLE = _Pickle()
_BUILTINS: tuple[Codec, ...] = (
    PandasDeltaCodec(),  # only when set_option("tabular_format", "delta")
    ArrowDeltaCodec(),
    PandasParquetCodec(),
    ArrowParquetCodec(),
    NumpyNpyCodec(),
    TextCodec(),
    BytesCodec(),
    SparkParquetCodec(),
)
_codecs: list[Codec] = list(_BUILTINS)  # tried in order; PICKLE comes after all of them


def register_codec(codec: Codec, *, first: bool = True) -> None:
    """Add ``codec``: before the built-ins (``first=True``, the default) or after them, before pickle.

    A codec with the same name is replaced. ``codec`` needs ``name``, ``file_name``, ``handles``,
    ``write`` and ``read`` (see :class:`dds.codecs.base.Codec`).
    """
    global _codecs
    _check(codec)
    others = [c for c in _codecs if c.name != codec.name]
    _codecs = [codec, *others] if first else [*others, codec]


def unregister_codec(name: str) -> None:
    """Remove the codec called ``name`` (blobs it wrote can no longer be read)."""
    global _codecs
    _codecs = [c for c in _codecs if c.name != name]


def codec_for(value: Any) -> Codec:
    """The first codec that handles ``value``; pickle if none does (in safe mode: only safe codecs are asked,
    and a CodecError naming the value's type replaces pickle)."""
    safe_mode = _safe_mode()
    for codec in _codecs:
        if (not safe_mode or is_safe(codec)) and codec.handles(value):
            return codec
    if safe_mode:
        raise _refuse_to_write(value)
    return PICKLE


def capability(codec: Any, flag: str) -> bool:
    """The capability ``flag`` of ``codec`` (declared, with its default, on :class:`Codec`; codecs that do not
    subclass it get the default)."""
    if not hasattr(Codec, flag):
        raise AttributeError(f"{flag!r} is not a codec capability declared on dds.codecs.base.Codec")
    return getattr(codec, flag, getattr(Codec, flag)) is True


def is_safe(codec: Codec) -> bool:
    """Whether reading ``codec``'s files never runs code from them: the built-in data codecs, and user codecs
    whose class says ``safe = True``. Pickle is not."""
    if codec is PICKLE or isinstance(codec, PickleCodec):
        return False
    return any(codec is builtin for builtin in _BUILTINS) or capability(codec, "safe")


def codec_named(name: str) -> Codec:
    """The codec recorded as ``name`` in a blob's metadata (in safe mode, an unsafe one is refused)."""
    for codec in (*_codecs, PICKLE):
        if codec.name == name:
            if _safe_mode() and not is_safe(codec):
                if codec is PICKLE:
                    raise _refuse_to_read()
                raise CodecError(
                    f"it was written by codec {name!r}, which is not marked safe, and dds.set_option('codecs', "
                    f"'safe') only reads {_SAFE_FORMATS}. Fix: set safe = True on that codec's class if reading its "
                    f"files never runs code, or dds.set_option('codecs', 'all') if you trust this store."
                )
            return codec
    raise CodecError(
        f"Unknown codec {name!r}; known codecs: {', '.join(known_codecs())}. "
        f"Register it with dds.register_codec(...) before loading values it wrote."
    )


def known_codecs() -> list[str]:
    """Names of the registered codecs, in the order they are tried (pickle last)."""
    return [c.name for c in _codecs] + [PICKLE.name]


def _check(codec: Any) -> None:
    name = getattr(codec, "name", None)
    file_name = getattr(codec, "file_name", None)
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"register_codec({codec!r}): the codec needs a non-empty str attribute 'name'.")
    if name == PICKLE.name:
        raise ArgumentError("register_codec: 'pickle' is the built-in fallback; give your codec another name.")
    if not isinstance(file_name, str) or file_name in ("", ".", "..") or "/" in file_name or "\\" in file_name:
        raise ArgumentError(
            f"register_codec: codec {name!r} needs a 'file_name' that is a plain file name such as 'data.bin', "
            f"not {file_name!r}."
        )
    missing = [m for m in ("handles", "write", "read") if not callable(getattr(codec, m, None))]
    if missing:
        raise ArgumentError(f"register_codec: codec {name!r} lacks the method(s) {', '.join(missing)}.")
