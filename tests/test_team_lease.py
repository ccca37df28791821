"""Compute once across machines: processes sharing only an object store (moto S3 on 127.0.0.1, or a file://
folder) run a step once; a SIGKILLed lease holder is taken over after its lease; stores without an atomic
create keep running without a lease.

The processes share no local lock (each has its own DDS_DIR and temporary folder); the body counts its runs in
a file on local disk, and is held inside the step by a gate file the test creates, so no assertion depends on
timing.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from dds.errors import StoreError
from dds.store import create_store

STEP = textwrap.dedent('''
    import json, logging, os, sys, time
    import dds

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    where = json.loads(os.environ["TEAM_STORE"])
    dds.set_store("fsspec", url=where["url"], lease_seconds=float(os.environ["TEAM_LEASE"]), **where["options"])
    RUNS = os.environ["TEAM_RUNS"]
    GATE = os.environ["TEAM_GATE"]


    def slow_step(n):
        with open(RUNS, "a") as f:
            f.write(f"{os.getpid()}\\n")
        for _ in range(1200):  # bounded: at most 2 minutes, then it returns anyway
            if os.path.exists(GATE):
                break
            time.sleep(0.1)
        return {"answer": n * 2, "items": list(range(n))}


    print(json.dumps(dds.keep("/team/slow", slow_step, 21)))
''')
PLAIN = {"answer": 42, "items": list(range(21))}  # what slow_step(21) returns in plain Python


@pytest.fixture(params=["s3", "file"])
def where(request, tmp_path):
    if request.param == "s3":
        s3 = request.getfixturevalue("s3")
        return {"url": s3.url(f"lease-{os.urandom(4).hex()}"), "options": s3.storage_options}
    return {"url": (tmp_path / "shared-store").as_uri(), "options": {}}


class Machine:
    """A fresh process with its own local state, keeping /team/slow in the shared store."""

    def __init__(self, tmp_path, where, name, lease=2.0):
        home = tmp_path / name
        home.mkdir()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
               "TEAM_STORE": json.dumps(where), "TEAM_LEASE": str(lease),
               "TEAM_RUNS": str(tmp_path / "runs.txt"), "TEAM_GATE": str(tmp_path / "gate"),
               "DDS_DIR": str(home / ".dds"), "TMPDIR": str(home)}
        script = tmp_path / "step.py"
        script.write_text(STEP)
        self.err_path = home / "stderr.txt"
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(script)], cwd=home, env=env, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)

    def stderr(self):
        return self.err_path.read_text()

    def result(self):
        out, _ = self.proc.communicate(timeout=180)
        self.err.close()
        assert self.proc.returncode == 0, self.stderr()[-3000:]
        return json.loads(out)


def wait_for(condition, what, machines=()):
    for _ in range(1200):  # bounded: 2 minutes
        if condition():
            return
        for m in machines:
            assert m.proc.poll() is None, f"a process ended while waiting for {what}: {m.stderr()[-3000:]}"
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def runs(tmp_path):
    path = tmp_path / "runs.txt"
    return path.read_text().split() if path.exists() else []


def test_two_machines_keeping_the_same_step_run_it_once(tmp_path, where):
    a = Machine(tmp_path, where, "a")
    wait_for(lambda: len(runs(tmp_path)) == 1, "the first machine to start the step", [a])
    b = Machine(tmp_path, where, "b")
    wait_for(lambda: "waiting for signature" in b.stderr(), "the second machine to wait for the lease", [a, b])
    (tmp_path / "gate").touch()
    assert a.result() == PLAIN
    assert b.result() == PLAIN
    assert runs(tmp_path) == [str(a.proc.pid)]  # the body ran once, on the machine holding the lease
    assert "loaded" in b.stderr() and "took over" not in b.stderr()
    assert_no_lease_left(where)


def test_a_killed_holder_is_taken_over_after_its_lease(tmp_path, where):
    a = Machine(tmp_path, where, "a")
    wait_for(lambda: len(runs(tmp_path)) == 1, "the first machine to start the step", [a])
    b = Machine(tmp_path, where, "b")
    wait_for(lambda: "waiting for signature" in b.stderr(), "the second machine to wait for the lease", [a, b])
    a.proc.send_signal(signal.SIGKILL)  # mid-lease, inside the step: nothing is released
    a.proc.wait(timeout=60)
    a.err.close()
    (tmp_path / "gate").touch()
    assert b.result() == PLAIN
    assert runs(tmp_path) == [str(a.proc.pid), str(b.proc.pid)]
    assert "took over the lease" in b.stderr()
    assert_no_lease_left(where)  # the dead holder's generation was removed with the taker's own


def assert_no_lease_left(where):
    store = create_store("fsspec", url=where["url"], **where["options"])
    store.fs.invalidate_cache()
    assert [p for p in store.fs.find(store._at("leases")) if not p.endswith("/")] == []


def test_a_released_lease_without_a_value_is_taken_at_once(tmp_path, caplog):
    """The function raised: its lease is marked released, so the next keep takes it without waiting a period."""
    store = create_store("fsspec", url=(tmp_path / "s").as_uri(), lease_seconds=3600)
    sig = "ab" * 16
    with store.lock(sig) as first:
        assert first.held == "0000000000"
    with caplog.at_level("INFO", logger="dds.store"), store.lock(sig) as second:
        assert second.held == "0000000001"  # a lease of an hour, yet taken at once
    assert "waiting for" not in caplog.text and "took over" not in caplog.text


def test_a_waiter_stops_waiting_when_the_value_is_committed(tmp_path):
    """A live holder's lease is never taken; the waiter returns once the value is stored, without the lease."""
    store = create_store("fsspec", url=(tmp_path / "s").as_uri(), lease_seconds=3600)
    sig = "cd" * 16
    with store.lock(sig) as holder:
        store.write(sig, {"x": 1}, {"path": "/x"})
        with store.lock(sig) as waiter:
            assert holder.held and waiter.held is None
    assert store.read(sig) == {"x": 1}


def test_stores_without_an_atomic_create_keep_running_without_a_lease():
    store = create_store("fsspec", url="memory://no-lease-here")
    assert not store.has_leases
    with store.lock("ef" * 16) as held:
        assert held is None  # today's behaviour: a no-op, write-once blobs make a duplicate run harmless


@pytest.mark.parametrize("bad", [0, -5, "soon"])
def test_a_bad_lease_period_is_refused_with_the_fix(tmp_path, bad):
    with pytest.raises(StoreError, match=r"lease_seconds=.*Fix: lease_seconds=60"):
        create_store("fsspec", url=(tmp_path / "s").as_uri(), lease_seconds=bad)


def test_gc_removes_finished_leases_and_never_a_live_one(tmp_path):
    from dds.store.maintenance import gc

    store = create_store("fsspec", url=(tmp_path / "s").as_uri(), lease_seconds=3600)
    with store.lock("ab" * 16):
        pass  # the step raised: nothing stored, the lease is marked released
    with store.lock("cd" * 16) as live:
        removed = [r.where for r in gc(store, grace=0).removed]
        assert removed == [store._at("leases", "ab" * 16, "0000000000")]
        assert live.held == "0000000000" and os.path.exists(store._at("leases", "cd" * 16, "0000000000"))
