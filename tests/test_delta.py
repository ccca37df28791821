"""Delta output (deltalake): an option, readable by delta-rs, round-trips values; off by default."""

import pytest

import dds

deltalake = pytest.importorskip("deltalake")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")


@pytest.fixture
def delta_store(tmp_path):
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"))
    dds.set_option("tabular_format", "delta")
    yield store
    dds.set_option("tabular_format", "parquet")


def frame():
    return pd.DataFrame({"k": ["a", "b"], "v": [1.5, 2.5]})


def table():
    return pa.table({"k": ["a", "b"], "n": pa.array([1, 2], pa.int32())})


def test_pandas_and_arrow_values_are_stored_as_delta_tables(delta_store):
    got = dds.keep("/f", frame)
    pd.testing.assert_frame_equal(got, frame())
    pd.testing.assert_frame_equal(dds.load("/f"), frame())
    dds.keep("/t", table)
    assert dds.load("/t").equals(table())
    located = delta_store.data_path("/f")
    assert deltalake.DeltaTable(located).to_pandas().equals(frame())  # any Delta reader can read it
    assert delta_store.read_meta(delta_store.get_ref("/f"))["codec"] == "pandas.delta"


def test_parquet_stays_the_default(tmp_path):
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"))
    dds.keep("/f", frame)
    assert store.read_meta(store.get_ref("/f"))["codec"] == "pandas.parquet"
