"""dds: data-driven programming. Keep what a function returns, recompute only when its code changes.

Public API (everything else may change): ``keep``, ``data_function`` (``dds_function``), ``load``,
``set_store``, ``accept_module``, ``reject_module``, ``register_hasher``, ``register_codec``,
``set_option``, ``get_option`` and the ``DDSError`` family.
"""

from ._version import __version__
from .api import data_function, dds_function, get_store, keep, load, set_store
from .codecs import register_codec
from .errors import (
    ArgumentError,
    CodecError,
    DamagedDataError,
    DataFunctionError,
    DDSError,
    NotFoundError,
    PathError,
    SignatureError,
    SourceUnavailableError,
    StoreError,
    UnhashableValueError,
)
from .options import get_option, set_option
from .signature import accept_module, reject_module, register_hasher

__all__ = [
    "__version__", "keep", "data_function", "dds_function", "load", "set_store", "get_store",
    "accept_module", "reject_module", "register_hasher", "register_codec", "set_option", "get_option",
    "DDSError", "ArgumentError", "CodecError", "DamagedDataError", "DataFunctionError", "NotFoundError",
    "PathError", "SignatureError", "SourceUnavailableError", "StoreError", "UnhashableValueError",
]
