"""pandas DataFrame <-> Parquet (via pyarrow), keeping dtypes, index and ``attrs``.

pyarrow's pandas metadata restores categoricals, time zones, nullable and extension dtypes and the index.
What it cannot restore exactly (object columns read back as ``str`` under pandas 3, a DatetimeIndex's
``freq``) is recorded here and put back on read. A frame Arrow cannot represent (duplicate column names,
an object column mixing types) raises NotSuitable, so the store pickles it instead of failing.
"""

from __future__ import annotations

import json
from typing import Any

from ._parquet import read_table, write_table
from .base import Codec, NotSuitable, is_exactly

_KEY = b"dds.pandas"


class PandasParquetCodec(Codec):
    name = "pandas.parquet"
    file_name = "data.parquet"

    def handles(self, value: Any) -> bool:
        return is_exactly(value, "pandas", "DataFrame")

    def write(self, value: Any, fs: Any, path: str) -> None:
        import pyarrow as pa

        try:
            table = pa.Table.from_pandas(value, preserve_index=None)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise NotSuitable(f"pyarrow cannot convert this DataFrame to Parquet: {exc}") from exc
        index = value.index
        info = {
            "columns": [str(dtype) for dtype in value.dtypes],
            "index": None if index.nlevels > 1 else str(index.dtype),
            "freq": getattr(index, "freqstr", None),
        }
        metadata = {**(table.schema.metadata or {}), _KEY: json.dumps(info).encode()}
        write_table(table.replace_schema_metadata(metadata), fs, path)

    def read(self, fs: Any, path: str) -> Any:
        table = read_table(fs, path)
        info = json.loads((table.schema.metadata or {}).get(_KEY, b"{}"))
        # split_blocks + self_destruct free each Arrow column as soon as it is converted: the peak
        # memory of a load stays near the frame's size instead of twice it
        frame = table.to_pandas(split_blocks=True, self_destruct=True)
        del table
        _restore(frame, info)
        return frame


def _restore(frame: Any, info: dict) -> None:
    """Cast back the columns (and index) whose dtype did not survive Parquet."""
    for i, want in enumerate(info.get("columns") or []):
        column = frame.iloc[:, i]
        if str(column.dtype) != want:
            try:
                fixed = column.astype(want)
            except (TypeError, ValueError):
                continue
            if want == "object":  # Parquet nulls come back as NaN in str columns; object columns held None
                fixed[column.isna()] = None
            frame.isetitem(i, fixed)
    want = info.get("index")
    if want and str(frame.index.dtype) != want:
        try:
            frame.index = frame.index.astype(want)
        except (TypeError, ValueError):
            pass
    if info.get("freq") and getattr(frame.index, "freqstr", None) != info["freq"]:
        try:  # DatetimeIndex / TimedeltaIndex: rebuild with the frequency (validated by pandas)
            frame.index = type(frame.index)(frame.index, freq=info["freq"])
        except (TypeError, ValueError):
            pass
