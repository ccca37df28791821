"""The per-process signature memo (dds/signature/memo.py) and value memo (dds/step/value_memo.py).

A warm ``keep`` re-checks what the signature read instead of rebuilding it. Every scenario here changes
something *inside the running process* after a first call (the edit-and-rerun suites cover edits on disk
and fresh processes) and asserts two things: the memoised signature equals one built from scratch, and
the function re-ran exactly when that signature changed.
"""

import importlib
import sys

import pytest

import linecache

import dds
from dds.signature import SignatureBuilder, memo, probes

from _tracking import CALLS

SOURCE = '''
import dds
from _tracking import record

RATE = 2
LIMITS = [1, 2, 3]
FLOATS = [0.0, 1.5]
TABLE = {"a": 1}


class Config:
    scale = 3

    def apply(self, x):
        return x * self.scale


SETTINGS = Config()


def helper(x):
    return x * RATE


def other_helper(x):
    return x * 100


DISPATCH = {"h": helper}


def uses_rate(x):
    record("uses_rate")
    return helper(x)


def uses_limits():
    record("uses_limits")
    return sum(LIMITS)


def uses_floats():
    record("uses_floats")
    return repr(FLOATS)


def uses_table():
    record("uses_table")
    return sorted(TABLE.items())


def uses_dispatch(x):
    record("uses_dispatch")
    return DISPATCH["h"](x)


def uses_class(x):
    record("uses_class")
    return Config().apply(x)


def uses_instance(x):
    record("uses_instance")
    return SETTINGS.apply(x)


def uses_default(x, extra=[0]):
    record("uses_default")
    return x + sum(extra)


def uses_len(x):
    record("uses_len")
    return len(x)


def make_counter(step):
    def counter(x):
        record("counter")
        return x + step
    def change(new):
        nonlocal step
        step = new
    return counter, change


def upstream():
    record("upstream")
    return RATE * 10


def downstream():
    record("downstream")
    return dds.load("/memo/up") + 1


def returns_list():
    record("returns_list")
    return [1, 2, 3]
'''


