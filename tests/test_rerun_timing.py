"""Edit-and-rerun with files saved the instant before the run.

dds checks that a file modified after its process started still holds the code that was imported
(otherwise it would hash code that is not the code running). A file saved just before the process
started (a script that writes code then runs it, an editor's save-and-run key, a notebook exporting a
module) must pass that check and behave exactly like one saved long ago. Each case isolates one shape of
code, so a false alarm of that check points at the construct that confuses it.
"""

from __future__ import annotations

import importlib.util
import time

import pytest

try:
    from .rerun_harness import RerunHarness, check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness, check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
UTIL = "pipe/util.py"

UTIL_SRC = """
    class Model:
        @classmethod
        def make(cls):
            return cls()

        def score(self):
            return 3


    def helper(x):
        return x * 2
"""

MAIN_TEMPLATE = """
    import dds
    from pipe import util
    from pipe.util import Model, helper
    from pipe._trace import trace


    def a():
        trace("a")
        return {a_expr}


    def b():
        trace("b")
        return [i * i for i in range(4)]


    def run():
        return [dds.keep("/a", a), dds.keep("/b", b)]
"""

CASES = [
    # id, expression returned by a, edit, re-run
    ("plain-call", "helper(5)", (UTIL, "return x * 2", "return x * 3"), {"a"}),
    ("body-edit", "helper(5)", (MAIN, "range(4)", "range(5)"), {"b"}),
    ("comment-only", "helper(5)", (MAIN, "    return [i", "    # squares\n    return [i"), set()),
    ("method-on-imported-class", "Model.make().score()", (UTIL, "return 3", "return 4"), {"a"}),
    ("module-attribute-call", "util.helper(5)", (UTIL, "return x * 2", "return x * 3"), {"a"}),
]


@pytest.mark.parametrize(
    "a_expr, edit, reran", [pytest.param(expr, edit, reran, id=name) for name, expr, edit, reran in CASES]
)
def test_run_right_after_saving(tmp_path, a_expr, edit, reran):
    files = {UTIL: UTIL_SRC, MAIN: MAIN_TEMPLATE.format(a_expr=a_expr)}
    check_edit(tmp_path, files, edit, reran=reran, just_saved=True)


def test_same_size_save_within_one_second_with_bytecode_cache(tmp_path):
    """Saved, run (Python writes __pycache__), saved again within the same second with the same size:
    Python then runs the FIRST version from its cache. dds must not store that old result under the new
    code's signature: it must either stop with a DDSError that says what happened, or return the value
    of the code on disk. (test_rerun_harness_selftest checks this timeline really runs stale bytecode.)"""
    files = {UTIL: UTIL_SRC, MAIN: MAIN_TEMPLATE.format(a_expr="helper(5)")}
    h = RerunHarness(tmp_path, files, bytecode=True)
    second = (time.time_ns() // 10**9 - 100) * 10**9
    h.set_mtime_ns(MAIN, second + 100_000_000)
    first = h.run()
    assert first.ran == {"a", "b"} and first.value == [10, [0, 1, 4, 9]]
    pyc = importlib.util.cache_from_source(str(h.path(MAIN)))
    h.set_mtime_ns(pyc, second + 200_000_000)  # the .pyc was written right after the first save
    h.edit(MAIN, "range(4)", "range(3)")  # same size
    h.set_mtime_ns(MAIN, second + 500_000_000)  # second save, same second
    try:
        again = h.run()
    except AssertionError as exc:
        assert "dds.errors." in str(exc), f"failed, but not with a DDSError:\n{exc}"
        return
    assert again.value == [10, [0, 1, 4]], (
        f"STALE VALUE: the code on disk returns [10, [0, 1, 4]], dds returned {again.value} "
        f"(ran {sorted(again.ran)}) from outdated __pycache__ bytecode\n{h._context()}"
    )
