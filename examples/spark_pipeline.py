"""A three-step Spark pipeline kept by dds: ingest -> aggregate -> report.

Locally: ``python examples/spark_pipeline.py`` (local[2] Spark, store in ./.dds). Run it twice: the
second run loads every step. On Databricks: put this file in a repo, ``dds.set_store("dbfs",
internal_dir="/dbfs/dds")`` before ``main()``, and use the
cluster's ``spark`` session (see README, "Spark and Databricks").
"""

import logging
import os
import tempfile

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import dds

MIN_AMOUNT = 10


def sample_input(directory: str) -> str:
    """Write a small CSV of orders (stands for the raw data a real job reads from its lake)."""
    path = os.path.join(directory, "orders.csv")
    os.makedirs(directory, exist_ok=True)
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write("customer,amount\n")
            for i in range(1000):
                f.write(f"c{i % 7},{(i * 37) % 101}\n")
    return path


def ingest(orders: DataFrame) -> DataFrame:
    return orders.filter(F.col("amount") >= MIN_AMOUNT)


def aggregate(orders: DataFrame) -> DataFrame:
    return orders.groupBy("customer").agg(F.sum("amount").alias("total"), F.count("*").alias("orders"))


def report(totals: DataFrame) -> str:
    lines = [f"{r.customer}: {r.total} over {r.orders} orders" for r in totals.orderBy("customer").collect()]
    return "\n".join(lines) + "\n"


def main(spark: SparkSession, input_dir: str) -> str:
    orders = spark.read.csv(sample_input(input_dir), header=True, inferSchema=True)
    clean = dds.keep("/spark_example/ingest", ingest, orders)
    totals = dds.keep("/spark_example/totals", aggregate, clean)
    return dds.keep("/spark_example/report", report, totals)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    session = (SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    print(main(session, os.path.join(tempfile.gettempdir(), "dds-spark-example")), end="")
