"""Arrays, frames and tables are hashed over their buffers (dds/signature/array_values.py).

Equal values hash equal whatever their memory layout (C/F order, strided views), chunking (Arrow) or
block structure (pandas), and whatever garbage sits in their null slots; a value and its slice, another
dtype, shape, index, column name or null position never collide; digests do not depend on the process;
hashing a 320 MB array allocates no more than a small buffer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from dds.signature import array_values  # noqa: E402
from dds.signature.values import ValueHasher  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FEW = settings(max_examples=40, deadline=None)


def token(value):
    return ValueHasher(lambda o: None).token(value)


# --- numpy ---------------------------------------------------------------------------------------------

NUMERIC = st.sampled_from(["<f8", "<f4", "<i8", "<i4", "<u2", "|i1", "|b1", "<c16", "<M8[ns]", "<m8[s]", "|S3"])


@FEW
@given(hnp.arrays(NUMERIC, hnp.array_shapes(min_dims=1, max_dims=3, max_side=7)))
def test_numpy_equal_whatever_the_memory_layout(a):
    t = token(a)
    assert token(np.asfortranarray(a)) == t
    assert token(a.copy(order="C")) == t
    flipped = np.ascontiguousarray(a[::-1])[::-1]  # negative strides, same values
    assert token(flipped) == t
    wide = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
    wide[::2] = a  # a strided view of a larger buffer
    assert token(wide[::2]) == t


def test_numpy_strided_layouts_larger_than_a_chunk(monkeypatch):
    """Rows longer than the copy buffer, rows shorter than it: both chunked paths, against one pass."""
    monkeypatch.setattr(array_values, "CHUNK_BYTES", 256)
    a = np.arange(3 * 50 * 7, dtype="<f8").reshape(3, 50, 7)
    t = token(np.ascontiguousarray(a))
    assert token(np.asfortranarray(a)) == t
    assert token(a.transpose(2, 1, 0).copy().transpose(2, 1, 0)) == t
    assert token(np.broadcast_to(np.arange(7.0), (40, 7))) == token(np.tile(np.arange(7.0), (40, 1)))


@FEW
@given(hnp.arrays(NUMERIC, hnp.array_shapes(min_dims=1, max_dims=2, min_side=2, max_side=6)), st.data())
def test_numpy_different_values_never_collide(a, data):
    t = token(a)
    assert token(a[:-1]) != t  # a value and its slice
    assert token(a.reshape(-1)) != t or a.ndim == 1  # another shape, the same bytes
    if a.ndim == 1:
        assert token(a.reshape(1, -1)) != t
    raw = np.ascontiguousarray(a).view(np.uint8).reshape(-1)
    if raw.size % 8 == 0:
        other = "<i8" if a.dtype.str != "<i8" else "<f8"
        assert token(raw.view(other)) != token(raw.view(a.dtype.str))  # the same bytes, another dtype
    flat = np.ascontiguousarray(a).reshape(-1).view(np.uint8).copy()
    i = data.draw(st.integers(0, flat.size - 1))
    flat[i] ^= 1 if a.dtype.kind != "b" else 0  # one flipped bit
    if a.dtype.kind != "b":
        assert token(flat.view(a.dtype).reshape(a.shape)) != t


def test_numpy_structured_object_and_masked_arrays():
    dt = np.dtype([("x", "<i4"), ("y", "<f8")], align=True)  # 4 padding bytes after x
    a = np.zeros(3, dtype=dt)
    b = np.frombuffer(bytes(range(48)), dtype=dt).copy()  # padding bytes hold garbage
    b["x"], b["y"] = 0, 0.0
    assert token(a) == token(b)
    renamed = a.astype([("x", "<i4"), ("z", "<f8")])
    assert token(renamed) != token(a)
    objects = np.array(["a", 1, 1.0, True, None, b"a"], dtype=object)
    assert token(objects) == token(objects.copy())
    assert token(objects) != token(np.array(["a", 1, 1.0, 1, None, b"a"], dtype=object))
    holder = np.array([{"k": 1}, [2]], dtype=object)  # not plain values: element by element, still equal
    assert token(holder) == token(np.array([{"k": 1}, [2]], dtype=object))
    assert token(holder) != token(np.array([{"k": 2}, [2]], dtype=object))
    records = np.array([(1, {"k": 1}), (2, None)], dtype=[("n", "<i8"), ("o", object)])
    assert token(records) == token(records.copy())
    assert token(records) != token(np.array([(1, {"k": 2}), (2, None)], dtype=records.dtype))
    assert token(records[0]) != token(records[1])
    long = "x" * 100  # numpy 2 StringDType keeps long strings out of line: never hashed by their pointers
    strings = np.array(["a", long], dtype=np.dtypes.StringDType()) if hasattr(np, "dtypes") and hasattr(
        np.dtypes, "StringDType") else np.array(["a", long], dtype=object)
    same = strings.copy()
    assert token(strings) == token(same)
    same[1] = long[:-1] + "y"
    assert token(strings) != token(same)
    m = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    assert token(m) == token(m.copy())
    assert token(m) != token(np.ma.masked_array([1, 2, 3], mask=[0, 0, 1]))
    assert token(m) != token(np.array([1, 2, 3]))


# --- pandas -------------------------------------------------------------------------------------------

COLUMN_DATA = st.lists(st.one_of(st.none(), st.integers(-5, 5)), min_size=1, max_size=12)


def _frame(values):
    n = len(values)
    ints = [0 if v is None else v for v in values]
    return pd.DataFrame({
        "f": np.array(ints, dtype="f8") / 3,
        "i": np.array(ints, dtype="i8"),
        "s": pd.Series([None if v is None else str(v) for v in values], dtype=object),
        "t": pd.Series([None if v is None else str(v) for v in values], dtype="string"),
        "c": pd.Categorical([str(v) for v in values]),
        "m": pd.array(values, dtype="Int64"),
        "d": pd.date_range("2020-01-01", periods=n, freq="h", tz="UTC"),
    })


@FEW
@given(COLUMN_DATA)
def test_pandas_equal_whatever_the_blocks(values):
    df = _frame(values)
    t = token(df)
    assert token(df.copy()) == t
    piecewise = pd.DataFrame(index=df.index)
    for name in df.columns:  # one block per column, not consolidated
        piecewise[name] = df[name].copy()
    assert token(piecewise) == t


def test_pandas_unconsolidated_numeric_blocks_hash_like_consolidated_ones():
    one = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["a", "b", "c"])
    three = pd.concat([one[["a"]], one[["b"]].copy(), one[["c"]].copy()], axis=1)
    assert len(one._mgr.blocks) == 1 and len(three._mgr.blocks) == 3  # the precondition of this test
    assert token(three) == token(one)


@FEW
@given(COLUMN_DATA)
def test_pandas_different_frames_never_collide(values):
    df = _frame(values)
    t = token(df)
    assert token(df.rename(columns={"f": "g"})) != t
    assert token(df.set_axis(list(range(1, len(df) + 1)))) != t  # another index
    assert token(df.set_axis(pd.Index(list(range(len(df))), dtype="int64"))) != t  # RangeIndex vs Index
    assert token(df.astype({"i": "int32"})) != t
    assert token(df.iloc[:-1]) != t
    assert token(df[["i", "f", "s", "t", "c", "m", "d"]]) != t  # column order
    flipped = df.copy()
    flipped.loc[0, "i"] = flipped.loc[0, "i"] + 1
    assert token(flipped) != t


def test_pandas_labels_are_type_aware():
    assert token(pd.DataFrame({1: [1]})) != token(pd.DataFrame({"1": [1]}))
    assert token(pd.Series([1], name=1)) != token(pd.Series([1], name="1"))
    assert token(pd.Series([1], name="a")) != token(pd.Series([1], name="b"))
    idx = pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    assert token(pd.Series([1, 2], index=idx)) == token(pd.Series([1, 2], index=idx.copy()))
    assert token(pd.Series([1, 2], index=idx)) != token(pd.Series([1, 2], index=idx.set_names(["k", "m"])))
    assert token(pd.RangeIndex(0, 10, 2)) != token(pd.RangeIndex(0, 10, 3))


def test_pandas_categories_object_columns_and_masked_null_slots():
    a = pd.Series(pd.Categorical(["x", "y", "x"], categories=["x", "y"]))
    assert token(a) != token(pd.Series(pd.Categorical(["x", "y", "x"], categories=["y", "x"])))
    assert token(a) != token(pd.Series(pd.Categorical(["x", "y", "x"], ordered=True)))
    mixed = pd.Series([1, 1.0, True, "1", None, pd.NA], dtype=object)
    assert token(mixed) != token(pd.Series([1, 1, True, "1", None, pd.NA], dtype=object))
    assert token(mixed) == token(mixed.copy())
    # The values under the mask of a nullable array are not data: different garbage, the same hash.
    one = pd.arrays.IntegerArray(np.array([1, 7, 3]), np.array([False, True, False]))
    two = pd.arrays.IntegerArray(np.array([1, -9, 3]), np.array([False, True, False]))
    assert token(pd.Series(one)) == token(pd.Series(two))
    moved = pd.arrays.IntegerArray(np.array([1, 7, 3]), np.array([True, False, False]))
    assert token(pd.Series(one)) != token(pd.Series(moved))


# --- Arrow --------------------------------------------------------------------------------------------

ARROW_CASES = {
    "int64": (pa.int64(), st.integers(-(2 ** 63), 2 ** 63 - 1)),
    "float64": (pa.float64(), st.floats(allow_nan=False)),
    "bool": (pa.bool_(), st.booleans()),
    "string": (pa.string(), st.text(max_size=5)),
    "large_binary": (pa.large_binary(), st.binary(max_size=5)),
    "timestamp": (pa.timestamp("us", tz="UTC"), st.integers(0, 2 ** 40)),
    "list": (pa.list_(pa.int32()), st.lists(st.integers(-3, 3), max_size=3)),
    "decimal": (pa.decimal128(10, 2), st.decimals(min_value=-100, max_value=100, places=2)),
}


@st.composite
def arrow_columns(draw):
    name = draw(st.sampled_from(sorted(ARROW_CASES)))
    tp, values = ARROW_CASES[name]
    items = draw(st.lists(st.one_of(st.none(), values), min_size=1, max_size=40))
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=4)))
    return tp, items, cuts


def _chunked(tp, items, cuts):
    bounds = [0, *cuts, len(items)]
    return pa.chunked_array([pa.array(items[a:b], type=tp) for a, b in zip(bounds, bounds[1:])], type=tp)


@settings(max_examples=80, deadline=None)
@given(arrow_columns(), st.integers(0, 9))
def test_arrow_equal_whatever_the_chunks_and_slices(case, pad):
    tp, items, cuts = case
    whole = pa.chunked_array([pa.array(items, type=tp)])
    t = token(whole)
    assert token(_chunked(tp, items, cuts)) == t
    padded = pa.array([items[0]] * pad + items + [items[-1]] * 3, type=tp)
    assert token(pa.chunked_array([padded.slice(pad, len(items))])) == t  # offsets, bit offsets
    table = pa.table({"x": whole})
    assert token(pa.table({"x": _chunked(tp, items, cuts)})) == token(table)
    assert token(table.to_batches()[0]) == token(pa.RecordBatch.from_arrays([pa.array(items, type=tp)], ["x"]))


@settings(max_examples=80, deadline=None)
@given(arrow_columns(), st.data())
def test_arrow_different_values_never_collide(case, data):
    tp, items, cuts = case
    t = token(_chunked(tp, items, cuts))
    if len(items) > 1:
        assert token(_chunked(tp, items[:-1], [])) != t
    i = data.draw(st.integers(0, len(items) - 1))
    _, values = ARROW_CASES[next(n for n, (typ, _) in ARROW_CASES.items() if typ == tp)]
    other = data.draw(st.one_of(st.none(), values).filter(lambda v: v != items[i]))
    changed = items[:i] + [other] + items[i + 1:]
    assert token(_chunked(tp, changed, cuts)) != t
    assert token(pa.table({"x": _chunked(tp, items, cuts)})) != token(pa.table({"y": _chunked(tp, items, cuts)}))


def test_arrow_null_slots_are_not_hashed_by_their_garbage():
    validity = pa.py_buffer(bytes([0b101]))
    def ints(garbage):
        return pa.Array.from_buffers(pa.int64(), 3, [validity, pa.py_buffer(np.array([1, garbage, 3]).tobytes())])
    assert token(ints(0)) == token(ints(12345)) == token(pa.array([1, None, 3]))
    # a null string slot that owns bytes in the data buffer
    offsets = pa.py_buffer(np.array([0, 1, 4, 5], dtype=np.int32).tobytes())
    strings = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(b"axyzc")])
    assert token(strings) == token(pa.array(["a", None, "c"]))
    bools = pa.Array.from_buffers(pa.bool_(), 3, [validity, pa.py_buffer(bytes([0b111]))])
    assert token(bools) == token(pa.array([True, None, True]))
    assert token(pa.array([1, None, 3])) != token(pa.array([None, 1, 3]))
    assert token(pa.array([0, None])) != token(pa.array([0, 0]))


def test_arrow_dictionaries_per_chunk_hash_like_one_dictionary():
    one = pa.chunked_array([pa.array(["a", "b", "a", "c"]).dictionary_encode()])
    two = pa.chunked_array([pa.array(["a", "b"]).dictionary_encode(), pa.array(["a", "c"]).dictionary_encode()])
    assert two.chunk(1).dictionary.to_pylist() == ["a", "c"]  # really another dictionary
    assert token(one) == token(two)
    assert token(one) != token(pa.chunked_array([pa.array(["a", "b", "a", "d"]).dictionary_encode()]))
    assert token(one) != token(pa.chunked_array([pa.array(["a", "b", "a", "c"])]))  # another type


def test_arrow_schema_metadata_and_nullability_count():
    t = pa.table({"x": [1, 2]})
    assert token(t) != token(t.replace_schema_metadata({"k": "v"}))
    assert token(t) != token(t.cast(pa.schema([pa.field("x", pa.int64(), nullable=False)])))
    assert token(t) != token(pa.table({"x": pa.array([1, 2], type=pa.int32())}))


# --- processes and memory -----------------------------------------------------------------------------

SEED_SCRIPT = """
import json, sys
import numpy as np, pandas as pd, pyarrow as pa
from dds.signature.values import ValueHasher

