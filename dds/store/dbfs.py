"""The ``dbfs`` store, for Databricks: the fsspec store on the ``/dbfs`` FUSE mount, plus ``dbfs:/`` URIs.

Python reads and writes pandas, numpy and pickled values through the local ``/dbfs/...`` paths; Spark on
the cluster reaches the same files as ``dbfs:/...``. The mount is object storage underneath: folders cannot
be renamed reliably and there are no symlinks, so blobs are written where they stay with the metadata as the
commit point (the fsspec store's protocol), and the view for people (``data_dir``) is a copy. The mount point
is ``dbfs_root`` (default ``/dbfs``, or ``DDS_DBFS_ROOT``), so tests can point it at a temporary folder.
"""

from __future__ import annotations

import os

from fsspec.implementations.local import LocalFileSystem

from ..errors import StoreError
from ..filesystems import below_dbfs, dbfs_local
from .fsspec_store import FsspecStore, check_apart
from .lease import DEFAULT_SECONDS


class DbfsFuseFileSystem(LocalFileSystem):
    """The local file system, knowing where DBFS is mounted (``dbfs_root``) so Spark URIs can be derived."""

    cachable = False  # fsspec shares LocalFileSystem instances; each store keeps its own root

    def __init__(self, dbfs_root: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dbfs_root = dbfs_root


class DbfsStore(FsspecStore):
    kind = "dbfs"

    def __init__(self, internal_dir: str | None = None, data_dir: str | None = None,
                 dbfs_root: str | None = None) -> None:
        root = os.path.abspath(dbfs_root or os.environ.get("DDS_DBFS_ROOT") or "/dbfs")
        if not os.path.isdir(root):
            raise StoreError(
                f"The dbfs store needs the DBFS mount at {root}, which does not exist. On Databricks it is /dbfs; "
                f"elsewhere pass dbfs_root='/some/dir' (or set DDS_DBFS_ROOT), or use the local or fsspec store."
            )
        self.dbfs_root = root
        internal = self.local_path(internal_dir or "dbfs:/dds", "internal_dir")
        data_root = check_apart(internal, self.local_path(data_dir, "data_dir"), data_dir) if data_dir else None
        # the mount is a local file system: no URL to parse, no lease (no atomic create), no local cache
        self._setup(DbfsFuseFileSystem(root), internal, "dbfs:" + self._below_root(internal), data_root,
                    DEFAULT_SECONDS, None)

    def describe(self) -> str:
        return f"dbfs store at {self.root} ({self.url})"

    def local_path(self, where: str, option: str = "path") -> str:
        """``/dbfs/x`` or ``dbfs:/x`` -> the absolute local path under ``dbfs_root``; refuses anything else."""
        where = os.fspath(where)
        if where.startswith("dbfs:"):
            local = dbfs_local(where, self.dbfs_root)
        else:
            local = os.path.abspath(os.path.expanduser(where))
        local = os.path.normpath(local)
        self._below_root(local, option, where)
        return local

    def spark_uri(self, local_path: str) -> str:
        """``<dbfs_root>/x`` -> ``dbfs:/x``: the name Spark on the cluster uses for that file."""
        return "dbfs:" + self._below_root(os.path.normpath(os.path.abspath(local_path)))

    def uri_for_spark(self, path: str) -> str:
        return self.spark_uri(path)

    def _below_root(self, local: str, option: str = "path", given: str | None = None) -> str:
        """The part of ``local`` below the mount, starting with '/'."""
        below = below_dbfs(local, self.dbfs_root)
        if below is None:
            raise StoreError(
                f"The dbfs store's {option} {given or local!r} is not on DBFS (mounted at {self.dbfs_root}). "
                f"Use a path under {self.dbfs_root}/ or a dbfs:/ URI, or set dbfs_root (DDS_DBFS_ROOT)."
            )
        return below

