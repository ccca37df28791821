"""Run metadata: user fields from set_run_info_fn, library versions of the kept function's imports."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
import time

import pytest

import dds
from dds.step import runinfo
from dds.errors import ArgumentError, DDSError
from dds.step.runinfo import library_versions, run_info, set_run_info_fn


@pytest.fixture(autouse=True)
def clean(tmp_path):
    set_run_info_fn(None)
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    yield
    set_run_info_fn(None)


def ci_info():
    return {"build": "1234", "branch": "main", "tags": ["a", "b"]}


def stored_run(path):
    store = dds.get_store()
    return store.read_meta(store.get_ref(path))["run"]


def test_run_info_keeps_its_original_call_and_fields():
    info = run_info(time.time(), 0.5, __file__)
    assert {"started", "duration_s", "host", "user", "pid", "python", "dds", "platform"} <= set(info)
    assert info["duration_s"] == 0.5


def test_user_fields_are_merged_into_run():
    set_run_info_fn(ci_info)
    assert dds.keep("/v", lambda: 3) == 3
    run = stored_run("/v")
    assert (run["build"], run["branch"], run["tags"]) == ("1234", "main", ["a", "b"])
    set_run_info_fn(None)
    dds.keep("/w", lambda: 4)
    assert "build" not in stored_run("/w")


def test_not_callable_is_refused():
    with pytest.raises(ArgumentError, match="set_run_info_fn"):
        set_run_info_fn({"build": 1})


def failing():
    raise KeyError("CI_BUILD_ID")


@pytest.mark.parametrize("fn, words", [
    (failing, ["test_runinfo.failing", "KeyError", "CI_BUILD_ID"]),
    (lambda: ["build"], ["list", "dict with str keys"]),
    (lambda: {"build": object()}, ["'build'", "not JSON-serialisable"]),
    (lambda: {"x": float("nan")}, ["'x'", "not JSON-serialisable"]),
    (lambda: {"host": "me"}, ["'host'", "records itself"]),
])
def test_bad_run_info_functions_raise_a_clear_error(fn, words):
    set_run_info_fn(fn)
    with pytest.raises(DDSError) as info:
        dds.keep("/v", lambda: 1)
    message = str(info.value)
    assert "set_run_info_fn" in message and all(w in message for w in words), message
    assert dds.get_store().get_ref("/v") is None


def test_versions_of_libraries_imported_by_the_module_and_its_user_helpers(tmp_path, monkeypatch):
    pytest.importorskip("pandas")
    (tmp_path / "rihelper.py").write_text("import pandas\n")
    (tmp_path / "rimain.py").write_text(textwrap.dedent('''
        import json
        from numpy import asarray
        import rihelper

        def compute():
            return int(asarray([1, 2]).sum())
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import rimain

    versions = library_versions("rimain")
    assert versions["numpy"] == importlib.metadata.version("numpy")
    assert versions["pandas"] == importlib.metadata.version("pandas")
    assert "json" not in versions and "rihelper" not in versions and "dds" not in versions

    dds.keep("/n", rimain.compute)
    assert stored_run("/n")["versions"] == versions
    assert runinfo._module_of_file(rimain.__file__) == "rimain"
    for name in ("rimain", "rihelper"):
        sys.modules.pop(name, None)


def test_versions_are_best_effort():
    assert library_versions(None) == {} and library_versions("no.such.module") == {}


def test_errors_name_the_path_when_the_caller_gives_it():
    set_run_info_fn(failing)
    with pytest.raises(DDSError, match="while storing /model"):
        run_info(time.time(), 0.1, __file__, path="/model")
