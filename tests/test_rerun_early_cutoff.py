"""Edit-and-rerun: early cutoff. An upstream step that re-runs and reproduces the same data re-runs nothing
downstream, whether the downstream step reads it with ``dds.load`` or receives it as an argument; an
upstream that produces different data still re-runs everything that reads it."""

from __future__ import annotations

import importlib
import sys
import textwrap
import uuid

import pytest

import dds

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

MAIN = """
    import dds
    from pipe._trace import trace

    X = 12


    def a():
        trace("a")
        return X // 10


    def b():
        trace("b")
        return dds.load("/a") + 100


    def c(v):
        trace("c")
        return v * 2


    def run():
        va = dds.keep("/a", a)
        return [dds.keep("/b", b), dds.keep("/c", c, va)]
"""


@pytest.mark.rerun
def test_same_data_upstream_reruns_nothing_downstream(tmp_path):
    check_edit(tmp_path, {"pipe/main.py": MAIN}, ("pipe/main.py", "X = 12", "X = 13"), reran={"a"},
               value_changes=False)


@pytest.mark.rerun
def test_different_data_upstream_reruns_its_readers(tmp_path):
    check_edit(tmp_path, {"pipe/main.py": MAIN}, ("pipe/main.py", "X = 12", "X = 25"), reran={"a", "b", "c"})


def test_why_says_the_upstream_reproduced_identical_data(tmp_path, monkeypatch):
    name = f"cutoff_{uuid.uuid4().hex[:8]}"
    source = textwrap.dedent(MAIN).replace("from pipe._trace import trace", "RAN = []\ntrace = RAN.append")
    (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    dds.set_store("local", internal_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data"))
    module = importlib.import_module(name)
    try:
        assert module.run() == [101, 2]
        module.X = 13  # /a's code reads X: it re-runs, and returns 1 again
        assert module.run() == [101, 2]
        assert module.RAN == ["a", "b", "c", "a"]
        assert "upstream /a re-ran and produced identical data" in dds.why("/b")
        module.X = 25
        assert module.run() == [102, 4]
        assert "upstream /a changed" in dds.why("/b")
    finally:
        sys.modules.pop(name, None)
