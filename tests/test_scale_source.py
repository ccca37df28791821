"""A file saved while (or just before) its process runs is checked against the running code once per file:
the compiled module's code objects are indexed once, and each step's check is a lookup (issue 17: the
check walked the whole compiled module per step, so N steps cost N x the module's size).

End to end: real files, fresh processes, the files saved the instant before the run (``just_saved``), so
every run takes the checked path; plus in-process checks that the indexed lookup still refuses a file
edited after import, and tells apart two lambdas on one line.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time

import pytest
from rerun_harness import RerunHarness

from dds.errors import SourceUnavailableError
from dds.signature import source

STEPS = 12
MAIN = "pipe/main.py"


def _main_source() -> str:
    lines = ["import dds", "from pipe._trace import trace", "", "K = 2", ""]
    for i in range(STEPS):
        lines += [f"def step_{i}(prev):", f"    trace('step_{i}')", f"    return prev * K + {i}", "", ""]
    lines += ["PAIR = (lambda x: x + 1, lambda x: x - 1)", "", "",
              "def run():", "    x = 1"]
    lines += [f"    x = dds.keep('/s/{i}', step_{i}, x)" for i in range(STEPS)]
    lines += ["    y = dds.keep('/s/up', PAIR[0], x)", "    z = dds.keep('/s/down', PAIR[1], x)",
              "    return [x, y, z]", ""]
    return "\n".join(lines)


def test_a_just_saved_module_reruns_nothing_and_an_edit_reruns_exactly_its_steps(tmp_path):
    h = RerunHarness(tmp_path, {MAIN: _main_source()}, just_saved=True)
    first = h.run()
    assert first.ran == {f"step_{i}" for i in range(STEPS)}
    h.assert_matches_uncached(first)
    h.write(MAIN, h.read(MAIN))  # saved again, same text: newer than the next process
    again = h.run()
    assert again.ran == set(), f"NEEDLESS RECOMPUTE after saving unchanged: {sorted(again.ran)}"
    assert again.canon == first.canon
    h.edit(MAIN, "    return prev * K + 7\n", "    return prev * K + 70\n")
    edited = h.run()
    assert edited.ran == {f"step_{i}" for i in range(7, STEPS)}  # step_7 and what takes its value
    h.assert_matches_uncached(edited)
    assert h.run().ran == set()


def _import_fresh(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _source_text(bodies: tuple[str, str]) -> str:
    return ("def a(x):\n    return x + 1\n\n\n"
            f"def b(x):\n    return {bodies[0]}\n\n\n"
            f"PAIR = (lambda x: {bodies[1]}, lambda x: x * 3)\n")


def test_the_indexed_check_accepts_the_running_code_and_refuses_an_edit_after_import(tmp_path, monkeypatch):
    path = tmp_path / "scale_mod.py"
    path.write_text(_source_text(("x * 2", "x + 5")))
    module = _import_fresh(path, "scale_mod")
    try:
        monkeypatch.setattr(source, "PROCESS_START", time.time() - 3600)  # the file is newer than the process
        os.utime(path)
        source._parsed.pop(str(path), None)
        for fn in (module.a, module.b, *module.PAIR):
            assert source._find_function_node(fn.__code__) is not None
        compiled = source._parsed[str(path)][1]
        assert compiled.codes is not None and ("<lambda>", 9) in compiled.codes  # indexed once, both lambdas
        assert len(compiled.codes[("<lambda>", 9)]) == 2
        # the same lines, other code: an edit after import is refused, for a def and for each lambda
        path.write_text(_source_text(("x * 4", "x + 6")))
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
        for fn in (module.b, module.PAIR[0]):
            with pytest.raises(SourceUnavailableError, match="changed on disk after"):
                source._find_function_node(fn.__code__)
        assert source._find_function_node(module.a.__code__) is not None  # unchanged: still accepted
        assert source._find_function_node(module.PAIR[1].__code__) is not None
    finally:
        sys.modules.pop("scale_mod", None)
        source._parsed.pop(str(path), None)
