"""Edit-and-rerun with files saved the instant before the run.

dds checks that a file modified after its process started still holds the code that was imported
(otherwise it would hash code that is not the code running). A file saved just before the process
started (a script that writes code then runs it, an editor's save-and-run key, a notebook exporting a
module) must pass that check and behave exactly like one saved long ago.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
UTIL = "pipe/util.py"

FILES = {
    UTIL: """
        class Model:
            @classmethod
            def make(cls):
                return cls()

            def score(self):
                return 3


        def helper(x):
            return x * 2
    """,
    MAIN: """
        import dds
        from pipe import util
        from pipe.util import Model
        from pipe._trace import trace


        def a():
            trace("a")
            return Model.make().score()


        def b():
            trace("b")
            return util.helper(5)


        def c():
            trace("c")
            return [i * i for i in range(4)]


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(UTIL, "return 3", "return 4", {"a"}, id="method-on-imported-class"),
        pytest.param(UTIL, "return x * 2", "return x * 3", {"b"}, id="module-attribute-call"),
        pytest.param(MAIN, "range(4)", "range(5)", {"c"}, id="body-edit"),
        pytest.param(MAIN, "    trace(\"c\")\n", "    # a comment\n    trace(\"c\")\n", set(), id="comment-only"),
    ],
)
def test_run_right_after_saving(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, FILES, (rel, old, new), reran=reran, just_saved=True)
