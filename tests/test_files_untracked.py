"""``warn_untracked_files``: a kept function that reads a file which is not a dds.File input is reported.

Real reads through open, pandas and numpy inside real keeps; the warning is observed with
``pytest.warns`` / ``warnings.catch_warnings``.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest

import dds


@pytest.fixture
def watched(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    dds.set_option("warn_untracked_files", True)
    (tmp_path / "raw.csv").write_text("k,v\na,1\n")
    (tmp_path / "conf.json").write_text('{"scale": 2}')
    np.save(tmp_path / "arr.npy", np.arange(3))
    yield tmp_path
    dds.set_option("warn_untracked_files", False)


def untracked(fn, *args, path="/step"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = dds.keep(path, fn, *args)
    return value, [str(w.message) for w in caught if issubclass(w.category, dds.UntrackedFileWarning)]


def read_csv_by_name():
    return int(pd.read_csv("raw.csv")["v"].sum())


def read_json_by_name():
    with open("conf.json") as fh:
        return json.load(fh)["scale"]


def read_npy_by_name():
    return int(np.load("arr.npy").sum())


def read_file(f):
    return int(pd.read_csv(f)["v"].sum())


def test_reads_by_a_plain_path_are_reported_with_the_step_and_the_fix(watched):
    for i, (fn, name) in enumerate([(read_csv_by_name, "raw.csv"), (read_json_by_name, "conf.json"),
                                    (read_npy_by_name, "arr.npy")]):
        _, messages = untracked(fn, path=f"/plain/{i}")
        assert len(messages) == 1, messages
        assert f"/plain/{i} read {name}" in messages[0] and f"dds.File({name!r})" in messages[0]


def test_file_inputs_writes_imports_and_dds_own_reads_are_not_reported(watched):
    assert untracked(read_file, dds.File("raw.csv"))[1] == []

    def writes():
        with open("out.txt", "w") as fh:
            fh.write("x")
        fd = os.open("out2.txt", os.O_WRONLY | os.O_CREAT)
        os.close(fd)
        import colorsys  # noqa: F401 - an import reads module files: not an input

        return 1

    assert untracked(writes, path="/writes")[1] == []

    def upstream():
        return dds.keep("/inner", read_file, dds.File("raw.csv")) + dds.load("/writes")

    assert untracked(upstream, path="/outer")[1] == []  # the nested keep parses source and reads the store


def test_each_path_is_reported_once_per_step_and_never_when_off(watched):
    def twice():
        return read_json_by_name() + read_json_by_name()

    assert len(untracked(twice, path="/twice")[1]) == 1
    dds.set_option("warn_untracked_files", False)
    assert untracked(read_json_by_name, path="/off")[1] == []


def test_reads_outside_a_kept_function_are_not_reported(watched):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_json_by_name()
    assert not [w for w in caught if issubclass(w.category, dds.UntrackedFileWarning)]


def test_unknown_option_value_is_refused():
    with pytest.raises(dds.ArgumentError, match="warn_untracked_files"):
        dds.set_option("warn_untracked_files", "yes")
