"""Large-frame I/O: a DataFrame read back group of columns by group, and a blob flushed and checksummed while
it is written.

The pandas codec reads a big file a few columns at a time (so a load never holds the whole decoded file next
to its conversion) and joins the groups; every frame must come back exactly as it does when read whole. The
local store flushes a blob's files to disk while the codec writes them and, for Parquet, checksums the file
as it grows; the checksum must be the one a read-back gives, and a flush error must fail the write.
"""

from __future__ import annotations

import errno
import os
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fsspec.implementations.local import LocalFileSystem
from pandas.testing import assert_frame_equal
from test_codecs import _frames, where  # noqa: F401 - `where` is the (fs, directory) fixture

from dds.codecs import NotSuitable, codec_named, pandas_parquet
from dds.store import atomic, checksums, create_store

CODEC = codec_named("pandas.parquet")


def _more_frames():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({f"c{i}": rng.random(5) for i in range(150)})
    wide["s"] = ["a", "b", None, "d", "e"]
    with_attrs = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]})
    with_attrs.attrs = {"source": "test", "n": 2}
    return {
        "mixed_named_index": pd.DataFrame(
            {
                "i": [1, 2, 3],
                "f": [0.5, None, 1.5],
                "s": pd.array(["a", None, "c"], dtype="string"),
                "str": ["x", None, "z"],
                "o": pd.Series(["x", None, "z"], dtype=object),
                "c": pd.Categorical(["u", "v", "u"], categories=["v", "u", "w"], ordered=True),
                "t": pd.date_range("2020-01-01", periods=3, tz="America/New_York"),
                "ts": pd.Series(pd.to_datetime(["2020-01-01", "2021-06-30", None])).astype("datetime64[s]"),
                "d": pd.to_timedelta([1, 2, 3], unit="ms"),
                "n": pd.array([1, None, 3], dtype="Int64"),
                "b": pd.array([True, None, False], dtype="boolean"),
                "u8": np.array([1, 2, 255], dtype="uint8"),
                "f32": np.array([0.5, 1.5, 2.5], dtype="float32"),
                "flag": [True, False, True],
            },
            index=pd.Index(["k1", "k1", "k2"], name="key"),  # not unique
        ),
        "multi_index_two_columns": pd.DataFrame(
            {"a": [1, 2], "b": [3.0, 4.0]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
        ),
        "column_multiindex": pd.DataFrame(
            np.arange(6).reshape(2, 3),
            columns=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["x", "y"]),
        ),
        "int_column_names": pd.DataFrame({0: [1, 2], 1: [3.0, 4.0], 2: ["a", "b"]}),
        "named_columns_axis": pd.DataFrame({"a": [1], "b": [2]}).rename_axis("cols", axis=1),
        "odd_names": pd.DataFrame({"a.b": [1], "x y": [2.0], "__index_level_0__": [3], "é": ["z"]}),
        "column_named_like_index": pd.DataFrame({"k": [1, 2], "v": [3, 4]}, index=pd.Index([7, 8], name="k")),
        "datetime_index_freq": pd.DataFrame(
            {"v": [1.0, 2.0, 3.0], "w": [1, 2, 3]},
            index=pd.date_range("2021-03-01", periods=3, freq="D", name="day"),
        ),
        "range_index_step": pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.RangeIndex(10, 14, 2)),
        "no_rows_many_columns": pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str"),
                                              "c": pd.Series([], dtype="float32")}),
        "no_columns_named_index": pd.DataFrame(index=pd.Index([1, 2], name="k")),
        "wide": wide,
        "attrs": with_attrs,
    }


def _all_frames():
    return {**_frames(), **_more_frames()}


@pytest.fixture(params=["whole", "by_column"])
def grouping(request, monkeypatch):
    """Read whole (small frames) or one column at a time (what big frames get): both must give the same."""
    if request.param == "by_column":
        monkeypatch.setattr(pandas_parquet, "_GROUP_MIN", 1)
        monkeypatch.setattr(pandas_parquet, "_GROUP_MAX", 1)
    return request.param


def _roundtrip(frame, where):
    fs, directory = where
    path = f"{directory}/{CODEC.file_name}"
    CODEC.write(frame, fs, path)
    return CODEC.read(fs, path)


