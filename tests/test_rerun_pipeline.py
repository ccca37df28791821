"""Edit-and-rerun across data functions: arguments of ``keep`` calls, upstream keeps called inside a data
function, values passed from stage to stage, and ``@data_function`` decorated functions.

An upstream change re-runs upstream and everything downstream of it; a downstream-only change re-runs
only downstream; nothing else re-runs.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness, check_edit
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness, check_edit

pytestmark = pytest.mark.rerun

MAIN = "pipe/main.py"
STAGES = "pipe/stages.py"

ARGS = {
    MAIN: """
        import dds
        from pipe._trace import trace


        def a(n, scale=1, *, shift=0):
            trace("a")
            return n * scale + shift


        def b(n):
            trace("b")
            return -n


        def run():
            return [dds.keep("/a", a, 3, scale=2), dds.keep("/b", b, 3)]
    """,
}


@pytest.mark.parametrize(
    "old, new",
    [
        pytest.param('dds.keep("/a", a, 3, scale=2)', 'dds.keep("/a", a, 4, scale=2)', id="positional-arg"),
        pytest.param('dds.keep("/a", a, 3, scale=2)', 'dds.keep("/a", a, 3, scale=5)', id="keyword-arg"),
        pytest.param('dds.keep("/a", a, 3, scale=2)', 'dds.keep("/a", a, 3, scale=2, shift=1)', id="keyword-added"),
        pytest.param('dds.keep("/a", a, 3, scale=2)', 'dds.keep("/a", a, 3.0, scale=2)', id="arg-int-to-float"),
    ],
)
def test_keep_call_arguments(tmp_path, old, new):
    check_edit(tmp_path, ARGS, (MAIN, old, new), reran={"a"})


def test_keep_call_path_change_reruns(tmp_path):
    """The path is part of the signature: a value kept at a new path is computed for that path."""
    check_edit(tmp_path, ARGS, (MAIN, 'dds.keep("/b", b, 3)', 'dds.keep("/b2", b, 3)'), reran={"b"},
               value_changes=False)


UPSTREAM = {
    STAGES: """
        import dds
        from pipe._trace import trace


        def clean(x):
            return x * 2


        def up():
            trace("up")
            return [clean(i) for i in range(4)]


        def down():
            trace("down")
            raw = dds.keep("/up", up)
            return sum(raw) + 1


        def other():
            trace("other")
            return "independent"
    """,
    MAIN: """
        import dds
        from pipe.stages import down, other


        def run():
            return [dds.keep("/down", down), dds.keep("/other", other)]
    """,
}


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param("return [clean(i) for i in range(4)]", "return [clean(i) for i in range(5)]",
                     {"up", "down"}, id="upstream-body"),
        pytest.param("return x * 2", "return x * 3", {"up", "down"}, id="upstream-helper"),
        pytest.param("return sum(raw) + 1", "return sum(raw) + 2", {"down"}, id="downstream-only"),
        pytest.param('return "independent"', 'return "independent!"', {"other"}, id="independent-only"),
    ],
)
def test_upstream_keep_inside_a_data_function(tmp_path, old, new, reran):
    check_edit(tmp_path, UPSTREAM, (STAGES, old, new), reran=reran)


TWO_STAGE = {
    STAGES: """
        from pipe._trace import trace


        def stage1(n):
            trace("stage1")
            return list(range(n))


        def stage2(xs):
            trace("stage2")
            return [x * 10 for x in xs]


        def side():
            trace("side")
            return "side"
    """,
    MAIN: """
        import dds
        from pipe.stages import side, stage1, stage2


        def run():
            xs = dds.keep("/stage1", stage1, 3)
            ys = dds.keep("/stage2", stage2, xs)
            return [ys, dds.keep("/side", side)]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(STAGES, "return list(range(n))", "return list(range(1, n + 1))", {"stage1", "stage2"},
                     id="stage1-body"),
        pytest.param(MAIN, 'dds.keep("/stage1", stage1, 3)', 'dds.keep("/stage1", stage1, 4)', {"stage1", "stage2"},
                     id="stage1-argument"),
        pytest.param(STAGES, "return [x * 10 for x in xs]", "return [x * 20 for x in xs]", {"stage2"},
                     id="stage2-body"),
    ],
)
def test_two_stage_value_passed_as_argument(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, TWO_STAGE, (rel, old, new), reran=reran)


