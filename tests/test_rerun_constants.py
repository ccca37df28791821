"""Edit-and-rerun: module constants are hashed by their live value, type-aware.

Values that compare equal in Python but differ in type or representation (``1`` / ``1.0`` / ``True``,
``0.0`` / ``-0.0``, ``{1}`` / ``frozenset({1})``) must re-run, because the data function's output differs.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness, check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness, check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
CONF = "pipe/conf.py"

TEMPLATE = """
    import dds
    from pipe._trace import trace

    X = {literal}
    Y = 5


    def a():
        trace("a")
        return X


    def b():
        trace("b")
        return Y


    def run():
        return [dds.keep("/a", a), dds.keep("/b", b)]
"""

CONSTANT_EDITS = [
    # one per type
    ("int", "3", "4"),
    ("negative-int", "-3", "-4"),
    ("float", "0.5", "0.25"),
    ("bool", "True", "False"),
    ("str", "'abc'", "'abd'"),
    ("str-unicode", "'caf\u00e9'", "'cafe'"),
    ("bytes", "b'abc'", "b'abd'"),
    ("none-to-int", "None", "0"),
    ("int-to-none", "0", "None"),
    ("tuple", "(1, 2)", "(1, 3)"),
    ("tuple-longer", "(1, 2)", "(1, 2, 3)"),
    ("list", "[1, 2]", "[1, 2, 3]"),
    ("list-order", "[1, 2]", "[2, 1]"),
    ("dict-value", "{'k': 1}", "{'k': 2}"),
    ("dict-key", "{'k': 1}", "{'j': 1}"),
    ("set", "{1, 2}", "{1, 3}"),
    ("frozenset", "frozenset({'a', 'b'})", "frozenset({'a', 'c'})"),
    ("nested", "{'a': [1, (2, 3)], 'b': {4}}", "{'a': [1, (2, 4)], 'b': {4}}"),
    ("nested-deep", "[[[[{'k': (1,)}]]]]", "[[[[{'k': (2,)}]]]]"),
    ("big-int-expr", "2**64 + 1", "2**64 + 2"),
    ("big-int-literal", "18446744073709551617", "18446744073709551618"),
    ("big-negative-int", "-(2**100)", "-(2**100) - 1"),
    # type-aware: equal in Python, different values for the user
    ("int-to-float", "1", "1.0"),
    ("int-to-bool", "1", "True"),
    ("zero-to-false", "0", "False"),
    ("float-to-int", "1.0", "1"),
    ("bool-to-int", "True", "1"),
    ("zero-to-negative-zero", "0.0", "-0.0"),
    ("int-to-str", "1", "'1'"),
    ("str-to-bytes", "'a'", "b'a'"),
    ("tuple-to-list", "(1, 2)", "[1, 2]"),
    ("set-to-frozenset", "{1, 2}", "frozenset({1, 2})"),
    ("empty-list-to-empty-tuple", "[]", "()"),
    ("nested-int-to-float", "[1, (2, 3)]", "[1, (2, 3.0)]"),
    ("dict-value-int-to-bool", "{'k': 1}", "{'k': True}"),
]


@pytest.mark.parametrize(
    "old, new", [pytest.param(old, new, id=name) for name, old, new in CONSTANT_EDITS]
)
def test_module_constant_edit(tmp_path, old, new):
    files = {MAIN: TEMPLATE.format(literal=old)}
    check_edit(tmp_path, files, (MAIN, f"X = {old}\n", f"X = {new}\n"), reran={"a"})


def test_dict_key_order(tmp_path):
    """Equal dicts, different iteration order: a function that lists the keys returns something else."""
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace

            D = {"x": 1, "y": 2}
            E = {"x": 1, "y": 2}


            def a():
                trace("a")
                return list(D)


            def b():
                trace("b")
                return list(E)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, 'D = {"x": 1, "y": 2}', 'D = {"y": 2, "x": 1}'), reran={"a"})


CONF_SRC = """
    THRESHOLD = 10
    OTHER = 1
