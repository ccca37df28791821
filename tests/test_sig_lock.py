"""The local store's lock per signature (``dds/store/sig_lock.py``): one byte of one shared lock file, POSIX
record locks. Behaviour only: processes exclude each other and a killed holder frees its signature, threads
of one process exclude each other, nested holders in one process neither deadlock nor release each other's
lock, and no second descriptor of the file ever drops the process's locks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from dds.store import create_store, sig_lock

pytestmark = pytest.mark.skipif(not sig_lock.available(), reason="POSIX record locks only")

SIG_A = "a" * 40
SIG_B = "b" * 40

HOLD = r'''
import sys, time
from dds.store import create_store
store = create_store("local", internal_dir=sys.argv[1])
with store.lock(sys.argv[2]):
    print("held", flush=True)
    time.sleep(float(sys.argv[3]))
print("released", flush=True)
'''

PROBE = r'''
import fcntl, os, sys
from dds.store import sig_lock
fd = os.open(os.path.join(sys.argv[1], "locks", sig_lock.FILE_NAME), os.O_RDWR)
try:
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, sig_lock.offset_of(sys.argv[2]), os.SEEK_SET)
except OSError:
    print("busy")
else:
    print("free")
'''


def _holder(root, sig, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), sig, str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _probe(root, sig):
    """Whether another process could take ``sig``'s byte right now."""
    out = subprocess.run([sys.executable, "-c", PROBE, str(root), sig], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_a_second_process_waits_for_the_holder(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path))
    holder = _holder(tmp_path, SIG_A, 1.5)
    t0 = time.monotonic()
    with store.lock(SIG_A):
        waited = time.monotonic() - t0
        assert holder.poll() is not None or holder.stdout.readline().strip() == "released"
    holder.wait(timeout=30)
    assert waited > 0.5
    with store.lock(SIG_B):  # another signature: free at once, whoever holds A
        pass


def test_other_signatures_are_free_while_one_is_held(tmp_path):
    create_store("local", internal_dir=str(tmp_path))
    holder = _holder(tmp_path, SIG_A, 30)
    try:
        assert _probe(tmp_path, SIG_A) == "busy"
        assert _probe(tmp_path, SIG_B) == "free"
    finally:
        holder.kill()
        holder.wait()


def test_a_sigkilled_holder_releases_the_lock(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path))
    holder = _holder(tmp_path, SIG_A, 600)
    assert _probe(tmp_path, SIG_A) == "busy"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    done = threading.Event()

    def take():
        with store.lock(SIG_A):
            done.set()

    threading.Thread(target=take, daemon=True).start()
    assert done.wait(30), "the lock of a killed holder was never released"


def test_threads_of_one_process_exclude_each_other(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path))
    inside, most, errors = [0], [0], []
    count = threading.Lock()

    def work():
        try:
            for _ in range(20):
                with store.lock(SIG_A):
                    with count:
                        inside[0] += 1
                        most[0] = max(most[0], inside[0])
                    time.sleep(0.001)
                    with count:
                        inside[0] -= 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1
    assert sig_lock.lock_file(str(tmp_path / "locks")).held() == {}  # every byte unlocked at the end
    assert _probe(tmp_path, SIG_A) == "free"


def test_a_thread_holding_a_signature_keeps_other_processes_out_while_another_thread_leaves(tmp_path):
    """Two threads hold signatures sharing a byte: the byte stays locked until the last one leaves."""
    store = create_store("local", internal_dir=str(tmp_path))
    first, second = store.lock(SIG_A), store.lock(SIG_B)
    original = sig_lock.offset_of
    try:
        sig_lock.offset_of = lambda sig: 7  # every signature on one byte
        first.acquire()
        t = threading.Thread(target=lambda: (second.acquire(), second.release()))
        t.start()
        t.join(10)
        assert not t.is_alive(), "a second signature on a byte this process holds waited for itself"
        assert _probe_offset(tmp_path, 7) == "busy"  # the first holder still holds it
        first.release()
        assert _probe_offset(tmp_path, 7) == "free"
    finally:
        sig_lock.offset_of = original


def _probe_offset(root, offset):
    code = PROBE.replace("sig_lock.offset_of(sys.argv[2])", str(offset))
    return subprocess.run([sys.executable, "-c", code, str(root), "x"], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_nested_holders_in_one_thread(tmp_path):
    """A keep inside a keep: the same signature enters again (as filelock did), another one sharing its byte
    neither deadlocks nor releases the outer lock."""
    store = create_store("local", internal_dir=str(tmp_path))
    with store.lock(SIG_A):
        with store.lock(SIG_A):
            pass
        assert _probe(tmp_path, SIG_A) == "busy"
    assert _probe(tmp_path, SIG_A) == "free"
    original = sig_lock.offset_of
    try:
        sig_lock.offset_of = lambda sig: 11
        with store.lock(SIG_A):
            with store.lock(SIG_B):
                pass
            assert _probe_offset(tmp_path, 11) == "busy"
        assert _probe_offset(tmp_path, 11) == "free"
    finally:
        sig_lock.offset_of = original


def test_another_store_on_the_same_folder_shares_the_descriptor(tmp_path):
    """Closing any descriptor of the file would drop the process's locks: a second store object (or its
    collection) never opens, let alone closes, another one."""
    import gc

    first = create_store("local", internal_dir=str(tmp_path))
    with first.lock(SIG_A):
        other = create_store("local", internal_dir=str(tmp_path))
        with other.lock(SIG_B):
            pass
        del other
        gc.collect()
        assert _probe(tmp_path, SIG_A) == "busy"
    assert sig_lock.lock_file(str(tmp_path / "locks")) is sig_lock.lock_file(str(tmp_path / "locks"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_holds_none_of_its_parents_locks(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path))
    with store.lock(SIG_A):
        pid = os.fork()
        if pid == 0:  # the child: A is the parent's (busy to the child), B is free, its counts are empty
            code = 1
            try:
                import fcntl

                fd = sig_lock.lock_file(str(tmp_path / "locks")).fd
                try:
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, sig_lock.offset_of(SIG_A), os.SEEK_SET)
                except OSError:
                    with store.lock(SIG_B):
                        code = 0 if sig_lock.lock_file(str(tmp_path / "locks")).held() else 2
                else:
                    code = 3
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert _probe(tmp_path, SIG_A) == "busy"  # the child's exit dropped only its own locks
    assert _probe(tmp_path, SIG_A) == "free"



def test_a_store_deleted_and_made_again_in_one_process_locks_its_new_file(tmp_path, monkeypatch):
    """The lock file is found again by (device, inode). After its store is deleted, a new lock file may get the
    old one's inode number; the process must then lock the new file, or its lock would exclude nobody. The
    reuse is set up exactly: the registry holds, under the new file's inode, a descriptor of a deleted file."""
    root = tmp_path / "store"
    (root / "locks").mkdir(parents=True)
    deleted = tmp_path / "deleted.lock"
    fd = os.open(deleted, os.O_RDWR | os.O_CREAT)
    os.unlink(deleted)
    new = root / "locks" / sig_lock.FILE_NAME
    new.touch()
    st = os.stat(new)
    monkeypatch.setitem(sig_lock._files, (st.st_dev, st.st_ino), sig_lock._LockFile(fd))
    store = create_store("local", internal_dir=str(root))
    with store.lock(SIG_A):
        assert _probe(root, SIG_A) == "busy"
    assert _probe(root, SIG_A) == "free"