DIAMOND = {
    STAGES: """
        import dds
        from pipe._trace import trace


        def source():
            trace("source")
            return 10


        def left():
            trace("left")
            return dds.keep("/source", source) + 1


        def right():
            trace("right")
            return dds.keep("/source", source) * 2


        def sink():
            trace("sink")
            return [dds.keep("/left", left), dds.keep("/right", right)]


        def lonely():
            trace("lonely")
            return 0
    """,
    MAIN: """
        import dds
        from pipe.stages import lonely, sink


        def run():
            return [dds.keep("/sink", sink), dds.keep("/lonely", lonely)]
    """,
}


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param("return 10", "return 11", {"source", "left", "right", "sink"}, id="source"),
        pytest.param("+ 1", "+ 2", {"left", "sink"}, id="left-branch"),
        pytest.param("* 2", "* 3", {"right", "sink"}, id="right-branch"),
        pytest.param("return [dds.keep", "return [0, dds.keep", {"sink"}, id="sink"),
    ],
)
def test_diamond(tmp_path, old, new, reran):
    check_edit(tmp_path, DIAMOND, (STAGES, old, new), reran=reran)


DECORATED = {
    STAGES: """
        import dds
        from pipe._trace import trace


        @dds.data_function("/base")
        def base():
            trace("base")
            return [1, 2, 3]


        @dds.data_function("/total")
        def total():
            trace("total")
            return sum(base())


        @dds.dds_function("/alias")
        def alias():
            trace("alias")
            return "alias"


        @dds.data_function("/param")
        def param(n):
            trace("param")
            return n * 100
    """,
    MAIN: """
        from pipe.stages import alias, param, total


        def run():
            return [total(), alias(), param(2)]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(STAGES, "return [1, 2, 3]", "return [1, 2, 4]", {"base", "total"},
                     id="upstream-data-function"),
        pytest.param(STAGES, "return sum(base())", "return sum(base()) + 1", {"total"},
                     id="downstream-data-function"),
        pytest.param(STAGES, 'return "alias"', 'return "alias!"', {"alias"}, id="dds_function-alias"),
        pytest.param(STAGES, "return n * 100", "return n * 1000", {"param"}, id="data-function-with-arg-body"),
        pytest.param(MAIN, "param(2)", "param(3)", {"param"}, id="data-function-call-argument"),
    ],
)
def test_data_function_decorator(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, DECORATED, (rel, old, new), reran=reran)


def test_three_stage_chain_edit_in_the_middle(tmp_path):
    files = {
        STAGES: """
            import dds
            from pipe._trace import trace


            def s1():
                trace("s1")
                return 1


            def s2():
                trace("s2")
                return dds.keep("/s1", s1) + 10


            def s3():
                trace("s3")
                return dds.keep("/s2", s2) * 100
        """,
        MAIN: """
            import dds
            from pipe.stages import s3


            def run():
                return dds.keep("/s3", s3)
        """,
    }
    check_edit(tmp_path, files, (STAGES, "+ 10", "+ 20"), reran={"s2", "s3"})


def test_revert_finds_the_earlier_value(tmp_path):
    """Content-addressed store: after an edit and its revert, the first signature is back, so nothing
    re-runs and the value is the first one again."""
    h = RerunHarness(tmp_path, UPSTREAM)
    first = h.run()
    assert first.ran == {"up", "down", "other"}
    h.edit(STAGES, "return x * 2", "return x * 3")
    edited = h.run()
    assert edited.ran == {"up", "down"}, h._context()
    assert edited.canon != first.canon
    h.edit(STAGES, "return x * 3", "return x * 2")
    reverted = h.run()
    assert reverted.ran == set(), f"NEEDLESS RECOMPUTE after reverting the edit\n{h._context()}"
    assert reverted.canon == first.canon, f"STALE VALUE after revert: {reverted.canon} != {first.canon}"
    h.assert_matches_uncached(reverted)


def test_successive_edits_upstream_then_downstream(tmp_path):
    h = RerunHarness(tmp_path, UPSTREAM)
    assert h.run().ran == {"up", "down", "other"}
    h.edit(STAGES, "range(4)", "range(6)")
    r = h.run()
    assert r.ran == {"up", "down"}, h._context()
    h.assert_matches_uncached(r)
    h.edit(STAGES, "sum(raw) + 1", "sum(raw) - 1")
    r = h.run()
    assert r.ran == {"down"}, h._context()
    h.assert_matches_uncached(r)
    h.edit(STAGES, '"independent"', '"alone"')
    r = h.run()
    assert r.ran == {"other"}, h._context()
    h.assert_matches_uncached(r)
    assert h.run().ran == set(), h._context()


NESTED_KEEPS = {
    STAGES: """
        import dds
        from pipe._trace import trace

        N = 3


        def up(n):
            trace("up")
            return list(range(n))


        def fetch():
            return dds.keep("/up", up, N)


        def down():
            trace("down")
            return [x + 1 for x in fetch()]


        def other():
            trace("other")
            return "other"
    """,
    MAIN: """
        import dds
        from pipe.stages import down, other


        def make_args():
            return {"k": 2}


        def side(k):
            from pipe._trace import trace

            trace("side")
            return k * 7


        def run():
            return [dds.keep("/down", down), dds.keep("/other", other), dds.keep("/side", side, **make_args())]
    """,
}


@pytest.mark.parametrize(
    "rel, old, new, reran",
    [
        pytest.param(STAGES, "N = 3\n", "N = 4\n", {"up", "down"}, id="upstream-argument-constant"),
        pytest.param(STAGES, "return list(range(n))", "return list(range(n, 0, -1))", {"up", "down"},
                     id="upstream-reached-through-a-helper-that-keeps"),
        pytest.param(MAIN, 'return {"k": 2}', 'return {"k": 5}', {"side"}, id="argument-computed-by-run-code"),
        pytest.param(MAIN, 'return {"k": 2}', 'return dict(k=2)', set(), id="argument-code-edit-same-value"),
    ],
)
def test_keeps_reached_indirectly(tmp_path, rel, old, new, reran):
    check_edit(tmp_path, NESTED_KEEPS, (rel, old, new), reran=reran)


VALUES = {
    MAIN: """
        import dds
        import numpy as np
        from pipe._trace import trace


        def none_value():
            trace("none_value")
            return None


        def text():
            trace("text")
            return "some text\\n"


        def raw():
            trace("raw")
            return b"\\x00\\x01bytes"


        def array():
            trace("array")
            return np.arange(6, dtype="int32").reshape(2, 3)


        def run():
            arr = dds.keep("/array", array)
            return [
                dds.keep("/none", none_value),
                dds.keep("/text", text),
                dds.keep("/raw", raw),
                [str(arr.dtype), arr.tolist()],
            ]
    """,
}


@pytest.mark.parametrize(
    "old, new, reran",
    [
        pytest.param('return "some text', 'return "other text', {"text"}, id="str-value"),
        pytest.param('bytes"', 'BYTES"', {"raw"}, id="bytes-value"),
        pytest.param('dtype="int32"', 'dtype="int64"', {"array"}, id="numpy-dtype"),
        pytest.param("reshape(2, 3)", "reshape(3, 2)", {"array"}, id="numpy-shape"),
    ],
)
def test_values_of_every_codec(tmp_path, old, new, reran):
    """Values stored by different codecs (None, str, bytes, numpy) are loaded back, not recomputed."""
    check_edit(tmp_path, VALUES, (MAIN, old, new), reran=reran)


LOADS = {
    MAIN: """
        import dds
        from dds import load
        from pipe._trace import trace

        FACTOR = 2


        def up():
            trace("up")
            return [i * FACTOR for i in range(4)]


        def via_module_attribute():
            trace("via_module_attribute")
            return sum(dds.load("/up"))


        def via_imported_name():
            trace("via_imported_name")
            return max(load("/up"))


        def other():
            trace("other")
            return "unrelated"


        def run():
            dds.keep("/up", up)
            return [dds.keep("/s", via_module_attribute), dds.keep("/m", via_imported_name),
                    dds.keep("/o", other)]
    """,
}


def test_upstream_read_with_load_reruns_its_readers(tmp_path):
    """A function that reads ``dds.load("/up")`` depends on what /up holds, however load was imported."""
    check_edit(tmp_path, LOADS, (MAIN, "FACTOR = 2", "FACTOR = 3"),
               reran={"up", "via_module_attribute", "via_imported_name"})


def test_reader_edit_does_not_rerun_the_loaded_upstream(tmp_path):
    check_edit(tmp_path, LOADS, (MAIN, "return sum(dds.load(", "return 1 + sum(dds.load("),
               reran={"via_module_attribute"})


KEEP_THEN_LOAD = {
    MAIN: """
        import dds
        from pipe._trace import trace

        BASE = 3


        def raw():
            trace("raw")
            return list(range(BASE))


        @dds.data_function("/model")
        def model():
            trace("model")
            dds.keep("/raw", raw)
            return sum(dds.load("/raw"))


        def run():
            return model()
    """,
}


def test_loading_a_path_the_function_keeps_itself_is_stable_from_the_second_run(tmp_path):
    """The load of /raw right after keeping it depends on raw's code (in the signature), not on what the
    store held before the first run: no needless recompute on run 2, and an upstream edit re-runs both."""
    check_edit(tmp_path, KEEP_THEN_LOAD, (MAIN, "BASE = 3", "BASE = 4"), reran={"raw", "model"})
