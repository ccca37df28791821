"""dds_py drop-in: what a dds_py pipeline does must work, or be refused with a reason, never silently differ.

* ``pathlib`` store paths wherever a path is accepted (keep, data_function, load, why, eval's plan);
* ``dds.structures``: ``DDSException`` (= ``DDSError``) and ``DDSErrorCode``, codes on the errors;
* the user's own exception propagates as itself with one PEP 678 note (nested keeps: still one note);
* overlapping paths (``/f`` and ``/f/g``) refused before the function runs (keep) or anything runs (eval);
* ``set_store``'s ``cache_objects``, ``commit_type``, ``dbutils`` and Store objects; dds_py's stage names.

The last tests run a dds_py-style script in fresh processes and edit it (tests/rerun_harness.py).
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import sys

import pytest

import dds
from dds.step import value_memo
from dds.errors import (ArgumentError, DataFunctionError, DDSError, NotFoundError, OverlappingPathError,
                        PathError, StoreError, UnhashableValueError)
from dds.structures import DDSErrorCode, DDSException, DDSPath

from _tracking import CALLS, record

try:
    from .rerun_harness import RerunHarness
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness

dds.reject_module("_tracking")


@pytest.fixture(autouse=True)
def store(tmp_path):
    previous = dds.session._store
    CALLS.clear()
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data"))
    yield store
    value_memo.bound(None)
    dds.session._store = previous


def one():
    record("one")
    return 1


def two():
    record("two")
    return 2


def plus(x, y):
    record("plus")
    return x + y


def lookup(table, key):
    record("lookup")
    return table[key]


# ------------------------------------------------------------------------------------------ pathlib paths
def test_pathlib_paths_are_the_same_store_paths_as_their_text(tmp_path):
    assert dds.keep(pathlib.PurePosixPath("/p/one"), one) == 1
    assert dds.keep("/p/one", one) == 1  # the same path, the same signature: loaded
    assert dds.keep(pathlib.Path("/p/one"), one) == 1
    assert CALLS == ["one"]
    assert dds.load(pathlib.PurePosixPath("/p/one")) == 1
    assert "/p/one" in dds.why(pathlib.PurePosixPath("/p/one"))
    assert os.path.exists(tmp_path / "data" / "p" / "one")

    @dds.data_function(pathlib.PurePosixPath("/p/two"))
    def kept_two():
        return two()

    assert kept_two() == 2 and kept_two.__dds_keep_path__ == "/p/two" and dds.load("/p/two") == 2


class _Fspath:
    def __init__(self, text):
        self.text = text

    def __fspath__(self):
        return self.text


def test_any_pathlike_is_accepted_and_bad_ones_name_the_fix():
    assert dds.keep(_Fspath("/q"), one) == 1 and dds.load("/q") == 1
    with pytest.raises(PathError, match="relative") as info:
        dds.keep(pathlib.PurePosixPath("rel/x"), one)
    assert info.value.code == DDSErrorCode.PATH_NOT_ABSOLUTE and info.value.error_code == 9
    with pytest.raises(PathError, match="not a str or a pathlib path"):
        dds.keep(_Fspath(b"/bytes"), one)
    with pytest.raises(PathError, match=r"'\.\.'"):
        dds.load(pathlib.PurePosixPath("/a/../b"))
    assert CALLS == ["one"]


def test_eval_plans_a_keep_whose_path_is_a_pathlib_literal():
    def pipeline():
        return dds.keep(pathlib.PurePosixPath("/plan/x"), one) + dds.keep("/plan/y", two)

    plan = dds.eval(pipeline, dds_dont_eval=True)
    assert plan.paths() == ["/plan/x", "/plan/y"] and plan.paths("will run") == ["/plan/x", "/plan/y"]
    assert dds.eval(pipeline) == 3 and CALLS == ["one", "two"]
    assert dds.eval(pipeline, dds_dont_eval=True).paths("fresh") == ["/plan/x", "/plan/y"]


# ------------------------------------------------------------------------------------- dds.structures
def test_ddsexception_is_the_base_of_every_dds_error():
    assert DDSException is DDSError and dds.structures.DDSException is dds.DDSError
    for cls in (PathError, OverlappingPathError, NotFoundError, UnhashableValueError, StoreError, ArgumentError,
                DataFunctionError, dds.CodecError, dds.DamagedDataError, dds.SourceUnavailableError):
        assert issubclass(cls, DDSException) and issubclass(cls, Exception)
    assert DDSErrorCode.OVERLAPPING_PATH == 16 and DDSErrorCode.EVAL_IN_EVAL == 1
    assert dds.DDSErrorCode is DDSErrorCode and DDSPath("/x") == "/x"
    error = DDSException("custom", DDSErrorCode.CIRCULAR_CALL)  # dds_py's (message, error_code) form
    assert str(error) == "custom" and error.error_code is DDSErrorCode.CIRCULAR_CALL and error.code == 2
    assert DDSException("plain").code is None
    with pytest.raises(DDSException) as info:
        dds.load("/nothing/here")
    assert info.value.error_code == DDSErrorCode.STORE_PATH_NOT_FOUND and isinstance(info.value, KeyError)


def test_eval_inside_eval_carries_its_code():
    def inner():
        return dds.keep("/inner", one)

    def outer():
        return dds.eval(inner)

    with pytest.raises(DDSException) as info:
        dds.eval(outer)
    assert info.value.code == DDSErrorCode.EVAL_IN_EVAL


# ------------------------------------------------------------------------------ the user's own exception
def test_the_functions_own_exception_propagates_with_one_note_and_a_log_line(caplog):
    assert dds.keep("/t", lookup, {"a": 1}, "a") == 1
    caplog.set_level(logging.ERROR, logger="dds")
    try:
        dds.keep("/t", lookup, {"a": 1}, "b")
    except KeyError as exc:  # as without dds
        caught = exc
    assert type(caught) is KeyError and caught.args == ("b",) and caught.__cause__ is None
    assert caught.__notes__ == [
        "dds: nothing was stored for /t (test_dropin.lookup raised KeyError); /t still holds its previous value."
    ]
    assert [r.getMessage() for r in caplog.records] == [
        "dds: /t (test_dropin.lookup) raised KeyError: nothing was stored; /t still holds its previous value"
    ]
    assert dds.load("/t") == 1 and CALLS == ["lookup", "lookup"]
    with pytest.raises(KeyError) as info:
        dds.keep("/t2", lookup, {}, "z")
    assert info.value.__notes__[0].endswith("/t2 holds no value yet.")


def outer_step(key):
    record("outer")
    return dds.keep("/nest/inner", lookup, {"a": 1}, key) + 1


def test_nested_keeps_rewrite_one_note_instead_of_stacking(store):
    seen = []
    dds.session.observers.append(lambda path, what, sig: seen.append((path, what)))
    try:
        with pytest.raises(KeyError) as info:
            dds.keep("/nest/outer", outer_step, "b")
    finally:
        dds.session.observers.pop()
    assert info.value.__notes__ == [
        "dds: nothing was stored for /nest/inner (test_dropin.lookup raised KeyError); /nest/inner holds no value "
        "yet. Nor for /nest/outer (test_dropin.outer_step, whose code was running it); /nest/outer holds no "
        "value yet."
    ]
    assert dds.step.failures.stored_nothing_for(info.value) == ["/nest/inner", "/nest/outer"]
    # observers still see each failure: `dds run` and eval attribute failures from these events
    assert seen == [("/nest/outer", "started"), ("/nest/inner", "started"), ("/nest/inner", "failed"),
                    ("/nest/outer", "failed")]
    assert sorted(p for p, _ in store.iter_refs()) == []


class Stubborn(Exception):
    """An exception whose ``__notes__`` is not a list: dds must still re-raise it unchanged."""

    __notes__ = "not a list"


def raises_stubborn():
    raise Stubborn("kept as is")


def test_an_exception_that_refuses_notes_still_propagates_unchanged():
    with pytest.raises(Stubborn, match="kept as is") as info:
        dds.keep("/stubborn", raises_stubborn)
    assert info.value.__notes__ == "not a list"


def test_baseexceptions_get_no_note_and_keyboard_interrupt_stays_itself():
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as info:
        dds.keep("/interrupted", interrupted)
    assert not hasattr(info.value, "__notes__")


# ------------------------------------------------------------------------------------- overlapping paths
def test_a_path_below_a_stored_value_is_refused_before_its_function_runs(store, tmp_path):
    assert dds.keep("/f", one) == 1
    with pytest.raises(OverlappingPathError) as info:
        dds.keep("/f/g", two)
    assert CALLS == ["one"]  # two never ran
    error = info.value
    assert error.code == DDSErrorCode.OVERLAPPING_PATH and error.paths == ("/f/g", "/f")
    assert "/f/g (test_dropin.two)" in str(error) and "'/f_g'" in str(error) and "did not run" in str(error)
    assert isinstance(error, DDSException) and dds.load("/f") == 1
    assert [p for p, _ in store.iter_refs()] == ["/f"]


def test_a_path_above_stored_values_is_refused_before_its_function_runs(store):
    assert dds.keep("/g/a/b", one) == 1
    for path in ("/g/a", "/g"):
        with pytest.raises(OverlappingPathError, match="/g/a/b, below it,") as info:
            dds.keep(path, two)
        assert info.value.paths == (path, "/g/a/b")
    assert CALLS == ["one"] and dds.load("/g/a/b") == 1


def test_names_sharing_a_prefix_but_not_a_part_do_not_overlap():
    for path in ("/h", "/h-x", "/hx", "/h_y/z", "/i/h"):
        assert dds.keep(path, one) == 1
    assert dds.keep("/h0", two) == 2  # '0' follows '/': the edge of the sorted search
    assert len(CALLS) == 6


def test_a_keep_nested_in_a_function_kept_above_it_is_refused_before_its_body_runs():
    def parent():
        record("parent")
        return dds.keep("/nested/child", two)

    with pytest.raises(OverlappingPathError, match="is being computed now") as info:
        dds.keep("/nested", parent)
    assert CALLS == ["parent"]  # the child's body never ran, the parent stored nothing
    assert "nothing was stored for /nested" in info.value.__notes__[0]
    with pytest.raises(NotFoundError):
        dds.load("/nested")
    with pytest.raises(NotFoundError):
        dds.load("/nested/child")


def test_a_path_removed_behind_dds_back_no_longer_blocks_a_new_one(store):
    assert dds.keep("/old/v", one) == 1
    with pytest.raises(OverlappingPathError):
        dds.keep("/old", two)
    os.remove(store.ref_file("/old/v"))  # a person deletes the path: its ref and its view
    shutil.rmtree(os.path.dirname(store.data_path("/old/v")))
    assert dds.keep("/old", two) == 2 and dds.load("/old") == 2


def _store_of_kind(kind, tmp_path, request):
    if kind == "local":
        return dds.set_store("local", internal_dir=str(tmp_path / kind))
    if kind == "fsspec-s3":  # a real S3 server (moto) on 127.0.0.1
        s3 = request.getfixturevalue("s3")
        return dds.set_store("fsspec", url=s3.url(f"dropin-{tmp_path.name}"), **s3.storage_options)
    return dds.set_store(kind)


@pytest.mark.parametrize("kind", ["local", "memory", "fsspec-s3"])
def test_paths_below_names_escaped_groups_as_store_paths(tmp_path, request, kind):
    store = _store_of_kind(kind, tmp_path, request)
    for path in ("/g.ref/x", "/pc%41t/y%2E/z", "/plain/a/b"):
        assert dds.keep(path, one) == 1
    assert list(store.paths_below("/g.ref")) == ["/g.ref/x"]
    assert list(store.paths_below("/pc%41t")) == ["/pc%41t/y%2E/z"]
    assert sorted(store.paths_below("/plain")) == ["/plain/a/b"] and list(store.paths_below("/none")) == []
    with pytest.raises(OverlappingPathError, match="/pc%41t/y%2E/z, below it,"):
        dds.keep("/pc%41t/y%2E", two)
    assert "two" not in CALLS


def test_the_protocols_default_paths_below_filters_every_ref(store):
    assert dds.keep("/base/a/b", one) == 1 and dds.keep("/basement", one) == 1
    assert list(dds.store.base.Store.paths_below(store, "/base")) == ["/base/a/b"]


def test_a_new_path_in_a_store_written_by_another_process_is_checked_against_that_store(tmp_path):
    other = dds.store.LocalStore(internal_dir=str(tmp_path / "store"))  # what another process writes
    sig = "a" * 64
    other.write(sig, 5, {"path": "/shared/x"})
    other.set_ref("/shared/x", sig)
    with pytest.raises(OverlappingPathError):
        dds.keep("/shared", one)
    assert CALLS == [] and dds.load("/shared/x") == 5


def test_eval_refuses_overlapping_steps_before_anything_runs():
    def pipeline():
        a = dds.keep("/e", one)
        return dds.keep("/e/f", plus, a, 1)

    for dont_eval in (True, False):
        with pytest.raises(OverlappingPathError, match="kept by the same pipeline") as info:
            dds.eval(pipeline, dds_dont_eval=dont_eval)
        assert info.value.paths == ("/e/f", "/e")
    assert CALLS == []
    with pytest.raises(NotFoundError):
        dds.load("/e")


def test_eval_refuses_a_step_overlapping_the_store_before_anything_runs():
    assert dds.keep("/s/t", one) == 1

    def pipeline():
        return dds.keep("/s", two) + dds.keep("/u", one)

    with pytest.raises(OverlappingPathError, match="/s/t, below it,"):
        dds.eval(pipeline)
    assert CALLS == ["one"] and dds.load("/s/t") == 1


# -------------------------------------------------------------------------------------------- set_store
def test_cache_objects_bounds_the_values_held_in_memory(store):
    def sig_of(path):
        return store.get_ref(path)

    dds.set_store(store, cache_objects=2)
    for i in range(3):
        assert dds.keep(f"/c/{i}", plus, i, 0) == i
    held = [value_memo.recall(store, sig_of(f"/c/{i}"))[0] for i in range(3)]
    assert held == [False, True, True] and value_memo.capacity() == 2
    dds.set_store(store, cache_objects=0)
    assert value_memo.capacity() == 0 and not value_memo.recall(store, sig_of("/c/2"))[0]
    assert dds.keep("/c/2", plus, 2, 0) == 2 and not value_memo.recall(store, sig_of("/c/2"))[0]
    dds.set_store(store, cache_objects=-1)
    assert value_memo.capacity() is None
    dds.set_store(store, cache_objects=True)
    assert value_memo.capacity() == value_memo.DEFAULT_ENTRIES
    dds.set_store(store, cache_objects=False)
    assert value_memo.capacity() == 0
    dds.set_store(store)  # None: back to the default
    assert value_memo.capacity() == value_memo.DEFAULT_ENTRIES
    assert CALLS == ["plus"] * 3


def test_cache_objects_never_holds_a_mutable_value(store):
    dds.set_store(store, cache_objects=-1)

    def rows():
        return [1, 2]

    first = dds.keep("/m", rows)
    first.append(3)  # the caller mutates what keep returned
    assert dds.keep("/m", rows) == [1, 2]


def test_bad_set_store_keywords_are_refused_and_change_nothing(store):
    for kwargs, match in [({"cache_objects": "lots"}, "cache_objects"), ({"commit_type": "sometimes"}, "one of"),
                          ({"commit_type": "none"}, "dry run"), ({"commit_type": "links_only"}, "dbfs store only")]:
        with pytest.raises(ArgumentError, match=match):
            dds.set_store("local", internal_dir="/nonexistent/never", **kwargs)
        assert dds.get_store() is store and value_memo.capacity() == value_memo.DEFAULT_ENTRIES
    with pytest.raises(ArgumentError, match="store object"):
        dds.set_store(store, internal_dir="/x")


def test_commit_type_and_dbutils_on_the_dbfs_store(tmp_path):
    root = tmp_path / "dbfs"
    root.mkdir()
    full = dds.set_store("dbfs", internal_dir="dbfs:/dds/internal", data_dir="dbfs:/dds/data", dbfs_root=str(root),
                         commit_type="FULL", dbutils=object())
    assert dds.keep("/d/full", one) == 1 and full.data_path("/d/full") is not None
    assert os.path.exists(full.data_path("/d/full"))
    links = dds.set_store("dbfs", internal_dir="dbfs:/dds/internal", data_dir="dbfs:/dds/data",
                          dbfs_root=str(root), commit_type="links_only", dbutils=object())
    assert dds.keep("/d/links", two) == 2 and dds.load("/d/links") == 2
    assert links.data_path("/d/links") is None and not (root / "dds" / "data" / "d" / "links").exists()
    assert dds.load("/d/full") == 1  # the same internal store


def test_dds_py_stage_names():
    def pipeline():
        return dds.keep("/st", one)

    plan = dds.eval(pipeline, dds_stages=["analysis", "store_inspect"])
    assert plan.paths("will run") == ["/st"] and CALLS == []
    assert dds.eval(pipeline, dds_stages=["analysis", "store_inspect", "eval", "store_commit", "path_commit"]) == 1
    with pytest.raises(ArgumentError, match="path_commit"):
        dds.eval(pipeline, dds_stages=["analysis", "store_inspect", "eval", "store_commit"])
    assert CALLS == ["one"]


# ------------------------------------------------------------------------------- fresh processes, edited
STEPS = """
    from pipe._trace import trace


    def load_data():
        trace("load_data")
        return {"a": 1, "b": 2}


    def features(data):
        trace("features")
        return {k: v * 10 for k, v in data.items()}


    def lookup(table, key):
        trace("lookup")
        return table[key]


    def extra():
        trace("extra")
        return "never"
