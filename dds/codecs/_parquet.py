"""Parquet I/O shared by the pandas and pyarrow codecs.

Parquet cannot hold every Arrow type as is (``timestamp[s]`` becomes ``[ms]``, ``date64`` becomes
``date32``, list fields get renamed), so the exact Arrow schema is stored next to the data and the table
is cast back to it on read: what comes out has the schema that went in.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from typing import Any

from .base import local_path

_SCHEMA_KEY = b"dds.arrow_schema"


def write_table(table: Any, fs: Any, path: str) -> None:
    import pyarrow.parquet as pq

    metadata = dict(table.schema.metadata or {})
    metadata[_SCHEMA_KEY] = base64.b64encode(table.schema.serialize().to_pybytes())
    table = table.replace_schema_metadata(metadata)  # zero-copy
    local = local_path(fs, path)
    if local is not None:
        pq.write_table(table, local)
    else:
        with fs.open(path, "wb") as f:
            pq.write_table(table, f)


def read_table(fs: Any, path: str) -> Any:
    with StoredParquet(fs, path) as stored:
        return stored.read()


class StoredParquet:
    """A Parquet file written by ``write_table``, read whole or a few columns at a time.

    Opening it reads only the footer. ``schema`` is the Arrow schema that was written (with its metadata);
    every ``read`` casts back to it. Reading by groups of columns lets a caller convert and free each group
    before the next one is decoded, so a load never holds the whole file decoded next to its conversion.
    """

    def __init__(self, fs: Any, path: str) -> None:
        import pyarrow.parquet as pq

        self._local = local_path(fs, path)
        self._file = None if self._local is not None else fs.open(path, "rb")
        try:
            self._parquet = pq.ParquetFile(self._local if self._local is not None else self._file)
            self.num_rows: int = self._parquet.metadata.num_rows
            self.schema = _written_schema(self._parquet.schema_arrow)
        except BaseException:
            self.close()
            raise
        self._dataset = None

    def read(self, columns: Iterable[str] | None = None) -> Any:
        """The given top-level columns (all by default), in that order, cast back to the written schema."""
        import pyarrow as pa

        columns = None if columns is None else list(columns)
        if self._local is not None:
            # The dataset reader decodes row groups in parallel (faster than ParquetFile.read). Without
            # pre-buffering each column chunk has buffers of its own, so a to_pandas(self_destruct=True) can
            # free them as it goes. Memory-mapped, the file's pages are read in place instead of copied
            # (blobs are never changed in place, so the mapping cannot shrink under the reader).
            if self._dataset is None:
                import pyarrow.dataset as ds
                from pyarrow.fs import LocalFileSystem

                options = ds.ParquetFragmentScanOptions(pre_buffer=False)
                self._dataset = ds.dataset(
                    os.path.abspath(self._local),
                    format=ds.ParquetFileFormat(default_fragment_scan_options=options),
                    filesystem=LocalFileSystem(use_mmap=True),
                )
            table = self._dataset.to_table(columns=columns)
        else:
            table = self._parquet.read(columns=columns)
        if columns is None:
            want = self.schema
        else:
            want = pa.schema([self.schema.field(name) for name in columns], metadata=self.schema.metadata)
        # casting to the same type is zero-copy: only the changed columns (e.g. timestamp[s]) cost anything
        return table if table.schema.equals(want, check_metadata=True) else table.cast(want)

    def close(self) -> None:
        parquet, self._parquet = getattr(self, "_parquet", None), None
        if parquet is not None:
            parquet.close()
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> StoredParquet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _written_schema(file_schema: Any) -> Any:
    """The exact Arrow schema stored by ``write_table``, or the file's own (another tool wrote it)."""
    import pyarrow as pa

    encoded = (file_schema.metadata or {}).get(_SCHEMA_KEY)
    if encoded is None:
        return file_schema
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))
