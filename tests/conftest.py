"""Shared pytest configuration for the dds test suite."""

import os
import tempfile

import pytest


def pytest_configure(config):
    # One on-disk code cache for the whole session, inherited by every fresh process the tests start: each
    # edit-and-rerun case then runs against shapes its earlier processes stored (the cache's real use), and
    # nothing is written to the user's own ~/.cache.
    os.environ.setdefault("DDS_CODE_CACHE", tempfile.mkdtemp(prefix="dds-test-code-cache-"))
    config.addinivalue_line(
        "markers",
        "rerun: end-to-end edit-and-rerun cases (fresh processes, real source edits); "
        "select with -m rerun, skip with -m 'not rerun'",
    )


@pytest.fixture(scope="module")
def s3():
    """A real S3-compatible server (moto) on 127.0.0.1, one per test module that asks for it."""
    pytest.importorskip("s3fs", reason="the S3 tests need s3fs (pip install 'dds[dev]')")
    pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (pip install 'dds[dev]')")
    from s3_server import s3_server

    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def spark():
    """A real local Spark (``local[2]``), one per test module that asks for it; stopped after the module."""
    pytest.importorskip("pyspark", reason="the Spark tests need pyspark (pip install 'dds[dev]')")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("dds-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .config("spark.driver.memory", "1g").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
