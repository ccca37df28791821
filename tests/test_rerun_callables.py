"""Edit-and-rerun: callables held in every shape a pipeline uses them — nested defs, lambdas, closures,
``functools.partial``, dispatch tables, decorated helpers, recursion — are hashed by their parts.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
OPS = "pipe/ops.py"
DECO = "pipe/deco.py"


def _pipeline(a_body: str, b_body: str = "return 0", header: str = "") -> str:
    """main.py with two data functions; ``header`` goes between the imports and the functions."""
    return (
        "import dds\nfrom pipe._trace import trace\n"
        + header
        + "\n\ndef a():\n    trace(\"a\")\n    "
        + a_body.replace("\n", "\n    ")
        + "\n\n\ndef b():\n    trace(\"b\")\n    "
        + b_body.replace("\n", "\n    ")
        + "\n\n\ndef run():\n    return [dds.keep(\"/a\", a), dds.keep(\"/b\", b)]\n"
    )


def test_nested_def_inside_the_function(tmp_path):
    a_body = "def inner(v):\n    return v * 2\n\nreturn [inner(i) for i in range(3)]"
    files = {MAIN: _pipeline(a_body)}
    check_edit(tmp_path, files, (MAIN, "return v * 2", "return v * 3"), reran={"a"})


def test_module_level_lambda(tmp_path):
    files = {MAIN: _pipeline("return SCALE(5)", "return KEEP(5)",
                             header="\nSCALE = lambda x: x * 2\nKEEP = lambda x: x\n")}
    check_edit(tmp_path, files, (MAIN, "lambda x: x * 2", "lambda x: x * 3"), reran={"a"})


def test_lambda_as_default_argument(tmp_path):
    src = _pipeline("return f(1)").replace("def a():", "def a(f=lambda v: v + 1):")
    files = {MAIN: src}
    check_edit(tmp_path, files, (MAIN, "lambda v: v + 1", "lambda v: v + 2"), reran={"a"})


CLOSURES = {
    OPS: """
        def make_scaler(k):
            def scale(x):
                return x * k

            return scale


        def make_adder(k):
            def add(x):
                return x + k

            return add
    """,
    MAIN: """
        import dds
        from pipe.ops import make_adder, make_scaler
        from pipe._trace import trace

        times = make_scaler(2)
        plus = make_adder(2)


        def a():
            trace("a")
            return times(5)


        def b():
            trace("b")
            return plus(5)


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b)]
    """,
}


def test_closure_cell_value(tmp_path):
    check_edit(tmp_path, CLOSURES, (MAIN, "make_scaler(2)", "make_scaler(3)"), reran={"a"})


def test_closure_factory_inner_code(tmp_path):
    check_edit(tmp_path, CLOSURES, (OPS, "return x * k", "return x * k + 1"), reran={"a"})


def test_closure_factory_outer_code(tmp_path):
    """The factory transforms the cell value before the inner function closes over it."""
    files = dict(CLOSURES)
    files[OPS] = CLOSURES[OPS].replace(
        "def make_scaler(k):\n", "def make_scaler(k):\n            k = k + 0\n"
    )
    check_edit(tmp_path, files, (OPS, "k = k + 0", "k = k + 10"), reran={"a"})


PARTIALS = {
    OPS: """
        def power(base, exp, offset=0):
            return base ** exp + offset


        def plain(x):
            return x
    """,
    MAIN: """
        import dds
        from functools import partial

        from pipe.ops import plain, power
        from pipe._trace import trace

        square_plus = partial(power, 3, offset=1)
        ident = partial(plain, 9)


        def a():
            trace("a")
            return square_plus(2)


        def b():
            trace("b")
            return ident()


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b)]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new",
    [
        pytest.param(OPS, "return base ** exp + offset", "return base ** exp - offset", id="wrapped-body"),
        pytest.param(MAIN, "partial(power, 3, offset=1)", "partial(power, 4, offset=1)", id="positional-arg"),
        pytest.param(MAIN, "partial(power, 3, offset=1)", "partial(power, 3, offset=2)", id="keyword-arg"),
    ],
)
def test_functools_partial(tmp_path, rel, old, new):
    check_edit(tmp_path, PARTIALS, (rel, old, new), reran={"a"})


