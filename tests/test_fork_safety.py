"""A process forked while another of its threads was inside dds can still keep, load and exit.

``os.fork`` copies only the calling thread: a lock another thread held at that moment stays held in the child
forever (issue 17: the crash tests fork their writers; Linux's ``multiprocessing`` forks at any time). Each
case forks while a thread holds one of dds's locks (taken by the test, deterministically, exactly where the
store's sync timer or a ``keep`` in a thread pool holds it), and the child then keeps new values, loads old
ones and syncs. The scenario runs in a fresh interpreter; the child has ``alarm`` seconds to finish, so a
hang is reported as such instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCENARIO = textwrap.dedent("""
    import importlib, json, os, signal, sys, threading
    import dds

    holder_of = sys.argv[1]
    dds.set_store("local", internal_dir=sys.argv[2])

    def obj(x):
        return {"x": x}

    def number(x):
        return x * 7

    def uses():
        return dds.load("/old/obj")["x"] + 1  # a literal path: the signature reads its content digest

    def uses_new():
        return dds.load("/new/obj")["x"] + 1  # a value the parent never saw: its digest is computed now

    dds.keep("/old/obj", obj, 1)
    dds.keep("/old/n", number, 2)  # right after the first: joins a batch, whose timer thread now runs
    store = dds.session._store
    assert store._batch._timer is not None, "the batch has no timer: the scenario lost its point"
    locks = {
        "batch": lambda: store._batch._lock,  # the sync timer takes it to close a batch
        "flusher": lambda: importlib.import_module("dds.store.atomic")._flusher._changed,
        "content": lambda: importlib.import_module("dds.store.content")._lock,
        "value_memo": lambda: importlib.import_module("dds.step.value_memo")._lock,
        "provenance": lambda: importlib.import_module("dds.step.provenance")._lock,
    }
    lock = locks[holder_of]()
    held, done = threading.Event(), threading.Event()

    def hold():
        with lock:
            held.set()
            done.wait()

    threading.Thread(target=hold, daemon=True).start()
    held.wait()
    pid = os.fork()
    if pid == 0:
        signal.alarm(int(sys.argv[3]))  # a hang ends as SIGALRM
        got = [dds.keep("/new/obj", obj, 3), dds.keep("/new/n", number, 4), dds.keep("/new/uses", uses),
               dds.keep("/new/uses_new", uses_new),
               dds.load("/old/obj"), dds.load("/old/n")]
        store.flush()
        with open(sys.argv[2] + ".child", "w") as f:
            json.dump(got, f)
        os._exit(0)
    done.set()
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}))
""")


def run_scenario(tmp_path, holder: str, alarm: int = 30) -> tuple[int, list | None]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]),
           "DDS_CODE_CACHE": str(tmp_path / "code"), "DDS_FILE_CACHE": str(tmp_path / "files")}
    store = tmp_path / "store"
    out = subprocess.run([sys.executable, "-c", SCENARIO, holder, str(store), str(alarm)], capture_output=True,
                         text=True, env=env, timeout=alarm + 60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    code = json.loads(out.stdout.strip().splitlines()[-1])["exit"]
    child = store.with_name("store.child")
    return code, json.loads(child.read_text()) if child.exists() else None


@pytest.mark.parametrize("holder", ["batch", "flusher", "content", "value_memo", "provenance"])
def test_a_child_forked_while_a_thread_holds_a_dds_lock_can_keep(tmp_path, holder):
    code, got = run_scenario(tmp_path, holder)
    assert code != -14, f"the child forked while another thread held dds's {holder} lock hung (killed by its alarm)"
    assert code == 0
    assert got == [{"x": 3}, 28, 2, 4, {"x": 1}, 14]


LEASE_SCENARIO = textwrap.dedent("""
    import json, os, sys
    import dds

    dds.set_store("fsspec", internal_dir=sys.argv[1])
    store = dds.session._store
    assert store.has_leases
    seen = {}

    def step():
        pid = os.fork()
        if pid == 0:  # a child that leaves through keep's stack, as `sys.exit` in a forked worker does
            sys.exit(0)
        os.waitpid(pid, 0)
        leases = store._at("leases")
        (sig,) = os.listdir(leases)
        (generation,) = os.listdir(os.path.join(leases, sig))
        with open(os.path.join(leases, sig, generation), "rb") as f:
            seen["released"] = json.loads(f.read())["released"]
        return 5

    value = dds.keep("/leased", step)
    print(json.dumps({"value": value, **seen}))
""")


def test_a_child_forked_inside_a_step_leaves_the_parents_lease_alone(tmp_path):
    """The lease is the parent's: a child ending its copy of the body must not release it (another machine
    would take over a step still running), nor wait on the heartbeat's event, whose lock may be held."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO_ROOT, os.environ.get("PYTHONPATH", "")]),
           "DDS_CODE_CACHE": str(tmp_path / "code"), "DDS_FILE_CACHE": str(tmp_path / "files")}
    out = subprocess.run([sys.executable, "-c", LEASE_SCENARIO, str(tmp_path / "store")], capture_output=True,
                         text=True, env=env, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"value": 5, "released": False}
