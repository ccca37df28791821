"""A Spark DataFrame read from a dds.File's path is hashed by the content of that file set (local[2]).

Without a File, Spark input files count by path, size and mtime; read through a File they count by
content, like the File itself: a touch re-runs nothing, and a rewrite that keeps the size and puts the old
mtime back (which size + mtime cannot see) re-runs the step.
"""

import os
import shutil
import time

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java", allow_module_level=True)

import dds  # noqa: E402
from _tracking import CALLS, record  # noqa: E402
from dds.inputs import stat_cache  # noqa: E402
from dds.signature.spark_values import spark_frame_identity  # noqa: E402

dds.reject_module("_tracking")


@pytest.fixture
def store(tmp_path, monkeypatch):
    CALLS.clear()
    monkeypatch.setenv("DDS_FILE_CACHE", str(tmp_path / "file-cache"))
    monkeypatch.setattr(stat_cache, "_dir", False)
    stat_cache.forget()
    return dds.set_store("local", internal_dir=str(tmp_path / "store"))


def totals(df):
    record("totals")
    return df.groupBy("k").sum("v").withColumnRenamed("sum(v)", "total")


def rows(df):
    return sorted(tuple(r) for r in df.collect())


def test_frame_read_from_a_file_directory_is_hashed_by_content(spark, store, tmp_path):
    folder = tmp_path / "in dir"  # a space: Spark's input file URIs are percent-encoded
    folder.mkdir()
    (folder / "a.csv").write_text("k,v\na,1\n")
    (folder / "b.csv").write_text("k,v\nb,2\n")
    data = dds.File(folder)

    def keep():
        return dds.keep("/totals", totals, spark.read.csv(str(data), header=True, inferSchema=True))

    assert rows(keep()) == [("a", 1), ("b", 2)]
    assert rows(keep()) == [("a", 1), ("b", 2)] and CALLS == ["totals"]

    later = time.time_ns() + 10**9
    os.utime(folder / "a.csv", ns=(later, later))  # touch: same bytes
    keep()
    assert CALLS == ["totals"]

    old = os.stat(folder / "b.csv")
    (folder / "b.csv").write_text("k,v\nb,7\n")  # same size
    os.utime(folder / "b.csv", ns=(old.st_atime_ns, old.st_mtime_ns))  # old mtime put back
    assert rows(keep()) == [("a", 1), ("b", 7)]
    assert CALLS == ["totals", "totals"]

    (folder / "c.csv").write_text("k,v\nc,3\n")
    assert rows(keep()) == [("a", 1), ("b", 7), ("c", 3)] and len(CALLS) == 3


def test_frames_not_read_through_a_file_keep_the_size_and_mtime_identity(spark, store, tmp_path):
    src = tmp_path / "plain.csv"
    src.write_text("k,v\na,1\n")
    df = spark.read.csv(str(src), header=True)
    (files,) = spark_frame_identity(df)[1]
    st = os.stat(src)
    assert files[0].startswith("file:") and files[1] == st.st_size
    assert files != ("dds.File",) and files[0] != "dds.File"
    dds.File(src)  # from now on a File names it: content identity
    claimed = spark_frame_identity(spark.read.csv(str(src), header=True))[1][0]
    assert claimed[0] == "dds.File" and claimed[2] == st.st_size and len(claimed[3]) == 32