DISPATCH = {
    OPS: """
        def add(x, y):
            return x + y


        def mul(x, y):
            return x * y


        def inc(x):
            return x + 1


        def dbl(x):
            return x * 2


        def neg(x):
            return -x


        TABLE = {"add": add, "mul": mul}
        STEPS = [inc, dbl]
        OTHER_STEPS = (neg,)
    """,
    MAIN: """
        import dds
        from pipe import ops
        from pipe._trace import trace


        def a():
            trace("a")
            return ops.TABLE["mul"](3, 4)


        def b():
            trace("b")
            v = 1
            for step in ops.STEPS:
                v = step(v)
            return v


        def c():
            trace("c")
            return [f(5) for f in ops.OTHER_STEPS]


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


def test_function_in_a_dispatch_dict(tmp_path):
    check_edit(tmp_path, DISPATCH, (OPS, "return x * y", "return x * y + 1"), reran={"a"})


def test_function_in_a_list(tmp_path):
    check_edit(tmp_path, DISPATCH, (OPS, "return x * 2", "return x * 4"), reran={"b"})


def test_function_added_to_a_list(tmp_path):
    check_edit(tmp_path, DISPATCH, (OPS, "STEPS = [inc, dbl]", "STEPS = [inc, dbl, inc]"), reran={"b"})


DECORATED = {
    DECO: """
        import functools


        def logged(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs) + 1000

            return wrapper


        def bare(fn):  # no functools.wraps: only the closure cell holds fn
            def wrapper(*args):
                return [fn(*args)]

            return wrapper
    """,
    OPS: """
        from pipe.deco import bare, logged


        @logged
        def work(x):
            return x * 2


        @bare
        def bare_work(x):
            return x * 3


        def plain(x):
            return x
    """,
    MAIN: """
        import dds
        from pipe.ops import bare_work, plain, work
        from pipe._trace import trace


        def a():
            trace("a")
            return work(5)


        def b():
            trace("b")
            return plain(5)


        def c():
            trace("c")
            return bare_work(5)


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(DECO, "+ 1000", "+ 2000", {"a"}, id="wraps-decorator-wrapper-code"),
        pytest.param(OPS, "return x * 2", "return x * 4", {"a"}, id="wraps-decorated-function-body"),
        pytest.param(DECO, "return [fn(*args)]", "return (fn(*args),)", {"c"}, id="bare-decorator-wrapper-code"),
        pytest.param(OPS, "return x * 3", "return x * 5", {"c"}, id="bare-decorated-function-body"),
    ],
)
def test_decorated_helper(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, DECORATED, (rel, old, new), reran=reran)


RECURSION = {
    OPS: """
        def fact(n):
            return 1 if n <= 1 else n * fact(n - 1)


        def is_even(n):
            return True if n == 0 else is_odd(n - 1)


        def is_odd(n):
            return False if n == 0 else is_even(n - 1)


        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)
    """,
    MAIN: """
        import dds
        from pipe.ops import fact, fib, is_even
        from pipe._trace import trace


        def a():
            trace("a")
            return fact(5)


        def b():
            trace("b")
            return [is_even(n) for n in range(5)]


        def c():
            trace("c")
            return fib(10)


        def run():
            return [dds.keep("/a", a), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param("return 1 if n <= 1 else n * fact(n - 1)", "return 2 if n <= 1 else n * fact(n - 1)", {"a"},
                     id="self-recursive-body"),
        pytest.param("return False if n == 0 else is_even(n - 1)", "return True if n == 0 else is_even(n - 1)",
                     {"b"}, id="mutual-recursion-edit-callee"),
        pytest.param("return True if n == 0 else is_odd(n - 1)", "return 1 if n == 0 else is_odd(n - 1)",
                     {"b"}, id="mutual-recursion-edit-entry-function"),
    ],
)
def test_recursion(tmp_path, old, new, reran):
    check_edit(tmp_path, RECURSION, (OPS, old, new), reran=reran)


HIGHER_ORDER = {
    OPS: """
        import functools


        def apply(f, x):
            return f(x)


        def triple(x):
            return x * 3


        @functools.lru_cache(maxsize=None)
        def cached_square(x):
            return x * x


        def plain(x):
            return x
    """,
    MAIN: """
        import dds
        from pipe._trace import trace
        from pipe.ops import apply, cached_square, plain, triple


        def a(f, x):
            trace("a")
            return apply(f, x)


        def b():
            trace("b")
            return cached_square(7)


        def c():
            trace("c")
            return plain(1)


        def run():
            return [dds.keep("/a", a, triple, 2), dds.keep("/b", b), dds.keep("/c", c)]
    """,
}


def test_function_passed_as_a_keep_argument(tmp_path):
    """``keep("/a", a, triple, 2)``: the argument is a user function; its code is part of the call."""
    check_edit(tmp_path, HIGHER_ORDER, (OPS, "return x * 3", "return x * 4"), reran={"a"})


def test_lru_cache_decorated_helper(tmp_path):
    check_edit(tmp_path, HIGHER_ORDER, (OPS, "return x * x", "return x * x + 1"), reran={"b"})


def test_lambdas_on_one_line(tmp_path):
    """Two lambdas on the same line: editing one re-runs only the data function that uses it."""
    files = {MAIN: _pipeline("return F(5)", "return G(5)", header="\nF, G = (lambda x: x + 1), (lambda x: x * 2)\n")}
    check_edit(tmp_path, files, (MAIN, "lambda x: x * 2", "lambda x: x * 3"), reran={"b"})


def test_decorator_argument(tmp_path):
    """``@scaled(10)`` -> ``@scaled(20)``: the decorator's argument lives in the wrapper's closure."""
    files = {
        DECO: """
            import functools


            def scaled(k):
                def deco(fn):
                    @functools.wraps(fn)
                    def wrapper(x):
                        return fn(x) * k

                    return wrapper

                return deco
        """,
        OPS: """
            from pipe.deco import scaled


            @scaled(10)
            def work(x):
                return x + 1


            @scaled(10)
            def other(x):
                return x - 1
        """,
        MAIN: _pipeline("return work(1)", "return other(1)", header="from pipe.ops import other, work\n"),
    }
    check_edit(tmp_path, files, (OPS, "@scaled(10)\ndef work", "@scaled(20)\ndef work"), reran={"a"})


def test_helper_as_default_argument_value(tmp_path):
    files = {
        OPS: "def helper(x):\n    return x * 2\n",
        MAIN: _pipeline("return f(5)", header="from pipe.ops import helper\n").replace("def a():", "def a(f=helper):"),
    }
    check_edit(tmp_path, files, (OPS, "return x * 2", "return x * 7"), reran={"a"})
