"""Codecs: exact round-trips, codec choice by type, the pickle fallback and the registry."""

from __future__ import annotations

import datetime
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from pandas.testing import assert_frame_equal

from dds.codecs import Codec, PICKLE, codec_for, codec_named, known_codecs, register_codec, unregister_codec
from dds.errors import ArgumentError, CodecError


@pytest.fixture(params=["local", "memory"])
def where(request, tmp_path):
    """(fs, directory) to write codec output into."""
    if request.param == "local":
        yield LocalFileSystem(), str(tmp_path)
        return
    fs = MemoryFileSystem()
    root = f"/codec-test-{uuid.uuid4().hex}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


def roundtrip(value, where, expected_codec=None):
    fs, directory = where
    codec = codec_for(value)
    if expected_codec is not None:
        assert codec.name == expected_codec
    path = f"{directory}/{codec.file_name}"
    codec.write(value, fs, path)
    return codec_named(codec.name).read(fs, path)


# ------------------------------------------------------------------------------------------------ pandas
def _frames():
    freq = pd.DataFrame({"v": [1.0, 2.0, 3.0]}, index=pd.date_range("2021-03-01", periods=3, freq="D", name="day"))
    with_attrs = pd.DataFrame({"a": [1]})
    with_attrs.attrs = {"source": "test"}
    return {
        "basic": pd.DataFrame({"i": [1, 2, 3], "f": [1.5, None, 3.0], "s": ["x", None, "z"], "b": [True, False, True]}),
        "categorical": pd.DataFrame(
            {"c": pd.Categorical(["lo", "hi", "lo"], categories=["hi", "lo", "unused"], ordered=True)}
        ),
        "datetime_tz": pd.DataFrame({"t": pd.date_range("2020-01-01", periods=3, freq="h", tz="Europe/Paris")}),
        "datetime_s": pd.DataFrame({"t": pd.Series(pd.to_datetime(["2020-01-01", "2021-06-30"])).astype("datetime64[s]")}),
        "nullable": pd.DataFrame(
            {"i": pd.array([1, None, 3], dtype="Int64"), "b": pd.array([True, None, False], dtype="boolean")}
        ),
        "string": pd.DataFrame({"s": pd.array(["a", None, "ccc"], dtype="string")}),
        "object_str": pd.DataFrame({"o": pd.Series(["a", None, "c"], dtype=object)}),
        "named_index": pd.DataFrame({"v": [1, 2]}, index=pd.Index(["x", "y"], name="key")),
        "range_index": pd.DataFrame({"v": [1, 2]}, index=pd.RangeIndex(10, 14, 2)),
        "multi_index": pd.DataFrame(
            {"v": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
        ),
        "int_columns": pd.DataFrame({0: [1, 2], 1: [3.0, 4.0]}),
        "freq_index": freq,
        "attrs": with_attrs,
        "timedelta_small_ints": pd.DataFrame(
            {"d": pd.to_timedelta([1, 2], unit="s"), "u8": np.array([1, 255], dtype="uint8"),
             "f32": np.array([0.5, 1.5], dtype="float32")}
        ),
        "empty": pd.DataFrame({"a": pd.Series([], dtype="int64")}),
    }


@pytest.mark.parametrize("name", sorted(_frames()))
def test_pandas_roundtrip_keeps_dtypes_and_index(name, where):
    frame = _frames()[name]
    out = roundtrip(frame, where, "pandas.parquet")
    assert type(out) is pd.DataFrame
    assert_frame_equal(out, frame, check_exact=True, check_freq=True, check_flags=True)
    assert list(out.dtypes.astype(str)) == list(frame.dtypes.astype(str))
    assert out.attrs == frame.attrs


def test_pandas_object_column_keeps_none(where):
    out = roundtrip(pd.DataFrame({"o": pd.Series(["a", None], dtype=object)}), where)
    assert out["o"].dtype == object
    assert out["o"].tolist() == ["a", None]


def test_pandas_subclass_goes_to_pickle(where):
    class Frame(pd.DataFrame):
        pass

    assert codec_for(Frame({"a": [1]})) is PICKLE


# -------------------------------------------------------------------------------------------------- arrow
def _tables():
    schema = pa.schema([pa.field("a", pa.int64(), nullable=False, metadata={"unit": "m"})], metadata={"k": "v"})
    return {
        "basic": pa.table({"i": [1, 2, None], "s": ["x", None, "z"]}),
        "metadata": pa.Table.from_arrays([pa.array([1, 2])], schema=schema),
        "timestamp_s_tz": pa.table(
            {"t": pa.array([1, 2], pa.timestamp("s")), "tz": pa.array([1, 2], pa.timestamp("ns", tz="UTC"))}
        ),
        "dates_times": pa.table(
            {"d32": pa.array([1], pa.date32()), "d64": pa.array([86_400_000], pa.date64()),
             "t32": pa.array([5], pa.time32("s"))}
        ),
        "dictionary": pa.table({"d": pa.array(["a", "b", "a"]).dictionary_encode()}),
        "nested": pa.table(
            {"l": pa.array([[1, 2], []]), "st": pa.array([{"x": 1}, {"x": 2}]),
             "m": pa.array([[("k", 1)], []], pa.map_(pa.string(), pa.int64()))}
        ),
        "large_and_unsigned": pa.table(
            {"ls": pa.array(["a"], pa.large_string()), "u64": pa.array([2**63], pa.uint64())}
        ),
        "empty": pa.table({"a": pa.array([], pa.float32())}),
    }


@pytest.mark.parametrize("name", sorted(_tables()))
def test_arrow_roundtrip_identical_schema(name, where):
    table = _tables()[name]
    out = roundtrip(table, where, "arrow.parquet")
    assert isinstance(out, pa.Table)
    assert out.schema.equals(table.schema, check_metadata=True), (out.schema, table.schema)
    assert out.equals(table, check_metadata=True)


# -------------------------------------------------------------------------------------------------- numpy
_ARRAYS = {
    "int64": np.arange(10, dtype="int64"),
    "float32_2d": np.linspace(0, 1, 12, dtype="float32").reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(6, dtype="int16").reshape(2, 3)),
    "bool": np.array([True, False]),
    "complex": np.array([1 + 2j, 3 - 4j]),
    "datetime": np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"),
    "unicode": np.array(["a", "bcd"]),
    "structured": np.array([(1, 2.0)], dtype=[("x", "i4"), ("y", "f8")]),
    "zero_d": np.array(3.5),
    "empty": np.empty((0, 3)),
}


