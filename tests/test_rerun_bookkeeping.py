"""Edit-and-rerun: state that code only writes (bookkeeping) is not an input; state it reads stays one.

Four shapes users write — a list a step appends to, a counter object, a metrics dict, a logger object —
each kept in the step's own module, in a helper module of the project, and in a helper module outside the
project directory. Every step is called twice per process: a warm second call must load, a fresh process
must load everything, and an edit of the bookkeeping *code* (not its state) re-runs exactly its users.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness

pytestmark = pytest.mark.rerun

BOOKKEEPING = """
    RAN = []
    METRICS = {}


    class Counter:
        def __init__(self):
            self.n = 0

        def increment(self):
            self.n += 1


    class Logger:
        def __init__(self):
            self.lines = []
            self.count = 0

        def log(self, message):
            self.lines.append(message)
            self._bump()

        def _bump(self):
            self.count += 1


    CALLS = Counter()
    LOG = Logger()


    def record(name):
        RAN.append(name)
"""

MAIN = """
    import os
    import sys

    import dds
    from pipe._trace import trace
    from pipe import track
    from pipe.track import record

    sys.path.insert(0, os.environ["BOOKKEEPING_OUTSIDE"])
    import outside_track  # a helper module outside the project directory

    RAN = []
    METRICS = {}


    class Counter:
        def __init__(self):
            self.n = 0

        def increment(self):
            self.n += 1


    CALLS = Counter()


    def own_list(x):
        trace("own_list")
        RAN.append(x)
        return x + 1


    def own_counter(x):
        trace("own_counter")
        CALLS.increment()
        return x + 2


    def own_metrics(x):
        trace("own_metrics")
        METRICS["rmse"] = x * 0.5
        METRICS.update(seen=True)
        return x + 3


    def helper_module(x):
        trace("helper_module")
        record("helper_module")
        track.CALLS.increment()
        track.METRICS["n"] = x
        track.LOG.log(f"step {x}")
        return x * 10


    def outside_module(x):
        trace("outside_module")
        outside_track.RAN.append(x)
        outside_track.CALLS.increment()
        outside_track.METRICS[x] = x
        outside_track.LOG.log("outside")
        return x * 100


    def run():
        out = []
        for fn in (own_list, own_counter, own_metrics, helper_module, outside_module):
            for _ in range(2):  # the second call in the same process must load
                out.append(dds.keep("/" + fn.__name__, fn, 1))
        return out
"""

EXPECTED = [2, 2, 3, 3, 4, 4, 10, 10, 100, 100]
STEPS = {"own_list", "own_counter", "own_metrics", "helper_module", "outside_module"}


@pytest.fixture()
def project(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "outside_track.py").write_text(__import__("textwrap").dedent(BOOKKEEPING), encoding="utf-8")
    monkeypatch.setenv("BOOKKEEPING_OUTSIDE", str(outside))
    h = RerunHarness(tmp_path / "p", files={"pipe/main.py": MAIN, "pipe/track.py": BOOKKEEPING})
    return h, outside


def test_bookkeeping_is_not_an_input(project):
    h, outside = project
    first = h.run(label="run 1 (empty store)")
    assert sorted(first.calls) == sorted(STEPS), f"each step must run once, ran {first.calls}"
    assert first.value == EXPECTED
    second = h.run(label="run 2 (no edit)")
    assert second.calls == [], f"NEEDLESS RECOMPUTE in a fresh process: {second.calls}"
    assert second.value == EXPECTED

    # the bookkeeping *code* is still part of the signature of its users
    h.edit("pipe/track.py", "self.count += 1", "self.count += 2")
    third = h.run(label="run 3 (Logger._bump edited)")
    assert sorted(third.calls) == ["helper_module"], third.calls
    outside_file = outside / "outside_track.py"
    outside_file.write_text(outside_file.read_text().replace("self.n += 1", "self.n -= 1"), encoding="utf-8")
    fourth = h.run(label="run 4 (outside Counter.increment edited)")
    assert sorted(fourth.calls) == ["outside_module"], fourth.calls
    assert h.run(label="run 5").calls == []
    assert h.assert_matches_uncached(fourth).value == EXPECTED


READ_BACK = """
    import dds
    from pipe._trace import trace

    COUNTER = [0]
    LOG = []
    TOTALS = {"n": 0}


    def counter():
        trace("counter")
        COUNTER[0] += 1
        return COUNTER[0]


    def log_length():
        trace("log_length")
        LOG.append(1)
        return len(LOG)


    def total():
        trace("total")
        TOTALS["n"] += 5
        return dict(TOTALS)


    def run():
        return [dds.keep("/counter", counter), dds.keep("/counter", counter),
                dds.keep("/log", log_length), dds.keep("/log", log_length),
                dds.keep("/total", total), dds.keep("/total", total)]
"""


def test_state_read_back_stays_an_input(tmp_path):
    """The same shapes of write, but the value is read back: the second call in a process must re-run and
    return what plain Python returns (a too-broad write-only rule would load the first value)."""
    h = RerunHarness(tmp_path, files={"pipe/main.py": READ_BACK})
    first = h.run(label="run 1 (empty store)")
    assert first.value == [1, 2, 1, 2, {"n": 5}, {"n": 10}]
    assert sorted(first.calls) == ["counter", "counter", "log_length", "log_length", "total", "total"]
    # A fresh process starts from the module's initial state: the first call of each step loads the value
    # stored for that state, so its side effect does not happen (dds skips the call) and the second call
    # sees the same state again.
    second = h.run(label="run 2 (fresh process)")
    assert second.calls == []
    assert second.value == [1, 1, 1, 1, {"n": 5}, {"n": 5}]


MODEL = """
    import dds
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from pipe._trace import trace

    SLOPE = 2.0
    RNG = np.random.default_rng(7)  # a seeded generator at module level: the same state in every process


    def data():
        trace("data")
        x = np.arange(20.0).reshape(-1, 1)
        return x, SLOPE * x[:, 0] + 1.0


    def fit(xy):
        trace("fit")
        x, y = xy
        return LinearRegression().fit(x, y)


    def predict(model, x):
        trace("predict")
        return [round(float(v), 6) for v in model.predict(x)]


    def noise():
        trace("noise")
        return [round(float(v), 6) for v in RNG.random(3)]


    def run():
        xy = dds.keep("/data", data)
        model = dds.keep("/model", fit, xy)
        pred = dds.keep("/pred", predict, model, np.array([[0.0], [1.0]]))
        return [pred, dds.keep("/noise", noise)]
"""


def test_fitted_model_flows_between_steps(tmp_path):
    """A scikit-learn model is an argument like any value: hashed by its pickled state, the same whether
    it was just fitted or loaded from the store, so downstream steps load; an edit upstream re-runs all."""
    pytest.importorskip("sklearn")
    h = RerunHarness(tmp_path, files={"pipe/main.py": MODEL})
    first = h.run(label="run 1")
    assert first.ran == {"data", "fit", "predict", "noise"}
    assert first.value[0] == [1.0, 3.0]
    second = h.run(label="run 2 (fresh process)")
    assert second.ran == set(), f"NEEDLESS RECOMPUTE: {second.ran}"
    assert second.value == first.value
    h.edit("pipe/main.py", "SLOPE = 2.0", "SLOPE = 3.0")
    third = h.run(label="run 3 (SLOPE edited)")
    assert third.ran == {"data", "fit", "predict"}
    assert third.value[0] == [1.0, 4.0]
    assert h.run(label="run 4").ran == set()
    h.assert_matches_uncached(third)