def values():
    a = np.arange(24, dtype="f8").reshape(4, 6)
    df = pd.DataFrame({"s": ["a", None, "c"], "o": [1, "x", 2.5], "c": pd.Categorical(["u", "v", "u"]),
                       "t": pd.Series(["p", "q", None], dtype="string")}, index=pd.Index([3, 1, 2], name="k"))
    t = pa.table({"a": [1, None, 3], "s": ["x", "y", None], "l": [[1], None, [2, 3]],
                  "d": pa.array(["a", "b", "a"]).dictionary_encode()})
    return {"array": np.asfortranarray(a), "frame": df, "table": t, "set": frozenset(["a", "b", "c"])}

print(json.dumps({k: ValueHasher(lambda o: None).token(v) for k, v in values().items()}))
"""


def test_digests_are_the_same_in_processes_with_other_hash_seeds():
    outs = []
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        out = subprocess.run([sys.executable, "-c", SEED_SCRIPT], env=env, capture_output=True, text=True,
                             check=True).stdout
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert outs[0] == outs[1] == outs[2]
    namespace: dict = {}
    exec(SEED_SCRIPT.replace("print(", "_ = ("), namespace)  # and the same as in this process
    assert {k: token(v) for k, v in namespace["values"]().items()} == outs[0]


def _peak_python_allocations(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_hashing_a_320_mb_array_allocates_only_a_small_buffer():
    """numpy reports its allocations to tracemalloc: hashing must not copy the array, in any layout."""
    assert _peak_python_allocations(lambda: np.ones(1 << 20)) >= 8 << 20  # the instrument sees numpy
    a = np.ones(40_000_000, dtype="<f8")  # 320 MB
    size = a.nbytes
    fortran = a.reshape(5000, 8000).T  # F-contiguous: not C-contiguous, so the chunked path
    assert not fortran.flags.c_contiguous
    for value in (a, fortran, a[::2]):
        token(value)  # first use: imports, caches
        peak = _peak_python_allocations(lambda: token(value))
        assert peak < size / 100, f"hashing a {size >> 20} MB array allocated {peak >> 20} MB"


def test_hashing_frames_and_tables_copies_no_column():
    """At most a few copy buffers (CHUNK_BYTES each), however long the columns: none is copied whole."""
    n = 1 << 22  # 32 MiB per column
    bound = 4 * array_values.CHUNK_BYTES
    assert bound <= n * 8 / 8  # an eighth of one column
    df = pd.DataFrame({f"c{i}": np.full(n, float(i)) for i in range(4)})
    masked = pd.DataFrame({"m": pd.array(np.arange(n), dtype="Int64")})
    masked.loc[::3, "m"] = pd.NA
    table = pa.table({f"c{i}": np.full(n, float(i)) for i in range(4)})
    with_nulls = pa.table({"x": pa.array(np.arange(n, dtype="f8"), mask=np.arange(n) % 3 == 0),
                           "b": pa.array(np.arange(n) % 2 == 0, mask=np.arange(n) % 5 == 0)})
    before = pa.total_allocated_bytes()
    held = pa.allocate_buffer(8 << 20)  # the instrument sees Arrow's pool
    assert pa.total_allocated_bytes() - before >= 8 << 20
    del held
    for value in (df, masked, table, with_nulls):
        token(value)
        before = pa.total_allocated_bytes()
        peak = _peak_python_allocations(lambda: token(value))
        assert pa.total_allocated_bytes() - before < 1 << 20  # nothing held by Arrow's pool either
        assert peak < bound, f"hashing a {type(value).__name__} of 32 MB columns allocated {peak >> 20} MB"


# --- edit and re-run: an argument's content, not its layout, decides what re-runs ---------------------

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

DATA = "pipe/data.py"
PIPELINE = """
    import dds
    from pipe._trace import trace
    from pipe.data import ARRAY, FRAME, TABLE


    def on_array(a):
        trace("on_array")
        return [a.shape, a.dtype.str, a.sum(axis=0).tolist(), a.tolist()]


    def on_frame(df):
        trace("on_frame")
        return [list(map(str, df.columns)), df.index.tolist(), df.to_dict("list")]


    def on_table(t):
        trace("on_table")
        return [t.column_names, t.to_pydict()]


    def run():
        return [dds.keep("/array", on_array, ARRAY), dds.keep("/frame", on_frame, FRAME),
                dds.keep("/table", on_table, TABLE)]