@pytest.mark.parametrize("name", sorted(_ARRAYS))
def test_numpy_roundtrip(name, where):
    array = _ARRAYS[name]
    out = roundtrip(array, where, "numpy.npy")
    assert type(out) is np.ndarray
    assert out.dtype == array.dtype
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)
    assert out.flags.f_contiguous == array.flags.f_contiguous


def test_numpy_object_array_goes_to_pickle(where):
    array = np.array([{"a": 1}, None], dtype=object)
    out = roundtrip(array, where, "pickle")
    assert out.dtype == object and out.tolist() == array.tolist()
    assert codec_for(np.zeros(2, dtype=[("o", object)])) is PICKLE
    assert codec_for(np.ma.masked_array([1, 2], mask=[0, 1])) is PICKLE  # a subclass keeps its type


# ---------------------------------------------------------------------------------------------- text/bytes
@pytest.mark.parametrize("text", ["", "plain", "a\r\nb\rc\n", "héllo ☃ 𝄞 \x00", "lone \ud800 surrogate"])
def test_text_roundtrip_exact(text, where):
    out = roundtrip(text, where, "text")
    assert type(out) is str and out == text


def test_text_is_written_as_utf8_without_newline_translation(where):
    fs, directory = where
    codec = codec_for("é\r\n")
    codec.write("é\r\n", fs, f"{directory}/{codec.file_name}")
    assert fs.cat_file(f"{directory}/{codec.file_name}") == "é\r\n".encode("utf-8")


@pytest.mark.parametrize("data", [b"", bytes(range(256)), b"\r\n" * 3])
def test_bytes_roundtrip_exact(data, where):
    out = roundtrip(data, where, "bytes")
    assert type(out) is bytes and out == data


class MyStr(str):
    pass


class MyBytes(bytes):
    pass


@pytest.mark.parametrize(
    "value", [MyStr("x"), MyBytes(b"x"), bytearray(b"x")], ids=["str-subclass", "bytes-subclass", "bytearray"]
)
def test_subclasses_and_bytearray_keep_their_type(value, where):
    out = roundtrip(value, where, "pickle")
    assert type(out) is type(value) and out == value


# -------------------------------------------------------------------------------------------------- pickle
def test_pickle_roundtrip_plain_values(where):
    value = {"a": [1, 2.5, None], "b": (True, frozenset({1})), "when": datetime.date(2020, 1, 2)}
    assert roundtrip(value, where, "pickle") == value


