"""Tabular values as Delta tables (delta-rs, the ``deltalake`` package), for tools that want Delta.

Off by default (Parquet is exact and needs nothing): ``dds.set_option("tabular_format", "delta")``.
Spark DataFrames keep using Spark's own Parquet writer, since Spark's Delta jars cannot be assumed.
pandas frames go through Arrow with their index kept; dtypes that Delta cannot represent exactly
(categoricals, for example) come back as their Arrow equivalents.
"""

from __future__ import annotations

from typing import Any

from .. import options
from ..errors import CodecError
from ..filesystems import protocols
from .base import Codec, is_exactly, local_path


def _location(fs: Any, path: str) -> str:
    local = local_path(fs, path)
    if local is not None:
        return local
    if "memory" in protocols(fs):
        raise CodecError("Delta tables cannot be written to a memory store; use the local or an fsspec store.")
    return fs.unstrip_protocol(path)


def _deltalake() -> Any:
    try:
        import deltalake
    except ImportError:
        raise CodecError("tabular_format='delta' needs the deltalake package. Fix: pip install 'dds[delta]'.") from None
    return deltalake


class _DeltaCodec(Codec):
    module: str
    type_name: str

    def handles(self, value: Any) -> bool:
        return options.get_option("tabular_format") == "delta" and is_exactly(value, self.module, self.type_name)

    def _write_table(self, table: Any, fs: Any, path: str) -> None:
        _deltalake().write_deltalake(_location(fs, path), table, mode="error")

    def _read_table(self, fs: Any, path: str) -> Any:
        return _deltalake().DeltaTable(_location(fs, path)).to_pyarrow_table()


class ArrowDeltaCodec(_DeltaCodec):
    name = "arrow.delta"
    file_name = "data.delta"
    module, type_name = "pyarrow", "Table"

    def write(self, value: Any, fs: Any, path: str) -> None:
        self._write_table(value, fs, path)

    def read(self, fs: Any, path: str) -> Any:
        return self._read_table(fs, path)


class PandasDeltaCodec(_DeltaCodec):
    name = "pandas.delta"
    file_name = "data.delta"
    module, type_name = "pandas", "DataFrame"

    def write(self, value: Any, fs: Any, path: str) -> None:
        import pyarrow as pa

        self._write_table(pa.Table.from_pandas(value, preserve_index=None), fs, path)

    def read(self, fs: Any, path: str) -> Any:
        return self._read_table(fs, path).to_pandas()
