"""Edit-and-rerun: edits that do not change what any data function computes re-run NOTHING.

Comments, formatting, docstrings, local names, line shifts, unrelated code, unused imports: the normalised
AST and the live values a data function reads stay the same, so a re-run would be a needless recompute.
Each case still checks that the value equals a full recompute (the edit really kept the meaning).
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness, check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness, check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
UTIL = "pipe/util.py"
MODEL = "pipe/model.py"

FILES = {
    UTIL: """
        def helper(x):
            \"\"\"Double x.\"\"\"
            return x * 2


        def unrelated(x):
            return x + 1


        LIMIT = 10
        UNUSED_CONST = 3
    """,
    MODEL: """
        class Model:
            \"\"\"A model.\"\"\"

            factor = 3

            def scaled(self, x):
                return x * self.factor
    """,
    MAIN: """
        import dds
        from pipe import util
        from pipe.model import Model
        from pipe.util import helper
        from pipe._trace import trace

        GREETING = 'hello'
        UNUSED = 1


        def a(n):
            \"\"\"Compute a.\"\"\"
            trace("a")
            # the main computation
            total = 0
            for i in range(n):
                total += helper(i)
            return [total, GREETING, util.LIMIT]


        def b():
            trace("b")
            m = Model()
            values = [m.scaled(1), m.scaled(2)]
            return values


        def c(x, y):
            trace("c")
            return x - y


        def unrelated_here():
            return "not used"


        def run():
            return [dds.keep("/a", a, 4), dds.keep("/b", b), dds.keep("/c", c, x=5, y=2)]
    """,
}

A_BODY = """\
    total = 0
    for i in range(n):
        total += helper(i)
    return [total, GREETING, util.LIMIT]
