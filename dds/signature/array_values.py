"""How numpy arrays, pandas frames, series and indexes, and Arrow data are hashed: over their buffers.

These values are what pipelines pass around, and they are big: a copy before hashing (``tobytes()``, an
IPC stream, pandas' row hashes) costs more than the hash. Here every hasher returns a small tuple that
identifies the value — its kind, dtype, shape, names — whose bulk part is an XXH3-128 digest computed by
streaming ``update()`` over the value's own memory (a memoryview, no copy). Only what is not laid out in
one pass is copied, a bounded chunk at a time (``CHUNK_BYTES``): strided numpy views, null slots that must
not be hashed by their garbage bytes, bit-packed Arrow booleans.

What a digest covers is the value's logical content, never its layout: a C-ordered array and its
Fortran-ordered copy, a frame before and after block consolidation, an Arrow column in one chunk or ten,
hash alike. Each stream is fed one kind of data (values, lengths, null positions), so streams cannot be
confused with one another; what separates values of different shapes, dtypes or names is in the tuple.

Object columns and exotic types (Arrow structs, lists, unions; pandas extension arrays without a known
layout) take a correct, slower path: element by element.
"""

from __future__ import annotations

import struct
from typing import Any, Iterable

import xxhash

CHUNK_BYTES = 1 << 20  # the most copied at once when a layout must be rearranged before hashing
_ITEMS = 4096  # elements per batch on the element-by-element paths
_STREAM = "xxh3-128"  # named in every identity, so a change of hash function can never collide


def _hex(h: Any) -> str:
    return h.hexdigest()


# --- numpy ---------------------------------------------------------------------------------------------

def dtype_text(dtype: Any) -> Any:
    """A numpy dtype as text that names its fields (``dtype.str`` of a structured dtype is ``|V16``)."""
    if dtype.names is None:
        return dtype.str if dtype.subdtype is None else (dtype.subdtype[0].str, dtype.subdtype[1])
    return tuple((name, dtype_text(dtype.fields[name][0])) for name in dtype.names)


def numpy_array_identity(arr: Any) -> tuple:
    """An ndarray by dtype, shape and a digest of its elements in C order (any memory layout)."""
    import numpy

    dtype = arr.dtype
    if isinstance(arr, numpy.ma.MaskedArray):  # the mask and fill value are part of what code sees
        return ("masked-array", numpy_array_identity(numpy.asarray(arr.data)),
                numpy_array_identity(numpy.ma.getmaskarray(arr)), _scalar_or_none(arr.fill_value),
                bool(arr.hardmask))
    if dtype.hasobject:
        return ("object-array", dtype_text(dtype), arr.shape, object_items_identity(arr))
    if dtype.names is not None:  # fields one by one: padding bytes between fields are not data
        return ("structured-array", dtype_text(dtype), arr.shape,
                tuple((name, numpy_array_identity(arr[name])) for name in dtype.names))
    h = xxhash.xxh3_128()
    feed_array(h, arr)
    return ("ndarray", dtype_text(dtype), tuple(int(n) for n in arr.shape), _STREAM, _hex(h))


def numpy_scalar_identity(x: Any) -> tuple:
    """A numpy scalar by dtype and bytes (a structured one field by field, without its padding)."""
    import numpy

    if x.dtype.names is not None:
        if x.dtype.hasobject:  # a record holding objects: its fields as Python values
            return (dtype_text(x.dtype), x.item())
        return (dtype_text(x.dtype), numpy_array_identity(numpy.asarray(x)))
    return (x.dtype.str, x.tobytes())


def _scalar_or_none(x: Any) -> Any:
    return None if x is None else (x.dtype.str, x.tobytes()) if hasattr(x, "dtype") else x


def _byte_view(arr: Any) -> memoryview:
    """The bytes of a C-contiguous array, without a copy (also for dtypes without the buffer protocol)."""
    import numpy

    return memoryview(arr.reshape(-1).view(numpy.uint8))


