"""Parquet I/O shared by the pandas and pyarrow codecs.

Parquet cannot hold every Arrow type as is (``timestamp[s]`` becomes ``[ms]``, ``date64`` becomes
``date32``, list fields get renamed), so the exact Arrow schema is stored next to the data and the table
is cast back to it on read: what comes out has the schema that went in.
"""

from __future__ import annotations

import base64
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
    import pyarrow as pa
    import pyarrow.parquet as pq

    local = local_path(fs, path)
    if local is not None:
        # The dataset reader reads columns in parallel (faster than ParquetFile.read). Without pre-buffering
        # each column has buffers of its own, so a to_pandas(self_destruct=True) can free them column by
        # column: the load's peak memory stays near the frame's own size.
        table = pq.read_table(local, pre_buffer=False)
    else:
        with fs.open(path, "rb") as f:
            table = pq.ParquetFile(f).read()
    metadata = dict(table.schema.metadata or {})
    encoded = metadata.pop(_SCHEMA_KEY, None)
    if encoded is None:  # written by another tool: take it as Parquet gives it
        return table
    schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(encoded)))
    if not table.schema.equals(schema, check_metadata=True):
        table = table.cast(schema)
    return table