"""


@pytest.mark.parametrize(
    "import_line, expr",
    [
        pytest.param("from pipe.conf import THRESHOLD", "THRESHOLD", id="from-import"),
        pytest.param("from pipe import conf", "conf.THRESHOLD", id="module-attr"),
        pytest.param("import pipe.conf as c", "c.THRESHOLD", id="module-alias-attr"),
        pytest.param("import pipe.conf", "pipe.conf.THRESHOLD", id="dotted-module-attr"),
        pytest.param("from pipe.conf import *", "THRESHOLD", id="star-import"),
    ],
)
def test_constant_in_another_module(tmp_path, import_line, expr):
    files = {
        CONF: CONF_SRC,
        MAIN: f"""
            import dds
            {import_line}
            from pipe.conf import OTHER
            from pipe._trace import trace


            def a():
                trace("a")
                return {expr} * 2


            def b():
                trace("b")
                return OTHER


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (CONF, "THRESHOLD = 10", "THRESHOLD = 11"), reran={"a"})


def test_constant_read_by_a_helper_in_another_module(tmp_path):
    files = {
        CONF: CONF_SRC,
        "pipe/util.py": """
            from pipe import conf


            def limit(x):
                return min(x, conf.THRESHOLD)


            def plain(x):
                return x
        """,
        MAIN: """
            import dds
            from pipe.util import limit, plain
            from pipe._trace import trace


            def a():
                trace("a")
                return limit(100)


            def b():
                trace("b")
                return plain(100)


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (CONF, "THRESHOLD = 10", "THRESHOLD = 12"), reran={"a"})


def test_constant_used_as_default_argument(tmp_path):
    """``def a(n=N)``: the default's live value comes from N, so editing N must re-run ``a``."""
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace

            N = 3
            M = 3


            def a(n=N):
                trace("a")
                return n * 10


            def b(n=M):
                trace("b")
                return n


            def run():
                return [dds.keep("/a", a), dds.keep("/b", b)]
        """,
    }
    check_edit(tmp_path, files, (MAIN, "N = 3", "N = 4"), reran={"a"})


REBOUND = """
    import dds
    from pipe._trace import trace

    X = 1
    Y = 7


    def a():
        trace("a")
        return X


    def b():
        trace("b")
        return Y


    X = 2


    def run():
        return [dds.keep("/a", a), dds.keep("/b", b)]
"""


def test_rebound_name_live_binding_edit_reruns(tmp_path):
    check_edit(tmp_path, {MAIN: REBOUND}, (MAIN, "X = 2\n", "X = 3\n"), reran={"a"})


def test_rebound_name_dead_binding_edit_does_not_rerun(tmp_path):
    """The first ``X = 1`` is overwritten before anything reads it: its value is not what counts."""
    check_edit(tmp_path, {MAIN: REBOUND}, (MAIN, "X = 1\n", "X = 5\n"), reran=set())


IMPORT_TIME = """
    import dds
    from pipe._trace import trace

    TABLE = {}
    for i in range(3):
        TABLE[i] = i * i
    ORDER = sorted([3, 1, 2])
    ORDER.append(9)


    def a():
        trace("a")
        return sorted(TABLE.items())


    def b():
        trace("b")
        return ORDER


    def run():
        return [dds.keep("/a", a), dds.keep("/b", b)]
"""


def test_constant_computed_at_import(tmp_path):
    """The live value counts, not the literal text: a dict filled by a loop at import time."""
    check_edit(tmp_path, {MAIN: IMPORT_TIME}, (MAIN, "for i in range(3):", "for i in range(4):"), reran={"a"})


def test_constant_mutated_at_import_by_method_call(tmp_path):
    """``ORDER.append(9)`` runs at import: the assignment's text never changes, the live list does."""
    check_edit(tmp_path, {MAIN: IMPORT_TIME}, (MAIN, "ORDER.append(9)", "ORDER.append(8)"), reran={"b"})


def test_signatures_identical_across_hash_seeds(tmp_path):
    """Sets, frozensets and dicts of strings iterate in a seed-dependent order; signatures must not."""
    files = {
        MAIN: """
            import dds
            from pipe._trace import trace

            NAMES = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}
            FROZEN = frozenset({"red", "green", "blue", "cyan", "magenta", "yellow"})
            MAPPING = {"k" + str(i): {"v" + str(i), "w" + str(i)} for i in range(20)}
            NESTED = {"s": frozenset({("x", "y"), ("z", "w")}), "t": ({"p", "q"}, [{"r", "s"}])}


            def a():
                trace("a")
                return sorted(NAMES) + sorted(FROZEN)


            def b():
                trace("b")
                return sorted((k, sorted(v)) for k, v in MAPPING.items())


            def c():
                trace("c")
                return sorted(NESTED["s"])


            def d(arg):
                trace("d")
                return sorted(arg)


            def run():
                return [
                    dds.keep("/a", a),
                    dds.keep("/b", b),
                    dds.keep("/c", c),
                    dds.keep("/d", d, {"one", "two", "three", "four", "five"}),
                    dds.keep("/d2", d, frozenset({"six", "seven", "eight"})),
                ]
        """,
    }
    h = RerunHarness(tmp_path, files)
    first = h.run(seed=1)
    assert first.ran == {"a", "b", "c", "d"}
    for seed in (2, 3, 12345):
        again = h.run(seed=seed)
        assert again.ran == set(), (
            f"NEEDLESS RECOMPUTE with PYTHONHASHSEED={seed}: {sorted(again.ran)} re-ran; signatures of "
            f"sets/dicts of strings must not depend on hash()\n{h._context()}"
        )
        assert again.canon == first.canon


def _two(a_src: str, header: str = "") -> str:
    """main.py with data function ``a`` (body given) and an independent ``b``."""
    return (
        "import dds\nfrom pipe._trace import trace\n" + header
        + "\n\ndef a():\n    trace(\"a\")\n    " + a_src.strip().replace("\n", "\n    ")
        + "\n\n\ndef b():\n    trace(\"b\")\n    return 'b'\n\n\n"
        + "def run():\n    return [dds.keep(\"/a\", a), dds.keep(\"/b\", b)]\n"
    )


@pytest.mark.parametrize(
    "a_src",
    [
        pytest.param("return [K * i for i in range(3)]", id="list-comprehension"),
        pytest.param("return {i: K for i in range(2)}", id="dict-comprehension"),
        pytest.param("return sum(K for _ in range(2))", id="generator-expression"),
        pytest.param("f = lambda v: v + K\nreturn f(1)", id="lambda-in-body"),
        pytest.param("def inner():\n    return K * 2\n\nreturn inner()", id="nested-def"),
        pytest.param("def inner(k=K):\n    return k * 2\n\nreturn inner()", id="nested-def-default"),
        pytest.param("class Local:\n    v = K\n\nreturn Local.v", id="class-body-in-function"),
        pytest.param("global K\nreturn K", id="global-statement"),
    ],
)
def test_constant_read_only_in_a_nested_scope(tmp_path, a_src):
    """The free name is read inside a comprehension / lambda / nested def, not by ``a``'s own code."""
    files = {MAIN: _two(a_src, "\nK = 3\n")}
    check_edit(tmp_path, files, (MAIN, "K = 3\n", "K = 4\n"), reran={"a"})


def test_constant_in_package_init(tmp_path):
    files = {
        "pipe/__init__.py": "SCALE = 2\nOTHER = 1\n",
        MAIN: _two("return pipe.SCALE * 10", "import pipe\n"),
    }
    check_edit(tmp_path, files, ("pipe/__init__.py", "SCALE = 2\n", "SCALE = 3\n"), reran={"a"})


def test_constant_mutated_at_import_by_another_module(tmp_path):
    """``registry.py`` holds a list that ``plugins.py`` fills at import time: editing plugins.py changes the
    live value ``a`` reads, though registry.py, the module that binds the name, is unchanged."""
    files = {
        "pipe/registry.py": "NAMES = []\n",
        "pipe/plugins.py": "from pipe import registry\n\nregistry.NAMES.append('first')\n",
        MAIN: _two("return list(NAMES)", "from pipe.registry import NAMES\nimport pipe.plugins\n"),
    }
    check_edit(tmp_path, files, ("pipe/plugins.py", "append('first')", "append('second')"), reran={"a"})
