"""Spark DataFrames with a real local Spark (local[2], UI off): written by Spark, read back lazily,
hashed by plan and input files. Skipped when pyspark or Java is missing."""

import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java", allow_module_level=True)

import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import dds  # noqa: E402
from _tracking import CALLS, record  # noqa: E402
from pipeline_project import Project  # noqa: E402

dds.reject_module("_tracking")


@pytest.fixture
def store(tmp_path):
    CALLS.clear()
    return dds.set_store("local", internal_dir=str(tmp_path / "store"))


def write_csv(path, rows):
    pd.DataFrame(rows, columns=["k", "v"]).to_csv(path, index=False)


def totals(df):
    record("totals")
    return df.groupBy("k").sum("v").withColumnRenamed("sum(v)", "total")


def rows(df):
    return sorted(tuple(r) for r in df.collect())


def test_spark_step_is_written_by_spark_and_loaded_on_the_second_call(spark, store, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [("a", 1), ("b", 2), ("a", 3)])
    raw = spark.read.csv(str(src), header=True, inferSchema=True)
    first = dds.keep("/totals", totals, raw)
    second = dds.keep("/totals", totals, spark.read.csv(str(src), header=True, inferSchema=True))
    assert CALLS == ["totals"]
    assert rows(first) == rows(second) == [("a", 4), ("b", 2)]
    blob = os.path.realpath(store.data_path("/totals"))
    assert os.path.isdir(blob) and any(name.startswith("part-") for name in os.listdir(blob))
    assert "spark.read.parquet" not in repr(first)  # a DataFrame, not a placeholder
    table = pq.read_table(blob)  # plain pyarrow reads what Spark wrote
    assert sorted(zip(table.column("k").to_pylist(), table.column("total").to_pylist())) == [("a", 4), ("b", 2)]


def test_a_changed_input_file_reruns_the_step(spark, store, tmp_path):
    src = tmp_path / "in.csv"
    write_csv(src, [("a", 1)])
    dds.keep("/totals", totals, spark.read.csv(str(src), header=True, inferSchema=True))
    write_csv(src, [("a", 1), ("z", 9)])
    os.utime(src, (os.stat(src).st_atime, os.stat(src).st_mtime + 5))
    again = dds.keep("/totals", totals, spark.read.csv(str(src), header=True, inferSchema=True))
    assert CALLS == ["totals", "totals"]
    assert rows(again) == [("a", 1), ("z", 9)]


def test_downstream_of_a_kept_frame_is_not_rerun(spark, store):
    def base():
        record("base")
        return spark.createDataFrame([("a", 1), ("b", 5)], ["k", "v"])

    for _ in range(2):
        df = dds.keep("/base", base)
        out = dds.keep("/totals", totals, df)
    assert CALLS == ["base", "totals"]  # the kept frame hashes the same whether computed or loaded
    assert rows(out) == [("a", 1), ("b", 5)]


def test_local_rows_are_part_of_the_hash(spark, store):
    one = dds.keep("/t", totals, spark.createDataFrame(pd.DataFrame({"k": ["a"], "v": [1]})))
    two = dds.keep("/t", totals, spark.createDataFrame(pd.DataFrame({"k": ["a"], "v": [2]})))
    assert CALLS == ["totals", "totals"]
    assert rows(one) == [("a", 1)] and rows(two) == [("a", 2)]


def test_frames_from_driver_rows_are_hashed_by_their_rows(spark, store):
    one = dds.keep("/t", totals, spark.sparkContext.parallelize([("a", 1)]).toDF(["k", "v"]))
    same = dds.keep("/t", totals, spark.createDataFrame([("a", 1)], ["k", "v"]))
    assert CALLS == ["totals"] and rows(one) == rows(same) == [("a", 1)]


def test_rdd_based_frames_reading_external_data_cannot_be_hashed_and_say_why(spark, store, tmp_path):
    text = tmp_path / "lines.txt"
    text.write_text("a\nb\n")
    df = spark.sparkContext.textFile(str(text)).map(lambda line: (line, 1)).toDF(["k", "v"])
    with pytest.raises(dds.UnhashableValueError, match="RDD"):
        dds.keep("/t", totals, df)
    assert CALLS == []


PIPELINE = {
    "proj/spark_steps.py": '''
        import dds
        from pyspark.sql import SparkSession
        from proj._trace import trace

        spark = (SparkSession.builder.master("local[1]").config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "1").getOrCreate())


        def numbers():
            trace("numbers")
            return spark.range(10)


        def evens(df):
            trace("evens")
            return df.filter(df.id % 2 == 0)


        def run():
            return dds.keep("/evens", evens, dds.keep("/numbers", numbers)).count()
    ''',
}


def test_an_edit_reruns_the_spark_step_in_a_fresh_process(tmp_path):
    project = Project(tmp_path, PIPELINE)
    script = "from proj.spark_steps import run\nprint('COUNT', run())"
    assert "COUNT 5" in project.python(script).stdout
    assert sorted(project.ran()) == ["evens", "numbers"]
    project.edit("proj/spark_steps.py", "df.id % 2 == 0", "df.id % 3 == 0")
    assert "COUNT 4" in project.python(script).stdout
    assert project.ran() == ["evens"]


def test_the_spark_example_loads_every_step_on_its_second_run(tmp_path):
    example = os.path.join(os.path.dirname(__file__), os.pardir, "examples", "spark_pipeline.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDS_")}
    env["TMPDIR"] = str(tmp_path)
    outputs = [subprocess.run([sys.executable, example], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=300) for _ in range(2)]
    for out in outputs:
        assert out.returncode == 0, out.stderr[-3000:]
    first, second = (o.stderr for o in outputs)
    steps = ["/spark_example/ingest", "/spark_example/totals", "/spark_example/report"]
    assert all(f"computed {s}" in first for s in steps)
    assert all(f"loaded   {s}" in second for s in steps) and "computed" not in second
    assert outputs[0].stdout == outputs[1].stdout and outputs[0].stdout.startswith("c0: ")
