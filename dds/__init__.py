"""dds: data-driven programming. Keep what a function returns, recompute only when its code changes.

Public API (everything else may change): ``keep``, ``data_function`` (``dds_function``), ``load``,
``set_store``, ``eval``, ``why``, ``File`` (an input file or directory, hashed by content), ``accept_module``,
``reject_module``, ``ignore``, ``register_hasher``, ``register_codec``, ``set_option``, ``get_option`` and the
``DDSError`` family (with ``DDSErrorCode``; dds_py's names in ``dds.structures``); for notebooks, ``info`` and
``graph`` (shown as HTML/SVG in Jupyter) and ``%load_ext dds`` (the ``%%dds /path`` cell magic, see
docs/notebooks.md).
"""

from ._version import __version__
from .api import data_function, dds_function, eval, get_store, keep, load, promote, set_store, why
from .codecs import register_codec
from .notebook.display import graph, info
from .notebook.magic import load_ipython_extension, unload_ipython_extension  # %load_ext dds
from .errors import (
    ArgumentError,
    CodecError,
    DamagedDataError,
    DataFunctionError,
    DDSError,
    DDSErrorCode,
    MissingInputError,
    NotFoundError,
    OverlappingPathError,
    PathError,
    SignatureError,
    SourceUnavailableError,
    StoreError,
    UnhashableValueError,
)
from .pipeline.evaluate import ProcessingStage
from . import structures  # noqa: F401  # dds_py's module of DDSException / DDSErrorCode
from .inputs import File, UntrackedFileWarning
from .options import get_option, set_option
from .step.pins import pin, unpin
from .step.runinfo import set_run_info_fn
from .signature import accept_module, ignore, reject_module, register_hasher
from .store.signing import UntrustedValueError

__all__ = [
    "__version__", "keep", "eval", "why", "ProcessingStage", "data_function", "dds_function", "load", "set_store", "get_store",
    "File", "accept_module", "ignore", "reject_module", "register_hasher", "register_codec", "set_option", "get_option",
    "set_run_info_fn", "info", "graph", "load_ipython_extension", "unload_ipython_extension", "promote", "pin", "unpin",
    "DDSError", "DDSErrorCode", "ArgumentError", "CodecError", "DamagedDataError", "DataFunctionError",
    "MissingInputError", "NotFoundError", "OverlappingPathError", "PathError", "SignatureError",
    "SourceUnavailableError", "StoreError", "UnhashableValueError", "UntrackedFileWarning", "UntrustedValueError",
]