def _check_same(out, frame):
    assert type(out) is pd.DataFrame
    assert_frame_equal(out, frame, check_exact=True, check_freq=True, check_flags=True)
    assert list(out.dtypes.astype(str)) == list(frame.dtypes.astype(str))
    assert out.attrs == frame.attrs
    assert out.index.names == frame.index.names and type(out.index) is type(frame.index)
    assert out.columns.names == frame.columns.names
    assert list(out.columns) == list(frame.columns)


@pytest.mark.parametrize("name", sorted(_all_frames()))
def test_frame_roundtrip_whole_and_by_column(name, where, grouping):
    frame = _all_frames()[name]
    _check_same(_roundtrip(frame, where), frame)


@pytest.mark.parametrize("name", sorted(n for n, f in _all_frames().items() if len(f) and f.shape[1]))
def test_loaded_frame_can_be_written_into(name, where, grouping):
    """Every column can be set in place, as in the frame that was stored (no read-only Arrow memory)."""
    frame = _all_frames()[name]
    out = _roundtrip(frame, where)
    for i in range(out.shape[1]):
        out.iloc[0, i] = out.iloc[-1, i]
    expected = frame.copy()
    for i in range(expected.shape[1]):
        expected.iloc[0, i] = expected.iloc[-1, i]
    assert_frame_equal(out, expected, check_exact=True)


def test_frame_without_columns_keeps_its_length_through_a_store(tmp_path):
    frame = pd.DataFrame(index=pd.RangeIndex(3))
    with pytest.raises(NotSuitable):
        CODEC.write(frame, LocalFileSystem(), str(tmp_path / "x.parquet"))
    store = create_store("local", internal_dir=str(tmp_path / "store"))
    meta = store.write("a1" * 16, frame, {"path": "/f"})
    assert meta["codec"] == "pickle"
    assert_frame_equal(store.read("a1" * 16), frame)


class _Stored:
    """What ``_column_groups`` looks at: a schema (with pandas metadata) and a row count."""

    def __init__(self, frame, rows):
        self.schema = pa.Schema.from_pandas(frame)
        self.num_rows = rows


def test_column_groups_bound_the_decoded_bytes(monkeypatch):
    frame = pd.DataFrame({"a": [1.0], "b": [1.0], "c": [1], "d": np.array([1], dtype="int8"), "s": ["x"]},
                         index=pd.Index([1], name="key"))
    stored = _Stored(frame, 1_000_000)  # 8 MB per 8-byte column, 1 MB for int8, strings guessed at 32 MB
    monkeypatch.setattr(pandas_parquet, "_GROUP_MIN", 20_000_000)
    monkeypatch.setattr(pandas_parquet, "_GROUP_MAX", 20_000_000)
    # the index goes first; a group grows until the next column would pass the budget; a column larger
    # than the budget is a group of its own
    assert pandas_parquet._column_groups(stored) == [["key", "a"], ["b", "c", "d"], ["s"]]
    monkeypatch.setattr(pandas_parquet, "_GROUP_MIN", 1)
    monkeypatch.setattr(pandas_parquet, "_GROUP_MAX", 1 << 40)  # then a quarter of the frame: 16.25 MB
    assert pandas_parquet._column_groups(stored) == [["key", "a"], ["b", "c"], ["d"], ["s"]]
    monkeypatch.setattr(pandas_parquet, "_GROUP_MIN", 1 << 30)
    assert pandas_parquet._column_groups(stored) == [None]  # fits in the smallest group: read whole


