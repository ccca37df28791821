"""Concurrent keeps in separate processes: one computation per signature, no waiting across signatures,
and a lock left by a killed process does not block anyone."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from _tracking import CALLS, record
from pipeline_project import Project

FILES = {
    "proj/slow.py": '''
        import json, os, time
        import dds
        from proj._trace import trace


        def slow(tag, seconds):
            started = time.time()
            trace(tag)
            time.sleep(seconds)
            with open(os.environ["SPANS_FILE"], "a") as f:
                f.write(json.dumps([tag, started, time.time()]) + "\\n")
            return {"tag": tag, "payload": list(range(1000))}
    ''',
}

KEEP = "import dds, sys, json; from proj.slow import slow; print(json.dumps(dds.keep(sys.argv[1], slow, sys.argv[2], float(sys.argv[3]))))"


def start(project, path, tag, seconds):
    env = project.env()
    env["SPANS_FILE"] = str(project.root / "spans.txt")
    return subprocess.Popen([sys.executable, "-c", KEEP, path, tag, str(seconds)], cwd=project.root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def spans(project):
    path = project.root / "spans.txt"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def project(tmp_path):
    return Project(tmp_path, FILES)


def test_eight_processes_keeping_the_same_path_run_the_function_once(project):
    procs = [start(project, "/same", "same", 1.0) for _ in range(8)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    values = {o[0] for o in outs}
    assert len(values) == 1 and json.loads(values.pop())["tag"] == "same"
    assert project.ran() == ["same"]  # the body ran exactly once


def test_processes_keeping_different_paths_do_not_wait_for_each_other(project):
    procs = [start(project, f"/p{i}", f"t{i}", 3.0) for i in range(8)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()[-2000:]
    intervals = spans(project)
    assert len(intervals) == 8
    latest_start = max(s for _, s, _ in intervals)
    earliest_end = min(e for _, _, e in intervals)
    assert latest_start < earliest_end  # every body was running at one same moment: nobody waited


def test_a_lock_held_by_a_killed_process_is_recovered(project):
    holder = start(project, "/same", "killed", 60.0)
    deadline = time.time() + 60
    while "killed" not in project.ran() and time.time() < deadline:
        time.sleep(0.05)
    assert "killed" in project.ran(), "the first process never started computing"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    second = start(project, "/same", "killed", 0.0)
    out, err = second.communicate(timeout=60)
    assert second.returncode == 0, err[-2000:]
    assert json.loads(out)["tag"] == "killed"


def _slow_value():
    record("slow_value")
    time.sleep(0.3)
    return [1, 2, 3]


def test_threads_keeping_the_same_signature_on_a_memory_store_compute_once():
    import threading

    import dds

    dds.reject_module("_tracking")
    CALLS.clear()
    dds.set_store("memory")
    results = []
    threads = [threading.Thread(target=lambda: results.append(dds.keep("/t", _slow_value))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[1, 2, 3]] * 6
    assert CALLS == ["slow_value"]


PIPELINE_40 = '''
import dds
from proj.slow import slow

for round_ in range(3):
    for i in range(40):
        dds.keep(f"/many/p{i}", slow, f"r{round_}-{i}", 0.0)
print("DONE")
'''


def test_gc_running_while_a_pipeline_writes_deletes_nothing_referenced(project):
    """gc in a loop (default grace period) while another process keeps 120 values over 40 paths: the
    pipeline finishes, every path loads its last value, and the store verifies."""
    from dds.store.maintenance import gc, verify
    from dds.store import create_store

    env = project.env()
    env["SPANS_FILE"] = str(project.root / "spans.txt")
    writer = subprocess.Popen([sys.executable, "-c", PIPELINE_40], cwd=project.root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = None
    collections = 0
    while writer.poll() is None:
        if store is None and (project.store / "meta").exists():
            store = create_store("local", internal_dir=str(project.store))
        if store is not None:
            gc(store)
            collections += 1
    out, err = writer.communicate()
    assert writer.returncode == 0 and "DONE" in out, err[-2000:]
    assert collections > 0, "gc never ran while the pipeline was writing"
    store = create_store("local", internal_dir=str(project.store))
    for i in range(40):
        assert store.read(store.get_ref(f"/many/p{i}"))["tag"] == f"r2-{i}"
    assert verify(store).ok
