"""``dds.eval``'s keeps trust the ref their plan read for their own path (``dds/step/planned_refs.py``): what a
run leaves in the store is what a plain run of the pipeline leaves, also when the eval itself moves a path."""

from __future__ import annotations

import sys

import pytest

import dds
from dds import session

_PIPELINE = """
import dds

def first():
    return "first"

def second():
    return "second"

def twice():
    dds.keep("/tw/a", first)
    return dds.keep("/tw/a", second)

def once():
    return dds.keep("/tw/a", second)
"""


@pytest.fixture
def steps(tmp_path):
    (tmp_path / "twice_steps.py").write_text(_PIPELINE)
    sys.path.insert(0, str(tmp_path))
    try:
        import twice_steps

        yield twice_steps
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("twice_steps", None)
        session.forget_store()


@pytest.fixture(params=["local", "memory", "fsspec-file"])
def store(request, tmp_path):
    if request.param == "fsspec-file":
        return dds.set_store("fsspec", url=f"file://{tmp_path}/fs")
    if request.param == "local":
        return dds.set_store("local", internal_dir=str(tmp_path / "local"))
    return dds.set_store("memory")


def test_a_path_kept_twice_in_one_eval_ends_where_a_plain_run_leaves_it(store, steps):
    assert steps.twice() == "second"
    second = store.get_ref("/tw/a")
    assert dds.eval(steps.twice) == "second"  # the first keep moves /tw/a away from what the plan read
    assert store.get_ref("/tw/a") == second
    assert dds.load("/tw/a") == "second"


def test_an_eval_whose_step_is_already_stored_leaves_the_path_as_it_is(store, steps):
    assert steps.once() == "second"
    second = store.get_ref("/tw/a")
    seen = []
    session.observers.append(lambda path, what, sig: seen.append((path, what)))
    try:
        assert dds.eval(steps.once) == "second"
    finally:
        session.observers.pop()
    assert seen == [("/tw/a", "loaded")] and store.get_ref("/tw/a") == second
