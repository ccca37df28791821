"""The public API in one process: keep/load/data_function behaviour and every bad-input error."""

import threading

import pytest

import dds
from dds.errors import (ArgumentError, CodecError, NotFoundError, PathError,
                        UnhashableValueError)

from _tracking import CALLS, record

dds.reject_module("_tracking")  # its CALLS list changes on every call; it must not be hashed
FACTOR = 2


@pytest.fixture(autouse=True)
def store(tmp_path):
    CALLS.clear()
    return dds.set_store("local", internal_dir=str(tmp_path / "store"))


def double(x, offset=0):
    record("double")
    return x * FACTOR + offset


def test_keep_runs_once_then_loads():
    assert dds.keep("/d", double, 3) == 6
    assert dds.keep("/d", double, 3) == 6
    assert CALLS == ["double"]
    assert dds.load("/d") == 6


def test_arguments_and_kwargs_are_part_of_the_signature():
    assert dds.keep("/d", double, 3, offset=1) == 7
    assert dds.keep("/d", double, 3, offset=1) == 7
    assert dds.keep("/d", double, 3, offset=2) == 8
    assert dds.keep("/d", double, 3.0, offset=2) == 8.0
    assert CALLS == ["double"] * 3
    assert dds.load("/d") == 8.0


def test_returning_to_an_earlier_version_reloads_without_running():
    dds.keep("/d", double, 1)
    dds.keep("/d", double, 2)
    assert dds.load("/d") == 4
    assert dds.keep("/d", double, 1) == 2
    assert CALLS == ["double", "double"]
    assert dds.load("/d") == 2  # the path points at the older value again


def test_data_function_decorator_and_alias():
    @dds.data_function("/df")
    def make():
        record("make")
        return {"a": [1, 2]}

    @dds.dds_function("/df2")
    def make2():
        record("make2")
        return "text"

    assert make() == {"a": [1, 2]} and make() == {"a": [1, 2]}
    assert make2() == "text" and make2() == "text"
    assert CALLS == ["make", "make2"]
    assert dds.load("/df") == {"a": [1, 2]}


def test_memory_store():
    dds.set_store("memory")
    assert dds.keep("/m", double, 5) == 10
    assert dds.keep("/m", double, 5) == 10
    assert CALLS == ["double"]


@pytest.mark.parametrize("bad", ["relative", "/a/../b", "", "/", "/a//b", "/a/", "/a\x00b", "/.", 5])
def test_bad_paths_are_refused_before_anything_runs(bad):
    with pytest.raises(PathError) as info:
        dds.keep(bad, double, 1)
    assert repr(bad)[:10].strip("'") in str(info.value) or not isinstance(bad, str)
    assert CALLS == []


def test_non_callable_is_refused_with_the_path_in_the_message():
    with pytest.raises(ArgumentError, match="/x"):
        dds.keep("/x", 42)


def test_load_of_a_missing_path_names_it():
    with pytest.raises(NotFoundError, match="/nothing/here"):
        dds.load("/nothing/here")


class Opaque:
    __module__ = "json.decoder"  # pretend it comes from a library: hashed by what pickling it records

    def __init__(self):
        self.level = 1


OPAQUE = Opaque()


def reads_opaque():
    record("reads_opaque")
    return OPAQUE.level


def test_a_library_object_is_hashed_by_its_state():
    assert dds.keep("/u", reads_opaque) == 1
    assert dds.keep("/u", reads_opaque) == 1
    OPAQUE.level = 2  # its state changed: the reader is stale and must run
    assert dds.keep("/u", reads_opaque) == 2
    assert CALLS == ["reads_opaque", "reads_opaque"]
    OPAQUE.level = 1


def test_a_self_containing_global_names_the_object_and_the_fix():
    LOOP.append(LOOP)
    with pytest.raises(UnhashableValueError) as info:
        dds.keep("/loop", reads_loop)
    message = str(info.value)
    assert "LOOP" in message and "reads_loop" in message and "contains itself" in message
    assert CALLS == []
    LOOP.clear()


LOOP: list = []


def reads_loop():
    record("reads_loop")
    return len(LOOP)


def returns_a_lock():
    return threading.Lock()


def test_unpicklable_result_is_a_codec_error_and_stores_nothing():
    with pytest.raises(CodecError, match="lock"):
        dds.keep("/lock", returns_a_lock)
    with pytest.raises(NotFoundError):
        dds.load("/lock")


MODE = {"fail": False}


def sometimes_fails(x):
    record("sometimes_fails")
    if MODE["fail"]:
        raise ValueError("boom")
    return x


def test_a_function_that_raises_stores_nothing_and_keeps_the_previous_value():
    assert dds.keep("/f", sometimes_fails, 1) == 1
    MODE["fail"] = True
    try:
        with pytest.raises(ValueError) as info:  # the function's own exception, as itself
            dds.keep("/f", sometimes_fails, 2)
        assert type(info.value) is ValueError and info.value.__cause__ is None
        assert any("/f" in note and "nothing was stored" in note for note in info.value.__notes__)
    finally:
        MODE["fail"] = False
    assert dds.load("/f") == 1
    assert dds.keep("/f", sometimes_fails, 2) == 2  # nothing half-stored stands in the way


def test_options_are_validated():
    with pytest.raises(ArgumentError, match="on_damage"):
        dds.set_option("on_damage", "ignore")
    with pytest.raises(ArgumentError, match="Known options"):
        dds.get_option("nope")


def test_a_signature_error_is_shown_from_the_users_line_not_from_inside_dds():
    import traceback

    LOOP.append(LOOP)
    try:
        for call in (lambda: dds.keep("/loop", reads_loop), lambda: dds.eval(pipeline_of_loop)):
            with pytest.raises(UnhashableValueError) as info:
                call()
            frames = traceback.extract_tb(info.value.__traceback__)
            assert not [f for f in frames if "/dds/signature/" in f.filename or "/dds/pipeline/plan.py" in f.filename], frames
        dds.set_option("extra_debug", True)  # for reports about dds itself: every frame
        with pytest.raises(UnhashableValueError) as info:
            dds.keep("/loop", reads_loop)
        assert any("/dds/signature/" in f.filename for f in traceback.extract_tb(info.value.__traceback__))
    finally:
        dds.set_option("extra_debug", False)
        LOOP.clear()


def pipeline_of_loop():
    return dds.keep("/loop", reads_loop)
