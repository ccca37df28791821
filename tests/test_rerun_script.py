"""Edit-and-rerun for data functions defined in a script run as ``__main__`` (``python pipeline.py``):
``__main__`` is user code, so its functions and constants are hashed like any accepted module's.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

pytestmark = pytest.mark.rerun

SCRIPT = "pipeline.py"
UTIL = "pipe/util.py"

FILES = {
    UTIL: """
        def helper(x):
            return x * 2


        def other(x):
            return -x
    """,
    SCRIPT: """
        import dds
        from pipe._trace import trace
        from pipe.util import helper, other

        K = 5


        def local_helper(v):
            return v + 1


        def a():
            trace("a")
            return local_helper(helper(3))


        def b():
            trace("b")
            return other(K)


        @dds.data_function("/c")
        def c():
            trace("c")
            return "c"


        RESULT = [dds.keep("/a", a), dds.keep("/b", b), c()]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(SCRIPT, "return local_helper(helper(3))", "return local_helper(helper(4))", {"a"},
                     id="body-edit"),
        pytest.param(SCRIPT, "return v + 1", "return v + 2", {"a"}, id="helper-in-main"),
        pytest.param(UTIL, "return x * 2", "return x * 3", {"a"}, id="helper-in-package"),
        pytest.param(SCRIPT, "K = 5\n", "K = 6\n", {"b"}, id="constant-in-main"),
        pytest.param(SCRIPT, 'return "c"', 'return "C"', {"c"}, id="data-function-in-main"),
        pytest.param(SCRIPT, "K = 5\n", "K = 5  # five\n", set(), id="comment-in-main"),
        pytest.param(SCRIPT, "RESULT = [", "UNUSED = 1\nRESULT = [", set(), id="unrelated-constant-in-main"),
    ],
)
def test_script_run_as_main(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, FILES, (rel, old, new), reran=reran, entry=SCRIPT)