"""

SCRIPT = """
    import os
    import pathlib

    import dds
    from dds.structures import DDSErrorCode, DDSException
    from pipe.steps import extra, features, load_data, lookup

    dds.set_store("local", internal_dir=os.environ["DDS_DIR"], data_dir=os.environ["DDS_RERUN_DATA_DIR"],
                  cache_objects=100)

    data = dds.keep(pathlib.PurePosixPath("/data/raw"), load_data)
    feats = dds.keep(pathlib.Path("/data/features"), features, data)
    try:
        dds.keep("/data/lookup", lookup, feats, "missing")
        caught = None
    except KeyError as exc:
        caught = [repr(exc), list(exc.__notes__)]
    try:
        dds.keep("/data/raw/extra", extra)
        overlap = None
    except DDSException as exc:
        overlap = [int(exc.error_code), exc.error_code == DDSErrorCode.OVERLAPPING_PATH, list(exc.paths)]
    RESULT = {"features": feats, "caught": caught, "overlap": overlap, "raw_after": dds.load("/data/raw")}
"""

PLAIN_FEATURES = {"a": 10, "b": 20}  # what the functions return without dds
NOTE = ("dds: nothing was stored for /data/lookup (pipe.steps.lookup raised KeyError); /data/lookup holds no "
        "value yet.")


def expected(features):
    return {"features": features, "caught": ["KeyError('missing')", [NOTE]],
            "overlap": [16, True, ["/data/raw/extra", "/data/raw"]], "raw_after": {"a": 1, "b": 2}}


def test_a_dds_py_style_script_in_fresh_processes(tmp_path):
    h = RerunHarness(tmp_path, files={"pipe/steps.py": STEPS, "pipe/script.py": SCRIPT}, entry="pipe/script.py")
    first = h.run()
    assert first.ran == {"load_data", "features", "lookup"}  # extra refused before its body
    assert first.value == expected(PLAIN_FEATURES)
    second = h.run()  # nothing changed: only the step that failed (stored nothing) runs again
    assert second.calls == ["lookup"] and second.value == expected(PLAIN_FEATURES)
    h.edit("pipe/steps.py", "v * 10", "v * 100")
    third = h.run()
    assert third.ran == {"features", "lookup"} and third.value == expected({"a": 100, "b": 200})
    h.assert_matches_uncached(third)
    assert (h.store.parent / "store-data" / "data" / "raw").exists()  # the view of what was kept before


PIPELINE = """
    import dds
    from dds.structures import DDSErrorCode, DDSException
    from pipe._trace import trace


    def base():
        trace("base")
        return 1


    def detail():
        trace("detail")
        return 2


    def pipeline():
        return [dds.keep("/m", base), dds.keep("/m/n", detail)]


    def run():
        try:
            return dds.eval(pipeline)
        except DDSException as exc:
            return [exc.error_code == DDSErrorCode.OVERLAPPING_PATH, list(exc.paths)]