@pytest.fixture
def mod(tmp_path, monkeypatch):
    """A fresh user module on disk (so its source is real), imported under a unique name."""
    name = f"memo_mod_{abs(hash(str(tmp_path))) % 10**8}"
    (tmp_path / f"{name}.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    module = importlib.import_module(name)
    dds.reject_module("_tracking")  # its call log changes on every call: not part of any signature
    CALLS.clear()
    yield module
    sys.modules.pop(name, None)


def keep_checked(path, fn, *args, **kwargs):
    """``dds.keep`` plus the invariant: the memoised signature equals a signature built from scratch."""
    store = dds.get_store()
    memoised = memo.call_signature(path, fn, args, kwargs, load_sig=store.get_ref).sig
    probes._plain_tokens.clear()  # the builder's own cache of constants' tokens: build truly from scratch
    fresh = SignatureBuilder(load_sig=store.get_ref).call_signature(path, fn, args, kwargs).sig
    assert memoised == fresh
    return dds.keep(path, fn, *args, **kwargs)


def runs(mod, path, fn, *args):
    """How many times ``fn`` ran for one checked keep."""
    before = len(CALLS)
    keep_checked(path, fn, *args)
    return len(CALLS) - before


def test_warm_calls_reuse_the_signature_and_do_not_rerun(mod):
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 1
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 0
    assert runs(mod, "/memo/r", mod.uses_rate, 4) == 1  # arguments are hashed on every call
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 0


def test_rebinding_a_global_constant_reruns(mod):
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 1
    mod.RATE = 5
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 1
    assert dds.load("/memo/r") == 15


def test_mutating_a_list_in_place_reruns(mod):
    assert runs(mod, "/memo/l", mod.uses_limits) == 1
    mod.LIMITS.append(4)
    assert runs(mod, "/memo/l", mod.uses_limits) == 1
    assert dds.load("/memo/l") == 10
    mod.LIMITS[0] = True  # equal to 1, but another type: a different value for code
    assert runs(mod, "/memo/l", mod.uses_limits) == 1
    assert runs(mod, "/memo/l", mod.uses_limits) == 0


def test_mutating_floats_in_place_reruns_even_when_equal(mod):
    assert runs(mod, "/memo/f", mod.uses_floats) == 1
    mod.FLOATS[0] = -0.0  # == 0.0, but repr differs
    assert runs(mod, "/memo/f", mod.uses_floats) == 1
    assert dds.load("/memo/f") == "[-0.0, 1.5]"


def test_reordering_a_dict_reruns(mod):
    assert runs(mod, "/memo/t", mod.uses_table) == 1
    mod.TABLE["b"] = 2
    assert runs(mod, "/memo/t", mod.uses_table) == 1
    del mod.TABLE["a"]
    mod.TABLE["a"] = 1  # same items, other order: code iterating the dict sees a difference
    assert runs(mod, "/memo/t", mod.uses_table) == 1


def test_swapping_a_function_in_a_dispatch_table_reruns(mod):
    assert runs(mod, "/memo/d", mod.uses_dispatch, 1) == 1
    mod.DISPATCH["h"] = mod.other_helper
    assert runs(mod, "/memo/d", mod.uses_dispatch, 1) == 1
    assert dds.load("/memo/d") == 100


def test_redefining_a_helper_reruns(mod):
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 1
    source = "def helper(x):\n    return x * RATE + 1\n"
    linecache.cache["<memo-cell>"] = (len(source), None, source.splitlines(True), "<memo-cell>")
    exec(compile(source, "<memo-cell>", "exec"), vars(mod))  # as a notebook cell would
    assert runs(mod, "/memo/r", mod.uses_rate, 3) == 1
    assert dds.load("/memo/r") == 7


def test_replacing_code_and_defaults_reruns(mod):
    assert runs(mod, "/memo/def", mod.uses_default, 1) == 1
    mod.uses_default.__defaults__[0].append(5)  # the default list mutated in place
    assert runs(mod, "/memo/def", mod.uses_default, 1) == 1
    mod.uses_default.__defaults__ = ([1],)
    assert runs(mod, "/memo/def", mod.uses_default, 1) == 1
    assert dds.load("/memo/def") == 2


def test_class_and_instance_attributes_rerun(mod):
    assert runs(mod, "/memo/c", mod.uses_class, 2) == 1
    mod.Config.scale = 4
    assert runs(mod, "/memo/c", mod.uses_class, 2) == 1
    mod.Config.offset = 1  # a new class attribute
    assert runs(mod, "/memo/c", mod.uses_class, 2) == 1
    assert runs(mod, "/memo/i", mod.uses_instance, 2) == 1
    mod.SETTINGS.scale = 10  # an instance attribute
    assert runs(mod, "/memo/i", mod.uses_instance, 2) == 1
    assert dds.load("/memo/i") == 20


def test_shadowing_a_builtin_reruns(mod):
    assert runs(mod, "/memo/len", mod.uses_len, "abc") == 1
    mod.len = lambda x: 42
    assert runs(mod, "/memo/len", mod.uses_len, "abc") == 1
    assert dds.load("/memo/len") == 42


def test_changing_a_closure_cell_reruns(mod):
    counter, change = mod.make_counter(1)
    assert runs(mod, "/memo/cell", counter, 1) == 1
    change(2)
    assert runs(mod, "/memo/cell", counter, 1) == 1
    assert dds.load("/memo/cell") == 3


def test_a_new_upstream_value_reruns_downstream(mod):
    assert runs(mod, "/memo/up", mod.upstream) == 1
    assert runs(mod, "/memo/down", mod.downstream) == 1
    assert runs(mod, "/memo/down", mod.downstream) == 0
    mod.RATE = 3
    assert runs(mod, "/memo/up", mod.upstream) == 1
    assert runs(mod, "/memo/down", mod.downstream) == 1
    assert dds.load("/memo/down") == 31


def test_register_hasher_and_module_rules_invalidate(mod):
    assert runs(mod, "/memo/i", mod.uses_instance, 2) == 1
    dds.register_hasher(mod.Config, lambda c: "always the same")
    assert runs(mod, "/memo/i", mod.uses_instance, 2) == 1  # the instance is now hashed another way
    mod.SETTINGS.scale = 7  # invisible to the registered hasher: no re-run, as a fresh build agrees
    assert runs(mod, "/memo/i", mod.uses_instance, 2) == 0


def test_a_mutable_value_is_read_again_not_held(mod):
    first = dds.keep("/memo/list", mod.returns_list)
    first.append(99)  # the caller mutates what keep returned
    again = dds.keep("/memo/list", mod.returns_list)
    assert again == [1, 2, 3]
    assert CALLS.count("returns_list") == 1


def test_another_process_repointing_the_path_is_seen(mod, tmp_path):
    assert dds.keep("/memo/r", mod.uses_rate, 3) == 6
    mod.RATE = 7
    assert dds.keep("/memo/r", mod.uses_rate, 3) == 21
    mod.RATE = 2
    store = dds.get_store()
    assert dds.keep("/memo/r", mod.uses_rate, 3) == 6  # held in memory, and the path points at it again
    assert dds.load("/memo/r") == 6
    assert store.get_ref("/memo/r") == memo.call_signature("/memo/r", mod.uses_rate, (3,), {}, store.get_ref).sig


def test_a_hasher_registered_for_tuple_later_reaches_warm_calls_without_arguments():
    """The memo's tokens of 'no arguments' follow register_hasher: a warm call must sign as a rebuild does."""
    from dds.signature import values

    def constant():
        return 1

    no_store = lambda path: None  # noqa: E731

    def warm_and_cold() -> tuple[str, str]:
        memo.call_signature("/empty-args", constant, (), {}, load_sig=no_store)  # fills the memo
        warm = memo.call_signature("/empty-args", constant, (), {}, load_sig=no_store).sig
        cold = SignatureBuilder(load_sig=no_store).call_signature("/empty-args", constant, (), {}).sig
        return warm, cold

    before = warm_and_cold()
    assert before[0] == before[1]
    dds.register_hasher(tuple, lambda value: "a tuple of " + repr(list(value)))  # a str: no recursion
    try:
        after = warm_and_cold()
        assert after[0] == after[1] and after[0] != before[0]
    finally:
        values._HASHERS.pop(tuple, None)
        values._hasher_of_type.clear()
        probes.invalidate_all()
    assert warm_and_cold() == before
