"""The codec protocol: how one kind of value becomes files inside a blob folder, and back.

A codec is chosen by the value's type (``handles``) and recorded by ``name`` in the blob's metadata, so the
same codec decodes it later, even after other codecs were registered. Type tests look at ``sys.modules``
instead of importing, so ``import dds`` never pays for pandas, pyarrow or numpy.
"""

from __future__ import annotations

import abc
import sys
from typing import Any

from ..filesystems import is_local
from ..errors import CodecError


class Codec(abc.ABC):
    """One value type <-> one file (or directory) named ``file_name`` inside a blob folder."""

    name: str  # stable id recorded in metadata, e.g. "pandas.parquet"; never rename a released codec
    file_name: str  # what ``write`` creates inside the blob folder, e.g. "data.parquet"
    # Capability flags: every attribute of a codec that dds reads besides the methods is declared here.
    #: True when ``write`` only ever appends to the files it creates (never seeks back or rewrites): a local
    #: store may then checksum them as they grow instead of reading them back afterwards
    appends_only: bool = False
    #: True when reading the files never runs code from them: the codec is used in safe mode
    #: (``dds.set_option("codecs", "safe")``). Pickle is not; dds's own data codecs are.
    safe: bool = False
    #: True when ``keep`` should hand out what a later load returns rather than the computed object (Spark:
    #: the DataFrame lazily read from the stored files, not the plan that computed them)
    returns_stored_value: bool = False
    #: True when every machine of a cluster reads the files itself (Spark): a local cache copy is no use
    read_by_cluster: bool = False
    #: True when ``read`` only opens its files with ``fs.open(path, "rb")``: a store may then fetch a small
    #: blob whole, verify it, and hand the codec an in-memory file system (one request per file on S3)
    reads_through_open: bool = False

    @abc.abstractmethod
    def handles(self, value: Any) -> bool:
        """Whether this codec stores values like ``value`` (a cheap type test, never a conversion)."""

    @abc.abstractmethod
    def write(self, value: Any, fs: Any, path: str) -> None:
        """Write ``value`` at ``path`` (a file or directory) on the fsspec file system ``fs``."""

    @abc.abstractmethod
    def read(self, fs: Any, path: str) -> Any:
        """Decode what ``write`` wrote at ``path``."""

    def __repr__(self) -> str:
        return f"<codec {self.name}>"


class NotSuitable(CodecError):
    """Raised by ``write`` before writing anything when this particular value cannot be represented
    (e.g. a DataFrame column mixing ints and strings): the store then falls back to pickle."""


def loaded_class(module: str, name: str) -> type | None:
    """``module.name`` if ``module`` is already imported, else None (nothing gets imported)."""
    mod = sys.modules.get(module)
    return getattr(mod, name, None) if mod is not None else None


def is_exactly(value: Any, module: str, name: str) -> bool:
    """True if ``type(value)`` is ``module.name`` itself (subclasses go to pickle, so their type survives)."""
    cls = loaded_class(module, name)
    return cls is not None and type(value) is cls


def local_path(fs: Any, path: str) -> str | None:
    """The plain OS path if ``fs`` is the local file system (lets libraries write without a copy)."""
    return path if is_local(fs) else None
