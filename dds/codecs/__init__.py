"""Codec registry: which codec stores a value, and which one decodes a stored blob.

``codec_for`` asks the registered codecs in order (user codecs first by default, then the built-ins) and
falls back to pickle. ``codec_named`` finds the codec recorded in a blob's metadata. A new codec is one
file plus one ``register_codec`` line.
"""

from __future__ import annotations

from typing import Any

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
]

PICKLE = PickleCodec()
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
    """The first codec that handles ``value``; pickle if none does."""
    for codec in _codecs:
        if codec.handles(value):
            return codec
    return PICKLE


def codec_named(name: str) -> Codec:
    """The codec recorded as ``name`` in a blob's metadata."""
    for codec in (*_codecs, PICKLE):
        if codec.name == name:
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