def test_big_frame_is_read_in_groups_and_comes_back_exactly(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    rows = 300_000
    frame = pd.DataFrame({
        "f": rng.random(rows), "i": rng.integers(0, 10**6, rows), "g": np.arange(rows, dtype=np.int64),
        "s": pd.array(rng.choice(["a", "bb", None], rows), dtype="string"),
        "c": pd.Categorical(rng.choice(["x", "y"], rows)),
    }, index=pd.Index(rng.integers(0, 1000, rows), name="k"))
    monkeypatch.setattr(pandas_parquet, "_GROUP_MIN", 4 << 20)
    monkeypatch.setattr(pandas_parquet, "_GROUP_MAX", 4 << 20)
    stored_reads = []
    original = pandas_parquet.StoredParquet.read
    monkeypatch.setattr(pandas_parquet.StoredParquet, "read",
                        lambda self, columns=None: stored_reads.append(columns) or original(self, columns))
    out = _roundtrip(frame, (LocalFileSystem(), str(tmp_path)))
    assert stored_reads == [["k", "f"], ["i"], ["g"], ["s"], ["c"]]
    _check_same(out, frame)


# --------------------------------------------------------------------------------------- write path
def test_growing_checksum_equals_a_read_back(tmp_path):
    path = tmp_path / "f"
    data = os.urandom(3 * (1 << 20) + 12345)
    growing = checksums.Growing()
    with open(path, "wb") as out, open(path, "rb", buffering=0) as f:
        for start in range(0, len(data), 700_001):
            out.write(data[start : start + 700_001])
            out.flush()
            growing.feed(f, os.path.getsize(path))
    with open(path, "rb") as f:
        assert growing.entry() == checksums.checksum_of(f)


@pytest.fixture
def fast_flusher(monkeypatch):
    """Background rounds every millisecond, so even a small write is flushed and hashed in pieces."""
    monkeypatch.setattr(atomic._flusher, "interval", 0.001)


def _wait_for(condition, timeout=10.0):
    """Poll until ``condition()`` holds (the background thread runs when the machine lets it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the background flush never ran"
        time.sleep(0.001)


@pytest.fixture
def slow_parquet_write(monkeypatch):
    """The pandas codec's write returns only after a background round has seen its file."""
    rounds = []
    original_flush = atomic.Follower.flush
    monkeypatch.setattr(atomic.Follower, "flush", lambda self: rounds.append(1) or original_flush(self))
    original_write = pandas_parquet.write_table

    def write_table(table, fs, path):
        original_write(table, fs, path)
        seen = len(rounds)
        _wait_for(lambda: len(rounds) > seen + 1)

    monkeypatch.setattr(pandas_parquet, "write_table", write_table)
    return rounds


def test_parquet_blob_checksum_taken_while_writing_is_the_read_back_one(
    tmp_path, fast_flusher, slow_parquet_write, monkeypatch
):
    store = create_store("local", internal_dir=str(tmp_path / "store"))
    rounds = slow_parquet_write
    read_back = []
    monkeypatch.setattr(type(store), "_checksum", lambda self, p, a=checksums.DEFAULT: read_back.append(p))
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({f"c{i}": rng.random(400_000) for i in range(6)})
    meta = store.write("a1" * 16, frame, {"path": "/big"})
    assert rounds and not read_back  # flushed in the background, not read back afterwards
    monkeypatch.undo()
    with open(os.path.join(store.blob_dir("a1" * 16), "data.parquet"), "rb") as f:
        assert meta["files"]["data.parquet"] == checksums.checksum_of(f)
    store.verify("a1" * 16, meta)
    assert_frame_equal(store.read("a1" * 16), frame, check_exact=True)


def test_other_codecs_are_flushed_but_checksummed_by_reading_back(tmp_path, fast_flusher):
    store = create_store("local", internal_dir=str(tmp_path / "store"))
    value = {"rows": list(range(200_000))}
    meta = store.write("b2" * 16, value, {"path": "/p"})
    assert meta["codec"] == "pickle"
    store.verify("b2" * 16, meta)
    assert store.read("b2" * 16) == value


def test_follower_flush_error_fails_the_write(tmp_path, fast_flusher, monkeypatch):
    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "_fdatasync", broken)
    directory = tmp_path / "staging"
    directory.mkdir()
    with pytest.raises(OSError) as info, atomic.Follower(str(directory)) as follower:
        (directory / "data").write_bytes(b"x" * 1000)
        _wait_for(lambda: follower._error is not None)
    assert info.value.errno == errno.EIO


def test_store_write_fails_and_commits_nothing_when_a_flush_fails(
    tmp_path, fast_flusher, slow_parquet_write, monkeypatch
):
    store = create_store("local", internal_dir=str(tmp_path / "store"))

    def broken(fd):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "_fdatasync", broken)
    with pytest.raises(OSError):
        store.write("c3" * 16, pd.DataFrame({"a": [1, 2]}), {"path": "/p"})
    assert store.read_meta("c3" * 16) is None
    assert not os.path.exists(store.blob_dir("c3" * 16))


def test_follower_leaves_a_rewritten_file_to_the_read_back(tmp_path, fast_flusher):
    """A file replaced under the same name is not the one hashed: no checksum is offered for it."""
    directory = tmp_path / "staging"
    directory.mkdir()
    with atomic.Follower(str(directory), checksums.DEFAULT) as follower:
        (directory / "data").write_bytes(b"first" * 1000)
        _wait_for(lambda: follower._files)  # the background thread has opened (and hashed) it
        (directory / "other").write_bytes(b"second" * 1000)
        os.replace(directory / "other", directory / "data")
    assert "data" not in follower.checksums
