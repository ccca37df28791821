"""Edit-and-rerun: edits of function code (bodies, defaults, helpers near and far) re-run exactly the
data functions that read the edited code, and nothing else.

Every case keeps at least two independent data functions, so it also proves the unaffected one is loaded.
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


def test_function_body_edit(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            def a():
                trace("a")
                x = 20
                return x + 1


            def b():
                trace("b")
                return 2


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "return x + 1", "return x + 2"), reran={"a"})


def test_default_argument_value_edit(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            def a(n=3):
                trace("a")
                return n * 10


            def b(n=3):
                trace("b")
                return n


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "def a(n=3):", "def a(n=4):"), reran={"a"})


def test_keyword_only_default_edit(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            def a(x, *, scale=2):
                trace("a")
                return x * scale


            def b(x, *, scale=2):
                trace("b")
                return x + scale


            def run():
                return [dds.keep("/a", a, 5), dds.keep("/b", b, 5)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "def a(x, *, scale=2):", "def a(x, *, scale=3):"), reran={"a"})


def test_helper_in_same_module(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            def helper(x):
                return x * 2


            def other(x):
                return x - 1


            def a():
                trace("a")
                return helper(5)


            def b():
                trace("b")
                return other(5)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "return x * 2", "return x * 3"), reran={"a"})


def test_helper_default_argument_edit(tmp_path):
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace


            def helper(x, k=2):
                return x * k


            def a():
                trace("a")
                return helper(5)


            def b():
                trace("b")
                return 5


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "def helper(x, k=2):", "def helper(x, k=7):"), reran={"a"})


UTIL_SRC = """
    def helper(x):
        return x * 2


    def other(x):
        return x - 1
"""


@pytest.mark.parametrize(
    "import_line, call",
    [
        pytest.param("from pipe.util import helper", "helper(5)", id="from-import-name"),
        pytest.param("from pipe.util import helper as hh", "hh(5)", id="from-import-alias"),
        pytest.param("import pipe.util as u", "u.helper(5)", id="import-module-alias"),
        pytest.param("from pipe import util", "util.helper(5)", id="from-package-import-module"),
        pytest.param("import pipe.util", "pipe.util.helper(5)", id="import-dotted-module"),
    ],
)
def test_helper_in_another_module(tmp_path, import_line, call):
    files = {
        UTIL: UTIL_SRC,
        MAIN: f"""
            import dds
            {import_line}
            from pipe.util import other
            from pipe._trace import trace


            def a():
                trace("a")
                return {call}


            def b():
                trace("b")
                return other(5)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (UTIL, "return x * 2", "return x * 3"), reran={"a"})


def test_helper_shared_by_both_reruns_both(tmp_path):
    files = {
        UTIL: UTIL_SRC,
        MAIN: """
            import dds
            from pipe.util import helper
            from pipe._trace import trace


            def a():
                trace("a")
                return helper(5)


            def b():
                trace("b")
                return helper(6)


            def c():
                trace("c")
                return 0


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
        """,
    }
    check_edit(tmp_path, files, (UTIL, "return x * 2", "return x * 3"), reran={"a", "b"})


DEEP = {
    "pipe/l1.py": """
        from pipe.l2 import f2


        def f1(x):
            return f2(x) + 1
    """,
    "pipe/l2.py": """
        import pipe.l3 as l3


        def f2(x):
            return l3.f3(x) + 1
    """,
    "pipe/l3.py": """
        from pipe.sub import l4


        def f3(x):
            return l4.f4(x) + 1
    """,
    "pipe/sub/l4.py": """
        from pipe.sub.l5 import f5


        def f4(x):
            return f5(x) * 2
    """,
    "pipe/sub/l5.py": """
        def f5(x):
            return x + 100
    """,
    MAIN: """
        import dds
        from pipe.l1 import f1
        from pipe._trace import trace


        def a():
            trace("a")
            return f1(1)


        def b():
            trace("b")
            return 2


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b)]
    """,
}


def test_transitive_helper_depth_3(tmp_path):
    # a -> f1 (l1) -> f2 (l2) -> f3 (l3): edit f3's own body
    check_edit(tmp_path, DEEP, ("pipe/l3.py", "return l4.f4(x) + 1", "return l4.f4(x) + 5"), reran={"a"})


def test_transitive_helper_depth_5_across_packages(tmp_path):
    # a -> f1 -> f2 -> f3 -> f4 (pipe.sub.l4) -> f5 (pipe.sub.l5): edit the deepest one
    check_edit(tmp_path, DEEP, ("pipe/sub/l5.py", "return x + 100", "return x + 200"), reran={"a"})


def test_transitive_helper_depth_4_via_module_attr(tmp_path):
    # a -> f1 -> f2 -> f3 -> f4, the last hop `l4.f4` through a module imported from a sub-package
    check_edit(tmp_path, DEEP, ("pipe/sub/l4.py", "return f5(x) * 2", "return f5(x) * 3"), reran={"a"})