"""
DATA_SOURCE = """
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    ARRAY = np.arange(12.0).reshape(3, 4)
    FRAME = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0], "s": ["a", "b", None]})
    TABLE = pa.table({"k": [1, None, 3], "s": ["a", "b", None]})
"""

RERUN_EDITS = [
    # the same values in another layout: nothing re-runs
    ("array-fortran-order", "ARRAY = np.arange(12.0).reshape(3, 4)",
     "ARRAY = np.asfortranarray(np.arange(12.0).reshape(3, 4))", set()),
    ("array-strided-view", "ARRAY = np.arange(12.0).reshape(3, 4)",
     "ARRAY = np.repeat(np.arange(12.0), 2)[::2].reshape(3, 4)", set()),
    ("frame-unconsolidated",
     'FRAME = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [4.0, 5.0, 6.0], "s": ["a", "b", None]})',
     'FRAME = pd.concat([pd.DataFrame({"x": [1.0, 2.0, 3.0]}), pd.DataFrame({"y": [4.0, 5.0, 6.0]}), '
     'pd.DataFrame({"s": ["a", "b", None]})], axis=1)', set()),
    ("table-rechunked", 'TABLE = pa.table({"k": [1, None, 3], "s": ["a", "b", None]})',
     'TABLE = pa.concat_tables([pa.table({"k": [1, None], "s": ["a", "b"]}), '
     'pa.table({"k": [3], "s": pa.array([None], pa.string())})])', set()),
    # other values: exactly the step that reads them re-runs
    ("array-one-element", "ARRAY = np.arange(12.0).reshape(3, 4)",
     "ARRAY = np.arange(12.0).reshape(3, 4); ARRAY[1, 2] = -1.0", {"on_array"}),
    ("array-dtype", "ARRAY = np.arange(12.0).reshape(3, 4)", "ARRAY = np.arange(12).reshape(3, 4)", {"on_array"}),
    ("array-slice", "ARRAY = np.arange(12.0).reshape(3, 4)", "ARRAY = np.arange(12.0).reshape(3, 4)[:2]",
     {"on_array"}),
    ("frame-column-name", '"y": [4.0, 5.0, 6.0], "s"', '"z": [4.0, 5.0, 6.0], "s"', {"on_frame"}),
    ("frame-index", '6.0], "s": ["a", "b", None]})', '6.0], "s": ["a", "b", None]}, index=[1, 2, 3])',
     {"on_frame"}),
    ("table-null-position", '"k": [1, None, 3]', '"k": [None, 1, 3]', {"on_table"}),
]


@pytest.mark.rerun
@pytest.mark.parametrize("old, new, reran", [pytest.param(o, n, r, id=i) for i, o, n, r in RERUN_EDITS])
def test_rerun_follows_content_not_layout(tmp_path, old, new, reran):
    files = {"pipe/main.py": PIPELINE, DATA: DATA_SOURCE}
    check_edit(tmp_path, files, (DATA, old, new), reran=reran)
