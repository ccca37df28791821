"""fsspec file systems as dds sees them: protocol names, and where Spark finds a file dds reaches through
fsspec (the one mapping shared by stores, codecs and inputs). A leaf: imports nothing of dds.

Spark reads and writes through Hadoop file systems, whose URI schemes differ from fsspec's: S3 is
``s3a://``, Databricks' FUSE mount ``/dbfs/x`` is ``dbfs:/x``, and a local path is ``file:///x``.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import unquote

DEFAULT_DBFS_ROOT = "/dbfs"
#: Protocols whose root is a bucket (a typo there is a missing bucket, not a folder to create).
OBJECT_STORES = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "oci", "r2", "cos", "tos"})


def protocols(fs: Any) -> tuple[str, ...]:
    """``fs.protocol`` as a tuple (fsspec gives a str or a tuple)."""
    protocol = getattr(fs, "protocol", ())
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def is_local(fs: Any) -> bool:
    """Whether ``fs`` is the local file system (paths on it are paths of this machine)."""
    return bool({"file", "local"} & set(protocols(fs)))


def dbfs_root() -> str:
    """The local mount point of DBFS (``DDS_DBFS_ROOT`` overrides it, e.g. in tests)."""
    return os.environ.get("DDS_DBFS_ROOT", DEFAULT_DBFS_ROOT).rstrip("/") or "/"


def below_dbfs(local: str, root: str | None = None) -> str | None:
    """The part of the absolute path ``local`` below the DBFS mount (starting with '/'), or None."""
    root = (root or dbfs_root()).rstrip("/") or "/"
    if local == root or local.startswith(root.rstrip("/") + "/"):
        return local[len(root.rstrip("/")):] or "/"
    return None


def dbfs_local(uri: str, root: str | None = None, percent_encoded: bool = False) -> str:
    """``dbfs:/x`` -> the local path of ``x`` on the FUSE mount (``/dbfs/x``); Spark's URIs are
    ``percent_encoded``, a user's are not."""
    root = root or dbfs_root()
    rest = uri[len("dbfs:"):]
    rest = (unquote(rest) if percent_encoded else rest).lstrip("/")
    return os.path.join(root, rest) if rest else root


def from_spark_uri(uri: str) -> str:
    """The path or URL fsspec opens for a URI Spark names (the inverse of ``spark_uri``): Spark's URIs are
    percent-encoded, DBFS is the local mount, ``s3a://`` is ``s3://``."""
    if uri.startswith("file:"):
        return "/" + unquote(uri[len("file:"):]).lstrip("/")
    if uri.startswith("dbfs:"):
        return dbfs_local(uri, percent_encoded=True)
    if uri.startswith("s3a://"):
        return "s3://" + uri[len("s3a://"):]
    return uri


def spark_uri(fs: Any, path: str) -> str | None:
    """The URI Spark uses for ``path`` on the fsspec file system ``fs``; None if Spark cannot reach it."""
    names = protocols(fs)
    if is_local(fs):
        absolute = os.path.abspath(path)
        below = below_dbfs(absolute)
        return "dbfs:" + below if below is not None else "file://" + absolute
    if "s3" in names or "s3a" in names:
        return "s3a://" + path.split("://", 1)[-1]
    if "memory" in names:
        return None
    return fs.unstrip_protocol(path)