"""

NOOP_EDITS = [
    # comments
    ("comment-added-in-function", MAIN, "    total = 0\n", "    total = 0  # start at zero\n"),
    ("comment-changed", MAIN, "# the main computation", "# the main loop, rewritten comment"),
    ("comment-removed", MAIN, "    # the main computation\n", ""),
    ("comment-in-helper-module", UTIL, "    return x * 2\n", "    # doubling is what we want here\n    return x * 2\n"),
    ("comment-in-class", MODEL, "    factor = 3\n", "    factor = 3  # the scale\n"),
    # formatting
    ("call-split-over-lines-with-trailing-comma", MAIN, "[m.scaled(1), m.scaled(2)]",
     "[\n        m.scaled(1),\n        m.scaled(\n            2\n        ),\n    ]"),
    ("trailing-comma", MAIN, "[total, GREETING, util.LIMIT]", "[total, GREETING, util.LIMIT,]"),
    ("extra-blank-lines-in-body", MAIN, "    total = 0\n", "    total = 0\n\n\n"),
    ("quote-style-constant", MAIN, "GREETING = 'hello'", 'GREETING = "hello"'),
    ("quote-style-in-body", MAIN, 'trace("b")', "trace('b')"),
    ("whitespace-inside-expressions", MAIN, "total += helper(i)", "total  +=  helper( i )"),
    ("redundant-parentheses", MAIN, "    return values\n", "    return (values)\n"),
    ("numeric-literal-spelling", UTIL, "LIMIT = 10\n", "LIMIT = 0xA\n"),
    ("numeric-literal-underscore", UTIL, "LIMIT = 10\n", "LIMIT = 1_0\n"),
    # docstrings
    ("docstring-added-in-function", MAIN, 'def b():\n    trace("b")', 'def b():\n    """Build b."""\n    trace("b")'),
    ("docstring-changed-in-function", MAIN, '"""Compute a."""', '"""Compute a, and say so at length."""'),
    ("docstring-removed-from-function", MAIN, '    """Compute a."""\n', ""),
    ("docstring-changed-in-helper", UTIL, '"""Double x."""', '"""Twice x."""'),
    ("docstring-removed-from-helper", UTIL, '    """Double x."""\n', ""),
    ("docstring-changed-in-class", MODEL, '"""A model."""', '"""A linear model."""'),
    ("docstring-removed-from-class", MODEL, '    """A model."""\n\n', ""),
    ("docstring-added-to-method", MODEL, "    def scaled(self, x):\n",
     '    def scaled(self, x):\n        """Scale x."""\n'),
    ("module-docstring-added", MAIN, "import dds\n", '"""The pipeline."""\nimport dds\n'),
    # names
    ("local-variable-renamed", MAIN, A_BODY,
     "    acc = 0\n    for k in range(n):\n        acc += helper(k)\n    return [acc, GREETING, util.LIMIT]\n"),
    ("local-variable-renamed-object", MAIN, "    m = Model()\n    values = [m.scaled(1), m.scaled(2)]\n    return values\n",
     "    model = Model()\n    out = [model.scaled(1), model.scaled(2)]\n    return out\n"),
    # shifted lines
    ("lines-shifted-by-comments-above", MAIN, "GREETING = 'hello'\n",
     "# a block of comments\n# above everything\n\n\nGREETING = 'hello'\n"),
    ("lines-shifted-by-function-above", MAIN, "\n\ndef a(n):\n", "\n\ndef inserted_above():\n    return 1\n\n\ndef a(n):\n"),
    # unrelated code
    ("unrelated-function-added-same-module", MAIN, "\n\ndef run():\n",
     "\n\ndef brand_new():\n    return 'new'\n\n\ndef run():\n"),
    ("unrelated-function-edited-same-module", MAIN, 'return "not used"', 'return "still not used"'),
    ("unrelated-function-added-other-module", UTIL, "LIMIT = 10\n", "LIMIT = 10\n\n\ndef another():\n    return 0\n"),
    ("unrelated-function-edited-other-module", UTIL, "return x + 1", "return x + 2"),
    ("unrelated-class-added-same-module", MAIN, "UNUSED = 1\n", "UNUSED = 1\n\n\nclass Fresh:\n    k = 1\n"),
    ("unrelated-class-added-other-module", MODEL, "        return x * self.factor\n",
     "        return x * self.factor\n\n\nclass Unused:\n    def f(self):\n        return 1\n"),
    ("unrelated-constant-added", MAIN, "UNUSED = 1\n", "UNUSED = 1\nALSO_UNUSED = [1, 2, 3]\n"),
    ("unrelated-constant-edited-same-module", MAIN, "UNUSED = 1\n", "UNUSED = 2\n"),
    ("unrelated-constant-edited-other-module", UTIL, "UNUSED_CONST = 3\n", "UNUSED_CONST = 4\n"),
    ("unused-import-added-stdlib", MAIN, "import dds\n", "import json\nimport dds\n"),
    ("unused-import-added-user-module", MAIN, "from pipe.util import helper\n",
     "from pipe.util import helper, unrelated\n"),
    ("unused-import-added-in-helper-module", UTIL, "def helper(x):\n", "import collections\n\n\ndef helper(x):\n"),
    ("keep-kwargs-order-swapped", MAIN, "x=5, y=2", "y=2, x=5"),
]


@pytest.mark.parametrize(
    "rel, old, new", [pytest.param(rel, old, new, id=name) for name, rel, old, new in NOOP_EDITS]
)
def test_noop_edit(tmp_path, rel, old, new):
    check_edit(tmp_path, FILES, (rel, old, new), reran=set())


def test_parameter_renamed_in_every_use(tmp_path):
    """``def a(n)`` -> ``def a(count)`` with every use renamed: ``keep`` passes it positionally, so the
    call is the same call and nothing may re-run."""
    renamed = A_BODY.replace("range(n)", "range(count)")
    check_edit(tmp_path, FILES, [(MAIN, "def a(n):\n", "def a(count):\n"), (MAIN, A_BODY, renamed)], reran=set())


def test_several_noop_edits_at_once(tmp_path):
    check_edit(
        tmp_path,
        FILES,
        [
            (MAIN, "# the main computation", "# reworded"),
            (MAIN, '    """Compute a."""\n', ""),
            (UTIL, "return x + 1", "return x + 3"),
            (MODEL, '"""A model."""', "'''Still a model.'''"),
            (MAIN, "import dds\n", "import os\nimport dds\n"),
        ],
        reran=set(),
    )


def test_touch_without_change_reruns_nothing(tmp_path):
    """A file saved again unchanged (new mtime, same bytes) changes nothing."""
    h = RerunHarness(tmp_path, FILES)
    assert h.run().ran == {"a", "b", "c"}
    for rel in (MAIN, UTIL, MODEL):
        h.write(rel, h.read(rel))
    r = h.run()
    assert r.ran == set(), f"NEEDLESS RECOMPUTE after touching files: {sorted(r.ran)}"
    h.assert_matches_uncached(r)


def test_repeated_reruns_run_nothing(tmp_path):
    h = RerunHarness(tmp_path, FILES)
    first = h.run()
    assert first.ran == {"a", "b", "c"}
    for _ in range(3):
        again = h.run()
        assert again.ran == set(), f"NEEDLESS RECOMPUTE with no edit: {sorted(again.ran)}\n{h._context()}"
        assert again.canon == first.canon


SHADOW = {
    "pipe/util.py": "LIMIT = 5\n",
    MAIN: """
        import dds
        from pipe import util
        from pipe._trace import trace

        X = 1
        LIMIT = 100
        key = "module-level"


        def a():
            trace("a")
            X = 10
            return X + 1


        def b():
            trace("b")
            return [util.LIMIT, dict(key=3)]


        def c():
            trace("c")
            return [X for X in range(3)]


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param("X = 1\n", "X = 2\n", id="global-shadowed-by-local-and-comprehension-variable"),
        pytest.param("LIMIT = 100\n", "LIMIT = 200\n", id="global-with-the-name-of-an-attribute-read"),
        pytest.param('key = "module-level"', 'key = "edited"', id="global-with-the-name-of-a-keyword-argument"),
    ],
)
def test_names_that_are_not_free_variables(tmp_path, old, new):
    """A global whose name only appears as a local, an attribute or a keyword is not read by the body."""
    check_edit(tmp_path, SHADOW, (MAIN, old, new), reran=set())


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param("GREETING = 'hello'", "GREETING = 'h\\x65llo'", id="string-escape-spelling"),
        pytest.param("GREETING = 'hello'", "GREETING = 'hel' 'lo'", id="implicit-string-concatenation"),
        pytest.param("GREETING = 'hello'", "GREETING = '''hello'''", id="triple-quoted-string"),
    ],
)
def test_same_constant_value_spelled_differently(tmp_path, old, new):
    check_edit(tmp_path, FILES, (MAIN, old, new), reran=set())


def test_line_endings_changed_to_crlf(tmp_path):
    """Same code saved with Windows line endings."""
    h = RerunHarness(tmp_path, FILES)
    first = h.run()
    assert first.ran == {"a", "b", "c"}
    for rel in (MAIN, UTIL):
        h.path(rel).write_bytes(h.path(rel).read_bytes().replace(b"\n", b"\r\n"))
        h._set_mtime(h.path(rel), None)
        h.history.append(f"{rel}: line endings -> CRLF")
    again = h.run()
    assert again.ran == set(), f"NEEDLESS RECOMPUTE after CRLF conversion: {sorted(again.ran)}\n{h._context()}"
    assert again.canon == first.canon
    h.assert_matches_uncached(again)