def test_lambda_and_local_class_use_cloudpickle(where):
    class Local:
        def __init__(self, x):
            self.x = x

    fn = lambda x: x * 3  # noqa: E731
    out_fn = roundtrip(fn, where, "pickle")
    assert out_fn(2) == 6
    out_obj = roundtrip(Local(5), where, "pickle")
    assert out_obj.x == 5 and type(out_obj).__name__ == "Local"


def test_unpicklable_value_raises_codec_error_naming_type(where):
    fs, directory = where
    with pytest.raises(CodecError) as info:
        PICKLE.write(threading.Lock(), fs, f"{directory}/data.pkl")
    message = str(info.value)
    assert "_thread.lock" in message
    assert "register_codec" in message


# ----------------------------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    "value, name",
    [
        (pd.DataFrame({"a": [1]}), "pandas.parquet"),
        (pa.table({"a": [1]}), "arrow.parquet"),
        (np.arange(3), "numpy.npy"),
        (np.array([1, "a"], dtype=object), "pickle"),
        ("s", "text"),
        (MyStr("s"), "pickle"),
        (b"b", "bytes"),
        (MyBytes(b"b"), "pickle"),
        (bytearray(b"b"), "pickle"),
        (pd.Series([1]), "pickle"),
        (1, "pickle"),
        (None, "pickle"),
    ],
    ids=lambda v: type(v).__name__ if not isinstance(v, str) or v in ("s",) else v,
)
def test_codec_choice_by_type(value, name):
    assert codec_for(value).name == name


class Upper(Codec):
    name = "test.upper"
    file_name = "data.upper"

    def handles(self, value):
        return type(value) is str

    def write(self, value, fs, path):
        with fs.open(path, "wb") as f:
            f.write(value.upper().encode())

    def read(self, fs, path):
        return fs.cat_file(path).decode()


@pytest.fixture
def upper():
    codec = Upper()
    yield codec
    unregister_codec(codec.name)


def test_user_codec_wins_over_builtin(upper, where):
    register_codec(upper)
    assert codec_for("abc") is upper
    assert known_codecs()[0] == "test.upper" and known_codecs()[-1] == "pickle"
    assert roundtrip("abc", where) == "ABC"
    assert codec_named("test.upper") is upper
    unregister_codec("test.upper")
    assert codec_for("abc").name == "text"


def test_user_codec_registered_last_comes_before_pickle_only(upper):
    class Everything(Upper):
        def handles(self, value):
            return True

    register_codec(Everything(), first=False)
    assert codec_for("abc").name == "text"
    assert codec_for(1.5).name == "test.upper"
    assert known_codecs()[-2:] == ["test.upper", "pickle"]


def test_registering_same_name_replaces(upper):
    register_codec(upper)
    again = Upper()
    register_codec(again)
    assert known_codecs().count("test.upper") == 1
    assert codec_named("test.upper") is again


@pytest.mark.parametrize(
    "attrs",
    [{"name": "pickle"}, {"name": ""}, {"file_name": "../x"}, {"file_name": "a/b"}, {"file_name": ""}],
)
def test_register_codec_rejects_bad_codecs(attrs):
    codec = type("Bad", (Upper,), attrs)()
    with pytest.raises(ArgumentError):
        register_codec(codec)
    assert codec_for("x").name == "text"


def test_codec_named_unknown_lists_known():
    with pytest.raises(CodecError) as info:
        codec_named("no.such.codec")
    message = str(info.value)
    assert "no.such.codec" in message
    for name in ("pandas.parquet", "arrow.parquet", "numpy.npy", "text", "bytes", "pickle"):
        assert name in message


def test_import_dds_does_not_import_heavy_libraries():
    code = (
        "import sys, dds, dds.codecs, dds.store\n"
        "from dds.codecs import codec_for\n"
        "assert codec_for('x').name == 'text' and codec_for(1).name == 'pickle'\n"
        "print(sorted(m for m in ('pandas', 'numpy', 'pyarrow') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------- properties
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_MEMORY = MemoryFileSystem()


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=())))
def test_any_str_roundtrips_exactly(text):
    root = f"/prop-{uuid.uuid4().hex}"
    try:
        assert roundtrip(text, (_MEMORY, root), "text") == text
    finally:
        if _MEMORY.exists(root):
            _MEMORY.rm(root, recursive=True)


@settings(max_examples=100, deadline=None)
@given(st.binary())
def test_any_bytes_roundtrip_exactly(data):
    root = f"/prop-{uuid.uuid4().hex}"
    try:
        assert roundtrip(data, (_MEMORY, root), "bytes") == data
    finally:
        if _MEMORY.exists(root):
            _MEMORY.rm(root, recursive=True)
