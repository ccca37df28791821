"""In-process: the write-only rule, library objects as inputs, ``dds.ignore`` and the run-time guard.

Each case imports a real module written to disk (dds reads source), calls ``keep`` many times in one
process and counts how often the function body really ran.
"""

from __future__ import annotations

import collections
import importlib
import logging
import sys
import textwrap
import uuid

import pytest

import dds
from dds.signature import ignored

SOURCE = """
    import threading
    import dds

    RUNS = []  # appended to only: bookkeeping that is not an input
    LOG = []
    METRICS = {}
    COUNTER = [0]
    LOCK = threading.Lock()
    HANDLE = open(__file__)
    MODEL = None
    CACHE = {}


    class Tally:
        def __init__(self):
            self.n = 0
            self.seen = []

        def add(self, x):
            self.n += 1
            self.seen.append(x)

        def total(self):
            return self.n


    TALLY = Tally()


    def ran(name):
        RUNS.append(name)


    def bookkeeping(x):
        ran("bookkeeping")
        LOG.append(x)
        METRICS["last"] = x
        TALLY.add(x)
        return x * 2


    def reads_tally(x):
        ran("reads_tally")
        TALLY.add(x)
        return TALLY.total()


    def counter():
        ran("counter")
        COUNTER[0] += 1
        return COUNTER[0]


    def log_length():
        ran("log_length")
        LOG.append(1)
        return len(LOG)


    def with_lock(x):
        ran("with_lock")
        with LOCK:
            return x + 1


    def with_handle():
        ran("with_handle")
        return HANDLE.name.endswith(".py")


    def predict(x):
        ran("predict")
        return [round(float(v), 6) for v in MODEL.predict(x)]


    def cached_square(x):
        ran("cached_square")
        if x not in CACHE:
            CACHE[x] = x * x
        return CACHE[x]
"""


def runs(module) -> dict:
    return dict(collections.Counter(module.RUNS))


@pytest.fixture()
def module_of(tmp_path, monkeypatch):
    """Write a source text to a new module file and import it (dds reads the source from the file)."""
    names = []

    def write_and_import(source: str):
        name = f"case_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        names.append(name)
        return importlib.import_module(name)

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write_and_import
    for name in names:
        sys.modules.pop(name, None)


@pytest.fixture()
def mod(module_of):
    dds.set_store("memory")
    module = module_of(SOURCE)
    yield module
    module.HANDLE.close()
    ignored.forget()


def test_warm_calls_of_a_bookkeeping_step_load(mod):
    values = [dds.keep("/b", mod.bookkeeping, 3) for _ in range(500)]
    assert values == [6] * 500
    assert runs(mod) == {"bookkeeping": 1}
    assert len(mod.LOG) == 1 and mod.TALLY.n == 1  # the skipped calls had no side effects


def test_state_read_back_is_an_input(mod):
    assert [dds.keep("/c", mod.counter) for _ in range(3)] == [1, 2, 3]
    assert [dds.keep("/l", mod.log_length) for _ in range(3)] == [1, 2, 3]
    assert [dds.keep("/t", mod.reads_tally, 1) for _ in range(3)] == [1, 2, 3]  # total() reads self
    assert runs(mod) == {"counter": 3, "log_length": 3, "reads_tally": 3}


def test_unpicklable_globals_are_identified_by_type_with_one_warning(mod, caplog):
    with caplog.at_level(logging.WARNING, logger="dds"):
        assert [dds.keep("/lock", mod.with_lock, 1) for _ in range(3)] == [2, 2, 2]
        assert dds.keep("/h", mod.with_handle) is True and dds.keep("/h", mod.with_handle) is True
    assert runs(mod) == {"with_lock": 1, "with_handle": 1}
    warnings = [r.getMessage() for r in caplog.records if "cannot be pickled" in r.getMessage()]
    assert len(warnings) <= 2, warnings  # once per type (an earlier test in the process may have warned)
    for message in warnings:
        assert "dds.register_hasher(type(" in message


def test_a_refit_global_model_reruns_its_reader(mod):
    sklearn = pytest.importorskip("sklearn.linear_model")
    import numpy as np

    x = np.arange(10.0).reshape(-1, 1)
    mod.MODEL = sklearn.LinearRegression().fit(x, 2 * x[:, 0])
    probe = np.array([[1.0]])
    assert dds.keep("/p", mod.predict, probe) == [2.0]
    assert dds.keep("/p", mod.predict, probe) == [2.0]
    mod.MODEL.fit(x, 3 * x[:, 0])  # refit in place, as a notebook would
    assert dds.keep("/p", mod.predict, probe) == [3.0]
    assert runs(mod) == {"predict": 2}


def test_the_guard_names_the_global_a_run_changed(mod, caplog):
    with caplog.at_level(logging.WARNING, logger="dds"):
        assert dds.keep("/sq", mod.cached_square, 4) == 16
        assert dds.keep("/sq", mod.cached_square, 4) == 16
    assert runs(mod) == {"cached_square": 2}  # CACHE is read: an input, changed by the run itself
    [message] = [r.getMessage() for r in caplog.records if "the next call will compute it again" in r.getMessage()]
    assert f"dds.ignore('{mod.__name__}.CACHE')" in message


