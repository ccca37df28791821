"""Pins: ``gc`` keeps a pinned value after its path moved on, on a local store and on S3 (moto)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import dds
from dds.cli import cli
from dds.store.maintenance import gc


def value_a():
    return "first"


def value_b():
    return "second"


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return dds.set_store("local", internal_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data"))
    s3 = request.getfixturevalue("s3")
    return dds.set_store("fsspec", url=s3.url(f"pins-{tmp_path.name}"), **s3.storage_options)


def test_gc_keeps_a_pinned_value_after_its_path_moved_on(store):
    dds.keep("/m", value_a)
    first = store.get_ref("/m")
    assert dds.pin("/m") == first
    dds.keep("/m", value_b)  # /m now points elsewhere: only the pin keeps the first value
    report = gc(store, grace=0)
    assert first not in [r.sig for r in report.removed]
    assert store.read_meta(first) is not None
    assert dds.unpin("/m") == [first]
    report = gc(store, grace=0)
    assert first in [r.sig for r in report.removed]
    assert store.read_meta(first) is None
    assert dds.load("/m") == "second"


def test_pin_of_a_missing_path_names_it():
    dds.set_store("memory")
    with pytest.raises(dds.NotFoundError, match=r"dds.pin\('/nothing'\)"):
        dds.pin("/nothing")


def test_the_cli_pins_lists_and_unpins(tmp_path):
    store_dir = str(tmp_path / "store")
    dds.set_store("local", internal_dir=store_dir)
    dds.keep("/m", value_a)
    runner = CliRunner()
    out = runner.invoke(cli, ["pin", "m", "--store", store_dir])
    assert out.exit_code == 0 and out.output.startswith("pinned\t/m"), out.output
    assert runner.invoke(cli, ["pin", "/m", "--store", store_dir]).output.startswith("already pinned")
    listed = runner.invoke(cli, ["--store", store_dir, "pin"])
    assert listed.output.startswith("/m\t"), listed.output
    assert runner.invoke(cli, ["unpin", "/m", "--store", store_dir]).output.startswith("unpinned\t/m")
    assert "no pins" in runner.invoke(cli, ["pin", "--store", store_dir]).output
