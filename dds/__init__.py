"""dds: data-driven programming. Keep what a function returns, recompute only when its code changes.

Public API (everything else may change): ``keep``, ``data_function`` (``dds_function``), ``load``,
``set_store``, ``eval``, ``why``, ``File`` (an input file or directory, hashed by content), ``accept_module``,
``reject_module``, ``ignore``, ``register_hasher``, ``register_codec``, ``set_option``, ``get_option`` and the
``DDSError`` family (with ``DDSErrorCode``; dds_py's names in ``dds.structures``); for notebooks, ``info`` and
``graph`` (shown as HTML/SVG in Jupyter) and ``%load_ext dds`` (the ``%%dds /path`` cell magic, see
docs/notebooks.md).
"""

from typing import TYPE_CHECKING

from . import graph as _graph_module  # noqa: F401  # imported first: it can no longer rebind dds.graph, the function
from ._version import __version__
from .api import data_function, dds_function, get_store, keep, load, set_store, why
from .codecs import register_codec
from .display import graph, info
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
from .evaluation import ProcessingStage
from . import structures  # noqa: E402,F401  # dds_py's module of DDSException / DDSErrorCode
from .inputs import File, UntrackedFileWarning
from .options import get_option, set_option
from .pins import pin, unpin
from .runinfo import set_run_info_fn
from .signature import accept_module, ignore, reject_module, register_hasher
from .store.signing import UntrustedValueError

if TYPE_CHECKING:  # the annotations of promote
    from .store.base import Store
    from .store.promote import Promoted


def load_ipython_extension(ipython: object) -> None:  # IPython's InteractiveShell
    """``%load_ext dds``: the ``%%dds /path`` cell magic and dds's messages under each cell (dds.notebook)."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: object) -> None:
    """``%unload_ext dds``: stop printing dds's messages under cells."""
    from .notebook import unload_ipython_extension as unload

    unload(ipython)



def promote(path: str, to: "Store | str", from_: "Store | str | None" = None) -> "Promoted":
    """Copy ``path``'s value, metadata and ref from the current store (or ``from_``) to ``to`` (a store, an
    fsspec URL such as ``"s3://team-bucket/dds"``, or a local store's folder): byte for byte, verified against
    the source's checksums, and idempotent. Returns ``(path, signature, copied)``."""
    from .store.promote import open_store, promote as copy

    return copy(path, open_store(from_) if from_ is not None else get_store(), open_store(to))


def eval(fn, *args, dds_export_graph=None, dds_extra_debug=False, dds_dont_eval=False, dds_stages=None,
         **kwargs):  # noqa: A001 - the name is dds_py's public API
    """Run the pipeline ``fn(*args, **kwargs)`` after planning it: find every keep/data function it reaches,
    compute their signatures, and run only what is stale.

    ``dds_dont_eval=True`` is a dry run: nothing runs, and the :class:`dds.plan.Plan` (which paths would
    run and why) is returned. ``dds_export_graph="pipeline.svg"`` (or .png/.dot) draws the pipeline.
    ``dds_stages`` selects stages (``"analysis"``, ``"path_loading"``, ``"eval"``). Returns what ``fn``
    returns (the plan in a dry run).
    """
    from .evaluation import evaluate

    return evaluate(fn, args, kwargs, export_graph=dds_export_graph, extra_debug=dds_extra_debug,
                    dont_eval=dds_dont_eval, stages=dds_stages)


__all__ = [
    "__version__", "keep", "eval", "why", "ProcessingStage", "data_function", "dds_function", "load", "set_store", "get_store",
    "File", "accept_module", "ignore", "reject_module", "register_hasher", "register_codec", "set_option", "get_option",
    "set_run_info_fn", "info", "graph", "load_ipython_extension", "promote", "pin", "unpin",
    "DDSError", "DDSErrorCode", "ArgumentError", "CodecError", "DamagedDataError", "DataFunctionError",
    "MissingInputError", "NotFoundError", "OverlappingPathError", "PathError", "SignatureError",
    "SourceUnavailableError", "StoreError", "UnhashableValueError", "UntrackedFileWarning", "UntrustedValueError",
]