def test_ignore_by_name_and_by_object(mod):
    dds.ignore(f"{mod.__name__}.CACHE")
    assert [dds.keep("/sq", mod.cached_square, 5) for _ in range(3)] == [25] * 3
    assert runs(mod) == {"cached_square": 1}
    ignored.forget()
    mod.RUNS.clear()
    dds.ignore(mod.COUNTER)
    assert [dds.keep("/c", mod.counter) for _ in range(3)] == [1, 1, 1]  # the user said: not an input
    assert runs(mod) == {"counter": 1}


def test_ignore_refuses_a_name_it_cannot_resolve():
    with pytest.raises(dds.ArgumentError, match=r"dds.ignore\('mypackage.tracking.RAN'\)"):
        dds.ignore("RAN")


def test_model_hash_is_the_same_after_a_round_trip_through_pickle():
    sklearn = pytest.importorskip("sklearn.ensemble")
    import pickle

    import numpy as np

    from dds.signature import SignatureBuilder

    x = np.arange(40.0).reshape(-1, 2)
    forest = sklearn.RandomForestRegressor(n_estimators=3, random_state=0).fit(x, x[:, 0])
    again = pickle.loads(pickle.dumps(forest))
    digest = SignatureBuilder().value_digest
    assert digest(forest) == digest(again)
    again.set_params(n_estimators=4)
    assert digest(forest) != digest(again)
    gen = np.random.default_rng(1)
    before = digest(gen)
    gen.random()
    assert digest(gen) != before


WRITES = """
    import collections

    LIST = []
    DQ = collections.deque()


    class Odd:
        def __init__(self):
            self.items = []

        def add(self, x):
            self.items.append(x)
            if len(self.items) > 100:  # reads self: not write-only
                self.items.clear()


    ODD = Odd()


    def removes():
        LIST.remove(1) if 1 in LIST else None
        return 0


    def pops():
        LIST.append(1)
        LIST.pop()
        return 0


    def deque_and_odd():
        DQ.appendleft(1)
        ODD.add(1)
        return 0


    def deque_only():
        DQ.appendleft(1)
        DQ.extend([2])
        return 0
"""


def _deps(fn, path="/x"):
    from dds.signature import SignatureBuilder

    tree = SignatureBuilder().call_signature(path, fn, (), {}).tree
    return {dep[0]: dep[3] for unit in tree["units"].values() for dep in unit["deps"]}


def test_which_method_calls_count_as_writes(module_of):
    module = module_of(WRITES)
    assert not _deps(module.removes)["LIST"]  # `1 in LIST` reads it
    assert "written only" not in str(_deps(module.pops)["LIST.pop"])  # pop raises on an empty list
    deps = _deps(module.deque_and_odd)
    assert deps["DQ.appendleft"] == "<written only: deque>"
    assert "written only" not in str(deps["ODD.add"])  # Odd.add reads len(self.items)
    assert set(_deps(module.deque_only).values()) >= {"<written only: deque>"}


HOOKS = """
    class Guarded(dict):
        def __setitem__(self, key, value):
            if key in self:  # reads its state while being written to
                raise KeyError(key)
            super().__setitem__(key, value)


    class WithProperty:
        def __init__(self):
            self._level = 0

        @property
        def level(self):
            return self._level

        @level.setter
        def level(self, value):
            self._level = max(self._level, value)


    class Plain:
        pass


    GUARDED = Guarded()
    PROP = WithProperty()
    PLAIN = Plain()


    def writes_guarded():
        GUARDED["k"] = 1
        return 0


    def writes_property():
        PROP.level = 3
        return 0


    def writes_plain():
        PLAIN.level = 3
        PLAIN.seen = True
        return 0


    class Log:
        def __init__(self):
            self.lines = []

        def add(self, line):
            self.lines.append(line)


    LOG = Log()
    LINES = []
    add_line = LOG.add  # bound methods held in globals, called by name
    trace = LINES.append


    def through_bound_methods():
        add_line("x")
        trace("y")
        return 0


    def reads_through_bound_method():
        return trace("y")  # the result is used: a read
"""


def test_writes_through_user_hooks_or_properties_stay_inputs(module_of):
    module = module_of(HOOKS)
    assert "written only" not in str(_deps(module.writes_guarded)["GUARDED"])
    assert "written only" not in str(_deps(module.writes_property)["PROP.level"])
    deps = _deps(module.writes_plain)
    assert deps["PLAIN.level"] == deps["PLAIN.seen"] == "<written only: Plain>"
    deps = _deps(module.through_bound_methods)
    assert deps["add_line"] == "<written only: Log.add>" and deps["trace"] == "<written only: list.append>"
    assert "written only" not in str(_deps(module.reads_through_bound_method)["trace"])
