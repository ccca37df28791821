"""Spark DataFrames are written by Spark itself, as Parquet, straight to the store's location.

Executors write their partitions in parallel to the shared file system (local disk, DBFS, S3): nothing
is collected to the driver. Reading back is lazy (``spark.read.parquet``), and ``keep`` always returns
that lazily read DataFrame, even right after computing it, so a downstream step sees the same value
(and the same hash) whether the upstream step ran or was loaded.
"""

from __future__ import annotations

from typing import Any

from ..errors import CodecError
from ..filesystems import spark_uri
from .base import Codec, loaded_class


def _session() -> Any:
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    return session if session is not None else SparkSession.builder.getOrCreate()


class SparkParquetCodec(Codec):
    name = "spark.parquet"
    file_name = "data.spark.parquet"
    returns_stored_value = True  # keep hands out the lazily read DataFrame, see the module docstring
    read_by_cluster = True  # the executors read the files: never from a driver's local cache

    def handles(self, value: Any) -> bool:
        classes = [loaded_class("pyspark.sql.dataframe", "DataFrame"),
                   loaded_class("pyspark.sql.classic.dataframe", "DataFrame"),
                   loaded_class("pyspark.sql.connect.dataframe", "DataFrame")]
        return any(c is not None and isinstance(value, c) for c in classes)

    def write(self, value: Any, fs: Any, path: str) -> None:
        uri = _uri(fs, path)
        value.write.mode("errorifexists").parquet(uri)

    def read(self, fs: Any, path: str) -> Any:
        return _session().read.parquet(_uri(fs, path))


def _uri(fs: Any, path: str) -> str:
    uri = spark_uri(fs, path)
    if uri is None:
        raise CodecError(
            f"Spark cannot reach {path} on a {type(fs).__name__}: Spark DataFrames need a store on a file system "
            "Spark can read (the local store, dbfs, or an fsspec URL such as s3://...)."
        )
    return uri
