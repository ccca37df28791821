"""Shared pytest configuration for the dds test suite."""

import pytest


def pytest_configure(config):
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
