"""Where Spark finds a file that dds sees through fsspec: the one mapping shared by stores and codecs.

Spark reads and writes through Hadoop file systems, whose URI schemes differ from fsspec's: S3 is
``s3a://``, Databricks' FUSE mount ``/dbfs/x`` is ``dbfs:/x``, and a local path is ``file:///x``.
"""

from __future__ import annotations

import os
from typing import Any

DEFAULT_DBFS_ROOT = "/dbfs"


def dbfs_root() -> str:
    """The local mount point of DBFS (``DDS_DBFS_ROOT`` overrides it, e.g. in tests)."""
    return os.environ.get("DDS_DBFS_ROOT", DEFAULT_DBFS_ROOT).rstrip("/") or "/"


def spark_uri(fs: Any, path: str) -> str | None:
    """The URI Spark uses for ``path`` on the fsspec file system ``fs``; None if Spark cannot reach it."""
    protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
    if "file" in protocols or "local" in protocols:
        absolute = os.path.abspath(path)
        root = dbfs_root()
        if absolute == root or absolute.startswith(root + "/"):
            return "dbfs:" + (absolute[len(root):] or "/")
        return "file://" + absolute
    if "s3" in protocols or "s3a" in protocols:
        return "s3a://" + path.split("://", 1)[-1]
    if "memory" in protocols:
        return None
    return fs.unstrip_protocol(path)
