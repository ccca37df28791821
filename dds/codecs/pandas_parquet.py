"""pandas DataFrame <-> Parquet (via pyarrow), keeping dtypes, index and ``attrs``.

pyarrow's pandas metadata restores categoricals, time zones, nullable and extension dtypes and the index.
What it cannot restore exactly (object columns read back as ``str`` under pandas 3, a DatetimeIndex's
``freq``) is recorded here and put back on read. A frame Arrow cannot represent (duplicate column names,
an object column mixing types) raises NotSuitable, so the store pickles it instead of failing.

A big file is read and converted a group of columns at a time, each group freed before the next is decoded,
and the groups' blocks are put side by side without a copy: a load needs about the frame's own memory, not
the decoded file plus the frame (pyarrow's own reading of the pandas metadata still gives labels and dtypes).
"""

from __future__ import annotations

import json
from typing import Any

from ._parquet import StoredParquet, write_table
from .base import Codec, NotSuitable, is_exactly

_KEY = b"dds.pandas"


class PandasParquetCodec(Codec):
    name = "pandas.parquet"
    reads_through_open = True  # read() opens its file with fs.open(path, "rb") only
    file_name = "data.parquet"
    # one file, written front to back and never rewritten (Parquet only appends): a store may checksum it
    # while it grows instead of reading it back
    appends_only = True

    def handles(self, value: Any) -> bool:
        return is_exactly(value, "pandas", "DataFrame")

    def write(self, value: Any, fs: Any, path: str) -> None:
        import pandas as pd
        import pyarrow as pa

        try:
            table = pa.Table.from_pandas(value, preserve_index=None)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise NotSuitable(f"pyarrow cannot convert this DataFrame to Parquet: {exc}") from exc
        index = value.index
        if value.shape[1] == 0 and len(index) and isinstance(index, pd.RangeIndex):
            # a file without columns has no rows: Parquet would give back an empty frame
            raise NotSuitable("a DataFrame without columns keeps its length only in a pickle")
        info = {
            "columns": [str(dtype) for dtype in value.dtypes],
            "index": None if index.nlevels > 1 else str(index.dtype),
            "freq": getattr(index, "freqstr", None),
        }
        metadata = {**(table.schema.metadata or {}), _KEY: json.dumps(info).encode()}
        write_table(table.replace_schema_metadata(metadata), fs, path)

    def read(self, fs: Any, path: str) -> Any:
        with StoredParquet(fs, path) as stored:
            info = json.loads((stored.schema.metadata or {}).get(_KEY, b"{}"))
            parts = []
            for columns in _column_groups(stored):
                table = stored.read(columns)
                # self_destruct frees each Arrow column once converted; no split_blocks: pyarrow then writes
                # into blocks of its own (writable), never a zero-copy read-only view of Arrow memory
                parts.append(table.to_pandas(self_destruct=True))
                del table
            frame = parts[0] if len(parts) == 1 else _join(parts, stored.schema)
        del parts  # no other reference to the frame's blocks: the first write into them needs no copy
        _restore(frame, info)
        return frame


# Columns are read, converted and freed in groups of a quarter of the frame (decoded), but at least _GROUP_MIN
# bytes (smaller groups cost more in per-read overhead than they save) and at most _GROUP_MAX: a load then
# needs the frame plus one group, not the frame plus the whole decoded file. Small frames are one group.
_GROUP_MIN = 32 << 20
_GROUP_MAX = 128 << 20


def _column_groups(stored: Any) -> list[list[str] | None]:
    """The columns to read together, in the file's order; the index columns come with the first group."""
    schema = stored.schema
    names = schema.names
    pandas_meta = schema.pandas_metadata
    if pandas_meta is None or len(set(names)) != len(names):
        return [None]  # not written from pandas here, or ambiguous names: read it whole
    index = [c for c in pandas_meta.get("index_columns", []) if isinstance(c, str) and c in names]
    sizes = {name: _decoded_bytes(schema.field(name).type, stored.num_rows) for name in names}
    budget = min(_GROUP_MAX, max(_GROUP_MIN, sum(sizes.values()) // 4))
    groups, group, size, has_data = [], list(index), sum(sizes[c] for c in index), False
    for name in names:
        if name in index:
            continue
        if has_data and size + sizes[name] > budget:
            groups.append(group)
            group, size = [], 0
        group.append(name)
        size, has_data = size + sizes[name], True
    groups.append(group)
    return [None] if len(groups) == 1 else groups


def _decoded_bytes(arrow_type: Any, rows: int) -> int:
    """A rough size of a column once decoded: exact for fixed-width types, a guess for the others."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):  # a categorical: its codes
        arrow_type = arrow_type.index_type
    try:
        width = max(arrow_type.bit_width, 8) // 8
    except ValueError:  # strings, lists, structs
        width = 32
    return rows * width


def _join(parts: list, schema: Any) -> Any:
    """One frame from frames converted group by group: their blocks side by side, no copy."""
    import pandas as pd

    # The labels, their index type and names, and ``attrs`` come from pyarrow's own reading of the pandas
    # metadata (on an empty table, so it costs nothing); only the first group carries the real index.
    shape = schema.empty_table().to_pandas()
    index = parts[0].index
    start = 0
    for part in parts:
        part.index = index  # the same object: concat sees equal indexes without comparing values
        part.columns = pd.RangeIndex(start, start + part.shape[1])
        start += part.shape[1]
    copy = {"copy": False} if int(pd.__version__.split(".")[0]) < 3 else {}  # pandas 3 never copies here
    frame = pd.concat(parts, axis=1, **copy)
    frame.columns = shape.columns
    frame.attrs = shape.attrs
    return frame


def _restore(frame: Any, info: dict) -> None:
    """Cast back the columns (and index) whose dtype did not survive Parquet."""
    for i, want in enumerate(info.get("columns") or []):
        column = frame.iloc[:, i]
        if want == "category" and str(column.dtype) == want:
            # pyarrow hands the codes over as a read-only view of Arrow memory: a copy (one small integer per
            # row) lets the frame be written into like the one that was stored
            frame.isetitem(i, column.array.copy())
        elif str(column.dtype) != want:
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