def feed_array(h: Any, arr: Any) -> None:
    """Feed the elements of a (non-object, non-structured) array to ``h`` in C order.

    C-contiguous: one pass over its memory. Otherwise blocks of whole rows (or, when one row is larger
    than a chunk, the rows one by one, recursively) are copied into one reused buffer of CHUNK_BYTES.
    """
    import numpy

    if arr.flags.c_contiguous:
        h.update(_byte_view(arr))
        return
    buffer = numpy.empty(max(1, CHUNK_BYTES // max(1, arr.itemsize)), dtype=arr.dtype)
    _feed_strided(h, arr, buffer)


def _feed_strided(h: Any, arr: Any, buffer: Any) -> None:
    import numpy

    if arr.flags.c_contiguous:
        h.update(_byte_view(arr))
        return
    rows = arr.shape[0]  # not contiguous, so at least one dimension and more than one element
    row_bytes = arr.nbytes // rows
    if row_bytes > CHUNK_BYTES:
        for i in range(rows):
            _feed_strided(h, arr[i, ...], buffer)
        return
    step = max(1, CHUNK_BYTES // max(1, row_bytes))
    for start in range(0, rows, step):
        block = arr[start:start + step]
        target = buffer[:block.size].reshape(block.shape)
        numpy.copyto(target, block)
        h.update(_byte_view(target))


# --- elements one by one (object arrays and columns) --------------------------------------------------

_PACK_DOUBLE = struct.Struct("<d").pack
_PACK_LEN = struct.Struct("<q").pack


def object_items_identity(arr: Any, singletons: dict[int, bytes] | None = None) -> tuple:
    """Elements of an object array or column, in C order.

    Plain values (str, bytes, int, float, bool, None, and ``singletons`` such as ``pandas.NA``) are
    encoded type-aware and streamed into one digest. Anything else hands the list to the value hasher
    (``("items", [...])``): slower, and correct for any picklable object.
    """
    digest = _plain_items_digest(arr.flat, singletons or {})
    if digest is not None:
        return ("plain-items", int(arr.size), _STREAM, digest)
    # records of a structured dtype as tuples (hashing them as numpy records would come back here)
    return ("items", arr.reshape(-1).tolist() if arr.dtype.names is not None else list(arr.flat))


def _plain_items_digest(items: Iterable[Any], singletons: dict[int, bytes]) -> str | None:
    h = xxhash.xxh3_128()
    out: list[bytes] = []
    for v in items:
        tp = type(v)
        if tp is str:
            data = v.encode("utf-8", "surrogatepass")
            out += (b"s", _PACK_LEN(len(data)), data)
        elif tp is float:
            out += (b"f", _PACK_DOUBLE(v))
        elif v is None:
            out.append(b"n")
        elif tp is bool:
            out.append(b"T" if v else b"F")
        elif tp is int:
            data = str(v).encode() if v.bit_length() < 10000 else hex(v).encode()
            out += (b"i", _PACK_LEN(len(data)), data)
        elif tp is bytes:
            out += (b"b", _PACK_LEN(len(v)), v)
        elif id(v) in singletons:
            out.append(singletons[id(v)])
        else:
            return None
        if len(out) >= _ITEMS:
            h.update(b"".join(out))
            out.clear()
    h.update(b"".join(out))
    return _hex(h)


# --- pandas -------------------------------------------------------------------------------------------

def pandas_frame_identity(df: Any) -> tuple:
    """A DataFrame by its column labels, index, and each column's dtype and values (not its blocks)."""
    columns = tuple(_compact((pandas_dtype_text(dtype), pandas_values_identity(values)))
                    for dtype, values in zip(df.dtypes, _column_arrays(df)))
    return ("DataFrame", pandas_index_identity(df.columns), pandas_index_identity(df.index), columns,
            dict(df.attrs))


def _column_arrays(df: Any) -> Iterable[Any]:
    """Each column's array, without a Series per column (10,000 of them cost seconds)."""
    fast = getattr(df, "_iter_column_arrays", None)  # pandas >= 1.3; a view of each column
    if fast is not None:
        return fast()
    return (df.iloc[:, i].array for i in range(df.shape[1]))


def _compact(identity: tuple) -> Any:
    """An identity made of str, int, bool, None and tuples as one string (its repr is exact for those
    types), so a wide frame costs one digest per column rather than one per part."""
    return repr(identity) if _plain(identity) else identity


def _plain(part: Any) -> bool:
    tp = type(part)
    if tp is tuple:
        return all(_plain(p) for p in part)
    return tp in (str, int, bool) or part is None


def pandas_series_identity(s: Any) -> tuple:
    return ("Series", s.name, pandas_index_identity(s.index), _column_identity(s), dict(s.attrs))


def _column_identity(s: Any) -> tuple:
    return (pandas_dtype_text(s.dtype), pandas_values_identity(s.array))


def pandas_dtype_text(dtype: Any) -> str:
    """A pandas dtype as text; a string dtype's storage and missing-value marker are part of it."""
    text = f"{type(dtype).__name__}:{dtype}"
    if hasattr(dtype, "storage"):
        text += f":{dtype.storage}:{getattr(dtype, 'na_value', None)!r}"
    return text


def pandas_index_identity(index: Any) -> tuple:
    """An index by kind, names and values; a RangeIndex by start, stop and step (nothing materialised)."""
    import pandas

    names = tuple(index.names)
    if isinstance(index, pandas.RangeIndex):
        return ("RangeIndex", names, index.start, index.stop, index.step)
    if isinstance(index, pandas.MultiIndex):
        return ("MultiIndex", names, tuple(pandas_index_identity(level) for level in index.levels),
                tuple(numpy_array_identity(codes) for codes in index.codes))
    freq = getattr(index, "freqstr", None)
    return ("Index", type(index).__name__, names, pandas_dtype_text(index.dtype), freq,
            pandas_values_identity(index.array))


def pandas_values_identity(values: Any) -> tuple:
    """A pandas array (what ``Series.array`` returns) over its underlying buffers."""
    import numpy
    import pandas

    kinds = _pandas_array_kinds()
    if isinstance(values, (numpy.ndarray, *kinds["numpy"])):
        data = numpy.asarray(values)
        if data.dtype.hasobject:
            return object_items_identity(data, _pandas_singletons())
        if data.dtype.kind in "mM":  # as a DatetimeArray gives it: the unit is in the dtype
            return ("int64-view", numpy_array_identity(data.view("i8")))
        return numpy_array_identity(data)
    if isinstance(values, kinds["datetimelike"]):  # the unit, time zone and frequency are in the dtype
        return ("int64-view", numpy_array_identity(values.asi8))
    if isinstance(values, pandas.Categorical):
        return ("categorical", bool(values.ordered), pandas_index_identity(values.categories),
                numpy_array_identity(values.codes))
    if isinstance(values, kinds["interval"]):
        return ("interval", values.closed, pandas_index_identity(values.left), pandas_index_identity(values.right))
    if isinstance(values, kinds["masked"]):
        return masked_identity(values._data, values._mask)
    if isinstance(values, kinds["arrow"]):
        return arrow_column_identity(values.__arrow_array__())  # its own ChunkedArray (pa.array() may combine)
    if isinstance(values, kinds["string"]):
        data = numpy.asarray(values, dtype=object)
        return object_items_identity(data, _pandas_singletons())
    return ("items", type(values).__name__, list(values))  # other extension arrays: element by element


_KINDS: dict[str, tuple] = {}


def _pandas_array_kinds() -> dict[str, tuple]:
    """pandas array classes by layout (names differ across pandas versions; absent ones are left out)."""
    if not _KINDS:
        import pandas

        def classes(*names: str) -> tuple:
            return tuple(getattr(pandas.arrays, n) for n in names if hasattr(pandas.arrays, n))

        try:
            from pandas.core.arrays.masked import BaseMaskedArray
            masked: tuple = (BaseMaskedArray,)
        except ImportError:  # pragma: no cover - pandas without masked arrays
            masked = ()
        _KINDS.update(numpy=classes("NumpyExtensionArray", "PandasArray"),
                      datetimelike=classes("DatetimeArray", "TimedeltaArray", "PeriodArray"),
                      interval=classes("IntervalArray"), masked=masked, arrow=classes("ArrowExtensionArray"),
                      string=classes("StringArray"))
    return _KINDS


def _pandas_singletons() -> dict[int, bytes]:
    import pandas

    return {id(pandas.NA): b"A", id(pandas.NaT): b"t"}


def masked_identity(data: Any, mask: Any) -> tuple:
    """Values with a boolean mask of missing slots: the values of missing slots are never hashed."""
    import numpy

    values, nulls = xxhash.xxh3_128(), xxhash.xxh3_128()
    if not mask.any():
        feed_array(values, data)
        null_count = 0
    else:
        null_count = int(mask.sum())
        step = max(1, CHUNK_BYTES // max(1, data.itemsize))
        for start in range(0, len(data), step):
            block = numpy.array(data[start:start + step])
            missing = mask[start:start + step]
            block[missing] = 0
            values.update(_byte_view(block))
            positions = numpy.flatnonzero(missing).astype("<i8", copy=False)
            positions += start
            nulls.update(_byte_view(positions))
    return ("masked", data.dtype.str, len(data), null_count, _STREAM, _hex(values), _hex(nulls))


# --- Arrow --------------------------------------------------------------------------------------------

def arrow_schema_identity(schema: Any) -> tuple:
    fields = tuple((f.name, str(f.type), bool(f.nullable), _metadata(f.metadata)) for f in schema)
    return (fields, _metadata(schema.metadata))


def _metadata(metadata: Any) -> tuple:
    return tuple(sorted(metadata.items())) if metadata else ()


def arrow_table_identity(table: Any) -> tuple:
    """A Table (or RecordBatch) by schema, row count and each column's logical content (any chunking)."""
    columns = tuple(arrow_column_identity(table.column(i)) for i in range(table.num_columns))
    return ("table", arrow_schema_identity(table.schema), table.num_rows, columns)


def arrow_column_identity(column: Any) -> tuple:
    """An Array or ChunkedArray by type and logical content: equal whatever the chunks and slices."""
    chunks = column.chunks if hasattr(column, "chunks") else [column]
    stream = _ArrowStream(column.type)
    for chunk in chunks:
        stream.feed(chunk)
    return stream.identity()


def _arrow_kind(tp: Any) -> str:
    import pyarrow

    types = pyarrow.types
    if types.is_null(tp):
        return "null"
    if types.is_dictionary(tp):
        return "dictionary"
    if types.is_boolean(tp):
        return "bool"
    if types.is_string(tp) or types.is_binary(tp):
        return "binary32"
    if types.is_large_string(tp) or types.is_large_binary(tp):
        return "binary64"
    if isinstance(tp, getattr(pyarrow, "BaseExtensionType", pyarrow.ExtensionType)):
        return "pylist"  # its storage may be fixed-width, but the type's meaning is its own
    if (types.is_integer(tp) or types.is_floating(tp) or types.is_temporal(tp) or types.is_decimal(tp)
            or types.is_fixed_size_binary(tp)):
        if not types.is_interval(tp) or tp.bit_width % 8 == 0:
            return "fixed"
    return "pylist"


class _ArrowStream:
    """The logical content of one Arrow column, fed chunk after chunk.

    Three streams: the values (null slots zeroed, or for strings and binaries left out), the lengths of
    variable-length values (0 for null slots), the positions of null slots. Validity bitmaps and boolean
    values are read bit by bit from the chunk's own offset, so slices and re-chunkings hash alike.
    """

    def __init__(self, tp: Any):
        self.type = tp
        self.kind = _arrow_kind(tp)
        self.values = xxhash.xxh3_128()
        self.lengths = xxhash.xxh3_128()
        self.nulls = xxhash.xxh3_128()
        self.position = 0
        self.null_count = 0
        self.width = tp.bit_width // 8 if self.kind == "fixed" else 0
        self.inner = _ArrowStream(tp.value_type) if self.kind == "dictionary" else None
        self._feed_window = {"fixed": self._feed_fixed, "bool": self._feed_bool, "binary32": self._feed_binary,
                             "binary64": self._feed_binary, "dictionary": self._feed_dictionary,
                             "pylist": self._feed_pylist}.get(self.kind)
        # elements per window: its temporary arrays (bits unpacked to bytes, null positions) stay near a chunk
        self._step = {"fixed": CHUNK_BYTES // max(1, self.width), "bool": CHUNK_BYTES // 8,
                      "pylist": _ITEMS}.get(self.kind, 1 << 16)

    def identity(self) -> tuple:
        inner = self.inner.identity() if self.inner is not None else ()
        return ("arrow", str(self.type), self.position, self.null_count, _STREAM, _hex(self.values),
                _hex(self.lengths), _hex(self.nulls), inner)

    def feed(self, chunk: Any) -> None:
        n = len(chunk)
        if self.kind == "null" or n == 0:
            self.position += n
            self.null_count += n
            return
        buffers = chunk.buffers()
        # Nulls of dictionaries, structs, lists ... are seen in what they decode or convert to.
        bitmap = buffers[0] if chunk.null_count and self.kind in ("fixed", "bool", "binary32", "binary64") else None
        step = n if self.kind == "fixed" and bitmap is None else self._step  # no nulls: one zero-copy pass
        for start in range(0, n, step):
            count = min(step, n - start)
            valid = None
            if bitmap is not None:
                valid = _bits(bitmap, chunk.offset + start, count)
                self._feed_nulls(valid, start)
            self._feed_window(chunk, buffers, start, count, valid)
        self.position += n

    def _feed_nulls(self, valid: Any, start: int) -> None:
        import numpy

        missing = numpy.flatnonzero(valid == 0).astype("<i8", copy=False)
        if missing.size:
            self.null_count += int(missing.size)
            missing += self.position + start
            self.nulls.update(_byte_view(missing))

    def _feed_fixed(self, chunk: Any, buffers: list, start: int, count: int, valid: Any) -> None:
        import numpy

        w = self.width
        data = numpy.frombuffer(buffers[1], dtype=numpy.uint8, count=count * w,
                                offset=(chunk.offset + start) * w)
        if valid is not None and not valid.all():
            data = data.reshape(count, w).copy()
            data[valid == 0] = 0
        self.values.update(_byte_view(data))

    def _feed_bool(self, chunk: Any, buffers: list, start: int, count: int, valid: Any) -> None:
        data = _bits(buffers[1], chunk.offset + start, count)
        if valid is not None:
            data = data & valid
        self.values.update(_byte_view(data))

    def _feed_binary(self, chunk: Any, buffers: list, start: int, count: int, valid: Any) -> None:
        import numpy

        offset_type = numpy.int32 if self.kind == "binary32" else numpy.int64
        size = numpy.dtype(offset_type).itemsize
        offsets = numpy.frombuffer(buffers[1], dtype=offset_type, count=count + 1,
                                   offset=(chunk.offset + start) * size)
        lengths = numpy.diff(offsets)
        null_bytes = False
        if valid is not None:
            null_bytes = bool(lengths[valid == 0].any())
            lengths[valid == 0] = 0
        self.lengths.update(_byte_view(lengths.astype("<i8")))
        first, last = int(offsets[0]), int(offsets[-1])
        if last == first:
            return
        data = memoryview(buffers[2])
        if not null_bytes:
            self.values.update(data[first:last])  # null slots (if any) hold no bytes: one slice
            return
        for i in numpy.flatnonzero(valid):  # null slots holding bytes: only the valid ones are data
            self.values.update(data[int(offsets[i]):int(offsets[i + 1])])

    def _feed_dictionary(self, chunk: Any, buffers: list, start: int, count: int, valid: Any) -> None:
        # Chunks may have different dictionaries: the decoded values are what is equal across chunkings.
        self.inner.feed(chunk.slice(start, count).dictionary_decode())

    def _feed_pylist(self, chunk: Any, buffers: list, start: int, count: int, valid: Any) -> None:
        # Structs, lists, unions, extension types ...: Python values, whose repr is exact for the types
        # Arrow converts to (None, bool, int, float, str, bytes, Decimal, datetimes, dicts, lists, tuples).
        out = []
        for item in chunk.slice(start, count).to_pylist():
            text = repr(item).encode("utf-8", "surrogatepass")
            out += (_PACK_LEN(len(text)), text)
        self.values.update(b"".join(out))


def _bits(buffer: Any, bit_offset: int, count: int) -> Any:
    """``count`` bits of an Arrow bitmap from ``bit_offset`` on, as a uint8 array of 0 and 1."""
    import numpy

    first = bit_offset // 8
    nbytes = (bit_offset + count + 7) // 8 - first
    packed = numpy.frombuffer(buffer, dtype=numpy.uint8, count=nbytes, offset=first)
    shift = bit_offset - first * 8
    return numpy.unpackbits(packed, bitorder="little")[shift:shift + count]
