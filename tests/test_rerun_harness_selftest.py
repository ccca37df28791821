"""Self-tests of the edit-and-rerun harness, so that it can never pass silently.

These run without dds (``use_dds=False``): small fake caches written in the user package show that the
harness's protocol catches a stale cache, a needless recompute and a stale value, and lets a correct
cache pass.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness, check_edit, traced_names
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness, check_edit, traced_names

pytestmark = pytest.mark.rerun

PLAIN = {
    "pipe/main.py": """
        from pipe._trace import trace


        def a():
            trace("a")
            return 1


        def b():
            trace("b")
            return 2


        def run():
            return {"a": a(), "b": b(), "again": a()}
    """,
}


def test_edit_refuses_absent_substring(tmp_path):
    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    with pytest.raises(AssertionError, match="occurs 0 times"):
        h.edit("pipe/main.py", "return 3", "return 4")
    assert "return 1" in h.read("pipe/main.py")


def test_edit_refuses_ambiguous_substring(tmp_path):
    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    with pytest.raises(AssertionError, match="occurs 2 times"):
        h.edit("pipe/main.py", "    trace(", "    trace( ")


def test_edit_refuses_identity_edit(tmp_path):
    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    with pytest.raises(AssertionError, match="same text"):
        h.edit("pipe/main.py", "return 1", "return 1")


def test_function_without_trace_shows_empty_ran(tmp_path):
    h = RerunHarness(
        tmp_path,
        {"pipe/main.py": "def run():\n    return [1, 2.0, 'x']\n"},
        use_dds=False,
    )
    r = h.run()
    assert r.ran == set()
    assert r.calls == []
    assert r.value == [1, 2.0, "x"]


def test_calls_are_recorded_in_order_with_repeats(tmp_path):
    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    r = h.run()
    assert r.calls == ["a", "b", "a"]
    assert r.ran == {"a", "b"}
    assert r.value == {"a": 1, "b": 2, "again": 1}
    assert h.traced_names() == {"a", "b"}


def test_canon_is_type_exact_and_hash_seed_independent(tmp_path):
    src = """
        def run():
            return [1, 1.0, True, None, (1,), {"s", "t", "u"}, frozenset({"x"}), {"k": b"v"}, 2**70]
    """
    h = RerunHarness(tmp_path, {"pipe/main.py": src}, use_dds=False)
    r1, r2 = h.run(seed=1), h.run(seed=2)
    assert r1.canon == r2.canon
    assert "int:1" in r1.canon and "float:1.0" in r1.canon and "bool:True" in r1.canon
    assert "set{str:'s', str:'t', str:'u'}" in r1.canon


def test_each_run_gets_a_different_hash_seed(tmp_path):
    src = "import os\n\ndef run():\n    return os.environ['PYTHONHASHSEED']\n"
    h = RerunHarness(tmp_path, {"pipe/main.py": src}, use_dds=False)
    assert h.run().value != h.run().value


def test_same_size_edit_in_the_same_second_is_seen(tmp_path):
    """No stale byte code: a same-size edit made right after a run is what the next run executes."""
    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    assert h.run().value["a"] == 1
    h.edit("pipe/main.py", "return 1", "return 7")
    assert h.run().value["a"] == 7


def test_mtimes_are_in_the_past_and_move_forward(tmp_path):
    import time

    h = RerunHarness(tmp_path, PLAIN, use_dds=False)
    before = h.path("pipe/main.py").stat().st_mtime_ns
    assert before < time.time_ns() - 2_000_000_000
    h.edit("pipe/main.py", "return 1", "return 7")
    after = h.path("pipe/main.py").stat().st_mtime_ns
    assert before < after < time.time_ns() - 2_000_000_000
    fresh = RerunHarness(tmp_path / "fresh", PLAIN, use_dds=False, just_saved=True)
    assert fresh.path("pipe/main.py").stat().st_mtime_ns > time.time_ns() - 2_000_000_000


def test_stale_bytecode_scenario_really_runs_old_code(tmp_path):
    """The timeline of test_rerun_timing's bytecode case does make Python run the first version."""
    import importlib.util
    import time

    h = RerunHarness(tmp_path, PLAIN, use_dds=False, bytecode=True)
    second = (time.time_ns() // 10**9 - 100) * 10**9
    h.set_mtime_ns("pipe/main.py", second + 100_000_000)
    assert h.run().value["a"] == 1
    pyc = importlib.util.cache_from_source(str(h.path("pipe/main.py")))
    h.set_mtime_ns(pyc, second + 200_000_000)
    h.edit("pipe/main.py", "return 1", "return 7")  # same size
    h.set_mtime_ns("pipe/main.py", second + 500_000_000)
    assert h.run().value["a"] == 1  # stale bytecode: the edit is not what runs


def test_subprocess_failure_shows_stderr(tmp_path):
    src = "def run():\n    raise RuntimeError('boom from user code')\n"
    h = RerunHarness(tmp_path, {"pipe/main.py": src}, use_dds=False)
    with pytest.raises(AssertionError, match="boom from user code"):
        h.run()


def test_traced_names_scans_literals():
    assert traced_names(['trace("a")\ntrace( \'b\' )', "x = 1"]) == {"a", "b"}


# A fake "keep" in the user package, keyed by a policy the test chooses, stands in for dds.
FAKE_CACHE = """
    import inspect
    import json
    import os

    from pipe._trace import trace

    POLICY = "{policy}"
    STORE = os.environ["DDS_DIR"]


    def keep(path, fn):
        if POLICY == "path":  # stale: ignores code
            key = path
        elif POLICY == "file":  # needless: any edit of the file re-runs everything
            key = path + open(__file__).read()
        else:  # "source" (correct here) or "stale-value" (re-runs, but returns the old value)
            key = path + inspect.getsource(fn)
        os.makedirs(STORE, exist_ok=True)
        db = os.path.join(STORE, "db.json")
        cache = json.load(open(db)) if os.path.exists(db) else {{}}
        if key not in cache:
            value = fn()
            if POLICY == "stale-value" and path in cache.get("last", {{}}):
                value = cache["last"][path]
            cache[key] = value
            cache.setdefault("last", {{}})[path] = value
            json.dump(cache, open(db, "w"))
        return cache[key]


    def a():
        trace("a")
        return 1


    def b():
        trace("b")
        return 2


    def run():
        return [keep("/a", a), keep("/b", b)]
"""

EDIT_A = ("pipe/main.py", "return 1", "return 10")


def _fake(policy):
    return {"pipe/main.py": FAKE_CACHE.format(policy=policy)}


def test_protocol_passes_a_correct_cache(tmp_path):
    check_edit(tmp_path, _fake("source"), EDIT_A, reran={"a"}, use_dds=False)


def test_protocol_catches_a_stale_cache(tmp_path):
    with pytest.raises(AssertionError, match=r"STALE: \['a'\] should have re-run"):
        check_edit(tmp_path, _fake("path"), EDIT_A, reran={"a"}, use_dds=False)


def test_protocol_catches_a_needless_recompute(tmp_path):
    with pytest.raises(AssertionError, match=r"NEEDLESS RECOMPUTE: \['b'\]"):
        check_edit(tmp_path, _fake("file"), EDIT_A, reran={"a"}, use_dds=False)


def test_protocol_catches_a_stale_value(tmp_path):
    with pytest.raises(AssertionError, match="STALE VALUE"):
        check_edit(tmp_path, _fake("stale-value"), EDIT_A, reran={"a"}, use_dds=False)


def test_protocol_catches_a_vacuous_edit(tmp_path):
    """A must-rerun case whose edit does not change the value could not show staleness."""
    edit = ("pipe/main.py", "return 1", "return (1)  # same value, different text")
    with pytest.raises(AssertionError, match="test design"):
        check_edit(tmp_path, _fake("source"), edit, reran={"a"}, use_dds=False)