"""


def test_eval_refuses_overlapping_paths_in_a_fresh_process_then_runs_once_fixed(tmp_path):
    h = RerunHarness(tmp_path, files={"pipe/main.py": PIPELINE})
    first = h.run()
    assert first.calls == [] and first.value == [True, ["/m/n", "/m"]]
    h.edit("pipe/main.py", 'dds.keep("/m/n", detail)', 'dds.keep("/m_n", detail)')
    second = h.run()
    assert second.ran == {"base", "detail"} and second.value == [1, 2]
    third = h.run()
    assert third.calls == [] and third.value == [1, 2]
    h.assert_matches_uncached(third)


class NoAddNote(Exception):
    """As on Python 3.10, where exceptions have no ``add_note``: dds writes ``__notes__`` itself."""

    @property
    def add_note(self):
        raise AttributeError("add_note")


OLD = NoAddNote("old python")


def raises_without_add_note():
    raise OLD  # the same exception object each time


def test_notes_without_add_note_are_written_to_dunder_notes():
    for _ in range(2):  # the same exception passing through the same keep again: its note is not added twice
        with pytest.raises(NoAddNote) as info:
            dds.keep("/old/python", raises_without_add_note)
        assert info.value.__notes__ == [
            "dds: nothing was stored for /old/python (test_dropin.raises_without_add_note raised NoAddNote); "
            "/old/python holds no value yet."
        ]


if sys.version_info < (3, 11):  # pragma: no cover - the 3.10 path of dds.failures
    def test_notes_on_python_310():
        with pytest.raises(KeyError) as info:
            dds.keep("/310", lookup, {}, "k")
        assert info.value.__notes__[0].startswith("dds: nothing was stored for /310")