def test_helper_edit_changes_which_helper_is_called(tmp_path):
    files = {
        UTIL: UTIL_SRC + """

    def third(x):
        return x * 100
""",
        MAIN: """
            import dds
            from pipe import util
            from pipe._trace import trace


            def a():
                trace("a")
                return util.helper(5)


            def b():
                trace("b")
                return util.other(5)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    # helper now delegates to a function that was not reachable before
    check_edit(tmp_path, files, (UTIL, "return x * 2", "return third(x)"), reran={"a"})


def _two(a_src: str, header: str = "") -> str:
    """main.py with data function ``a`` (body given) and an independent ``b``."""
    return (
        "import dds\nfrom pipe._trace import trace\n" + header
        + "\n\ndef a():\n    trace(\"a\")\n    " + a_src.strip().replace("\n", "\n    ")
        + "\n\n\ndef b():\n    trace(\"b\")\n    return 'b'\n\n\n"
        + "def run():\n    return [dds.keep(\"/a\", a), dds.keep(\"/b\", b)]\n"
    )


@pytest.mark.parametrize(
    "header, a_src",
    [
        pytest.param("", "from pipe.util import helper\nreturn helper(5)", id="import-inside-function-body"),
        pytest.param("", "import pipe.util\nreturn pipe.util.helper(5)", id="module-import-inside-function-body"),
        pytest.param("", "import pipe.util as u\nreturn u.helper(5)", id="module-alias-import-inside-function-body"),
        pytest.param("", "from pipe import util\nreturn util.helper(5)",
                     id="from-package-import-module-inside-function-body"),
        pytest.param("import pipe\nimport pipe.util as _loaded\n", "return pipe.util.helper(5)",
                     id="submodule-as-package-attribute"),
        pytest.param("from pipe.util import helper\n", "def inner(f=helper):\n    return f(5)\n\nreturn inner()",
                     id="helper-as-default-of-nested-def"),
        pytest.param("from pipe.util import *\n", "return helper(5)", id="star-import"),
        pytest.param("from .util import helper\n", "return helper(5)", id="relative-import"),
        pytest.param("from . import util\n", "return util.helper(5)", id="relative-module-import"),
        pytest.param("from pipe.util import helper\n", "return list(map(helper, [1, 2]))",
                     id="helper-passed-to-map"),
        pytest.param("from pipe.util import helper\n", "return sorted([3, 1, 2], key=helper)[::-1] + [helper(1)]",
                     id="helper-as-key-function"),
    ],
)
def test_helper_reached_in_other_ways(tmp_path, header, a_src):
    files = {UTIL: UTIL_SRC, MAIN: _two(a_src, header)}
    check_edit(tmp_path, files, (UTIL, "return x * 2", "return x * 3"), reran={"a"})


def test_three_level_dotted_module_attribute(tmp_path):
    files = dict(DEEP)
    files[MAIN] = _two("return pipe.sub.l5.f5(1)", "import pipe.sub.l5\n")
    check_edit(tmp_path, files, ("pipe/sub/l5.py", "return x + 100", "return x + 200"), reran={"a"})


@pytest.mark.parametrize(
    "header, old, new",
    [
        pytest.param("from pipe.util import helper as h\n", "import helper as h", "import other as h",
                     id="from-import-alias-rebound"),
        pytest.param("import pipe.util as u\n", "import pipe.util as u", "import pipe.util2 as u",
                     id="module-alias-rebound"),
    ],
)
def test_import_line_rebinds_a_name(tmp_path, header, old, new):
    """Only an import line changes: the same name now means another function, so ``a`` must re-run."""
    call = "h(5)" if "as h" in header else "u.helper(5)"
    files = {
        UTIL: UTIL_SRC,
        "pipe/util2.py": "def helper(x):\n    return x * 1000\n",
        MAIN: _two(f"return {call}", header),
    }
    check_edit(tmp_path, files, (MAIN, old, new), reran={"a"})


CONDITIONAL = """
    FLAG = True

    if FLAG:
        def helper(x):
            return x * 2
    else:
        def helper(x):
            return x * 3


    def twice(x):
        return x + 1


    def twice(x):
        return x + 2
"""


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param("FLAG = True", "FLAG = False", {"a"}, id="condition-flipped"),
        pytest.param("return x * 2", "return x * 4", {"a"}, id="live-branch-edited"),
        pytest.param("return x * 3", "return x * 5", set(), id="dead-branch-edited"),
        pytest.param("return x + 2", "return x + 4", {"b"}, id="live-redefinition-edited"),
        pytest.param("return x + 1", "return x + 5", set(), id="dead-first-definition-edited"),
    ],
)
def test_conditional_and_repeated_definitions(tmp_path, old, new, reran):
    """Only the function object the name is bound to at run time counts, not every ``def`` of that name."""
    files = {
        UTIL: CONDITIONAL,
        MAIN: """
            import dds
            from pipe import util
            from pipe._trace import trace


            def a():
                trace("a")
                return util.helper(5)


            def b():
                trace("b")
                return util.twice(5)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (UTIL, old, new), reran=reran)
