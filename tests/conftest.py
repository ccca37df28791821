"""Shared pytest configuration for the dds test suite."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "rerun: end-to-end edit-and-rerun cases (fresh processes, real source edits); "
        "select with -m rerun, skip with -m 'not rerun'",
    )
