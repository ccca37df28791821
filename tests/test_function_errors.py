"""A function that raises, or a keep that is interrupted, stores nothing and leaves the previous value alone.

* In process: the function raises an exception (→ propagates as itself, with a note naming the path),
  ``KeyboardInterrupt`` or ``SystemExit`` (→ re-raised as is, no note), or returns a value no codec can
  store (→ ``CodecError``): the store's
  files are byte for byte what they were (refs, metadata, blobs, the view in data_dir, no temporaries), the
  path still loads its previous value, and the next keep is not blocked by a stale lock.
* SIGINT to a process whose function is running: the same, seen from outside.
* SIGINT at random moments of a keep writing large values (Parquet and pickle): the path holds the old or the
  new value, never a partial one, and ``verify`` passes.
"""

from __future__ import annotations

import os
import pickle
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from _store_files import store_files
from _tracking import CALLS, record
from pipeline_project import Project
from reliability_report import record_figures
from test_crash_safety import KILLS, SEED, check_store, crash_site, new_stats, next_round, zygote  # noqa: F401

import dds
from dds.errors import CodecError
from dds.store.maintenance import verify

dds.reject_module("_tracking")
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record_figures("function_errors", FIGURES)


@pytest.fixture
def store(tmp_path):
    previous = dds.session._store
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"))
    CALLS.clear()
    yield store
    dds.session._store = previous


def step(version, failure=None):
    record(f"step {version} {failure}")
    if failure == "ValueError":
        raise ValueError("the input is bad")
    if failure == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if failure == "SystemExit":
        sys.exit(3)
    if failure == "unstorable":
        return {"version": version, "lock": threading.Lock()}  # neither pickle nor cloudpickle can store it
    return {"version": version, "rows": list(range(1000))}


@pytest.mark.parametrize("failure,raised", [("ValueError", ValueError), ("KeyboardInterrupt", KeyboardInterrupt),
                                            ("SystemExit", SystemExit), ("unstorable", CodecError)])
def test_a_failing_keep_stores_nothing_and_keeps_the_previous_value(store, failure, raised):
    assert dds.keep("/p", step, 1)["version"] == 1
    view = store.data_path("/p")
    before = store_files(store, skip_locks=True)
    with pytest.raises(raised) as info:
        dds.keep("/p", step, 2, failure)
    if raised is ValueError:
        assert type(info.value) is ValueError and str(info.value) == "the input is bad"
        assert info.value.__notes__ == [
            "dds: nothing was stored for /p (test_function_errors.step raised ValueError); /p still holds its "
            "previous value."
        ]
    elif raised in (KeyboardInterrupt, SystemExit):
        assert not getattr(info.value, "__notes__", None)
    assert store_files(store, skip_locks=True) == before  # not one byte changed, no temporary left
    assert dds.load("/p")["version"] == 1
    with open(view, "rb") as f:
        assert pickle.load(f)["version"] == 1
    assert verify(store).ok
    # the lock taken for the failed signature was released: keeping it again does not wait
    done = []
    worker = threading.Thread(target=lambda: done.append(dds.keep("/p", step, 2)))
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the next keep is blocked by a lock the failed keep did not release"
    assert done and done[0]["version"] == 2 and dds.load("/p")["version"] == 2
    FIGURES.setdefault("in process", []).append(f"{failure}: nothing stored, previous value kept")


def traced(project) -> list[str]:
    return project.ran_file.read_text().splitlines() if project.ran_file.exists() else []


SLOW = {
    "proj/slow.py": '''
        import time
        from proj._trace import trace


        def slow(version, seconds):
            trace(f"started {version}")
            time.sleep(seconds)
            trace(f"finished {version}")
            return {"version": version, "rows": list(range(1000))}
    ''',
}
KEEP = ("import dds, sys, json; from proj.slow import slow; "
        "print(json.dumps(dds.keep('/p', slow, int(sys.argv[1]), float(sys.argv[2]))['version']))")


def test_sigint_while_the_function_runs_stores_nothing(tmp_path):
    project = Project(tmp_path, SLOW)
    first = subprocess.run([sys.executable, "-c", KEEP, "1", "0"], check=False, cwd=project.root, env=project.env(),
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0 and first.stdout.strip() == "1", first.stderr
    assert traced(project) == ["started 1", "finished 1"]
    project.ran_file.unlink()
    store = dds.store.LocalStore(internal_dir=project.store)
    before = store_files(store, skip_locks=True)
    proc = subprocess.Popen([sys.executable, "-c", KEEP, "2", "60"], cwd=project.root, env=project.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while traced(project) != ["started 2"] and time.time() < deadline:
        time.sleep(0.02)
    assert traced(project) == ["started 2"], "the function never started"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err[-2000:]
    assert traced(project) == ["started 2"]
    assert store_files(store, skip_locks=True) == before
    previous = dds.session._store
    try:
        dds.set_store("local", internal_dir=str(project.store))
        assert dds.load("/p")["version"] == 1
    finally:
        dds.session._store = previous
    t0 = time.perf_counter()
    again = subprocess.run([sys.executable, "-c", KEEP, "2", "0"], check=False, cwd=project.root, env=project.env(),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip() == "2", again.stderr
    assert time.perf_counter() - t0 < 30  # no stale lock in the way
    FIGURES["SIGINT while the function runs"] = "nothing stored, previous value kept"


def test_sigint_at_random_moments_of_a_keep_leaves_old_or_new_value(crash_site):  # noqa: F811 - the fixture
    host, store, log_file = crash_site
    rng = random.Random(SEED + 1)
    stats = new_stats()
    outcomes = {"interrupted": 0, "finished": 0, "killed": 0}
    host.start("once", 0)
    assert host.wait() == "finished"
    started = time.perf_counter()
    host.start("once", next_round(log_file))
    assert host.wait() == "finished"
    round_seconds = time.perf_counter() - started
    interrupts = max(10, KILLS // 2)
    for _ in range(interrupts):
        pid = host.start("write", next_round(log_file))
        time.sleep(rng.uniform(0.005, 1.2 * round_seconds))
        os.kill(pid, signal.SIGINT)
        if not host.answers.ready(15):  # the interrupt was swallowed: end it
            os.kill(pid, signal.SIGKILL)
        outcomes[host.wait()] += 1
        check_store(store, log_file, stats)
    assert outcomes["interrupted"] >= interrupts * 0.8, outcomes
    stats.pop("_dangling", None), stats.pop("_last", None)
    FIGURES["SIGINT at random moments"] = {**stats, "interrupts": interrupts, **outcomes}
