"""pyarrow Table <-> Parquet; read back as a Table with the identical schema."""

from __future__ import annotations

from typing import Any

from ._parquet import read_table, write_table
from .base import Codec, is_exactly


class ArrowParquetCodec(Codec):
    name = "arrow.parquet"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.parquet"
    appends_only = True  # Parquet is written front to back

    def handles(self, value: Any) -> bool:
        return is_exactly(value, "pyarrow", "Table")

    def write(self, value: Any, fs: Any, path: str) -> None:
        write_table(value, fs, path)

    def read(self, fs: Any, path: str) -> Any:
        return read_table(fs, path)
