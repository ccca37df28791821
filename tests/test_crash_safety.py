"""Crash safety: processes keeping values are killed with SIGKILL in the middle of ``keep``, again and again.

Two kinds of kills, on the local store, each followed by the same checks:

* **random kills**: a writer keeps ``/crash/frame`` (a pandas frame of about 5 MB, Parquet codec) and
  ``/crash/obj`` (a dict of about 2.5 MB, pickle codec) in a loop, each round with new values, and is killed
  after a random delay (``random.Random(seed)``: the delays are reproducible, the exact instruction hit is
  up to the scheduler), often in the middle of writing a file;
* **a kill at every step**: a writer keeps a small value and kills itself right before its k-th file system
  operation (open for writing, mkdir, rename, replace, symlink, fsync, remove ...), for k = 1, 2, ... until
  a keep completes: every intermediate state a crash can leave is visited, deterministically.

After each kill the store is checked the way a crashed user would find it:

* every path holds the complete old value or the complete new one (loaded and compared with what that
  round computed), through ``dds.load`` and through the file people read in ``data_dir``;
* ``verify`` finds no problem, and what a kill leaves behind (temporaries, a blob folder without metadata)
  is never listed or loaded as a value;
* ``gc`` with grace 0 removes every leftover and keeps what the paths point to.

Starting Python with pandas and pyarrow takes about a second, so writers are forked from a *zygote* that
imported everything once: a kill costs one ``fork``, not one interpreter start. The zygote never writes
anything itself (no pyarrow thread exists when it forks). ``DDS_RELIABILITY_KILLS`` sets the number of random
kills (20 by default, ``make reliability`` runs 200), ``DDS_RELIABILITY_SEED`` their seed.
"""

from __future__ import annotations

import builtins
import functools
import os
import pickle
import random
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

FRAME, OBJ = "/crash/frame", "/crash/obj"  # big values, random kills
SMALL_FRAME, SMALL_OBJ = "/step/frame", "/step/obj"  # small values, a kill at every step
GROUP_OBJ = "/step/obj2"
GROUP = (SMALL_OBJ, SMALL_FRAME, GROUP_OBJ)  # three keeps in a row: a grouped commit
ROWS = {FRAME: 150_000, SMALL_FRAME: 50}  # 4 numeric columns: about 4.8 MB of Parquet for the big one
ITEMS = {OBJ: 40_000, SMALL_OBJ: 10, GROUP_OBJ: 12}
PAYLOAD = {OBJ: 1 << 21, SMALL_OBJ: 64, GROUP_OBJ: 32}
REPO_ROOT = Path(__file__).resolve().parents[1]


def make_frame(gen, rows):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(20240501)
    a = rng.random(rows)
    return pd.DataFrame({"gen": np.full(rows, gen, dtype="int64"), "a": a, "b": a * (gen + 1),
                         "i": np.arange(rows, dtype="int64") + gen})


def make_object(gen, items, payload):
    import numpy as np

    return {"gen": gen, "payload": np.random.default_rng(gen).bytes(payload),
            "items": [(i, f"{gen}-{i}") for i in range(items)]}


@functools.lru_cache(maxsize=8)
def expected(path: str, gen: int):
    """What round ``gen`` keeps at ``path``."""
    return make_frame(gen, ROWS[path]) if path in ROWS else make_object(gen, ITEMS[path], PAYLOAD[path])


def keep(path: str, gen: int):
    import dds

    if path in ROWS:
        return dds.keep(path, make_frame, gen, ROWS[path])
    return dds.keep(path, make_object, gen, ITEMS[path], PAYLOAD[path])


# ------------------------------------------------------------------------------------ the writer side
def _serve() -> None:
    """The zygote: import everything once, then fork one writer per command ``STORE LOG COMMAND ARGS`` read
    from stdin (the writer keeps values in the local store STORE, and logs what it does in LOG):

    ``once GEN`` keeps the big paths with round GEN; ``write GEN`` does rounds GEN, GEN+1 ... until killed;
    ``step PATH K GEN`` keeps PATH with round GEN and kills itself before its K-th file system operation;
    ``group K GEN`` does that over three keeps in a row (the second and third join a batch of the group
    commit, ``atomic.SyncBatch``).
    """
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import dds  # noqa: F401 - imported before forking, so a writer starts writing at once

    _warm_up()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a SIGINT meant for a writer must never reach the zygote
    for line in sys.stdin:
        if line.strip() == "quit":
            return
        store_dir, log_file, command, *args = line.split()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                signal.signal(signal.SIGINT, signal.default_int_handler)
                _writer(store_dir, log_file, command, args)
            except KeyboardInterrupt:  # SIGINT (test_function_errors): Python cleaned up on the way out
                with open(log_file, "a") as log:
                    log.write("interrupted\n")
                code = 130
            except BaseException as exc:  # noqa: BLE001 - reported to the test through the log
                with open(log_file, "a") as log:
                    log.write(f"error {type(exc).__name__}: {exc}\n")
                code = 3
            finally:
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"dead {status}", flush=True)


def _warm_up() -> None:
    """Fill dds's caches (parsed sources, library versions) before forking, so that a writer's time goes to
    writing; best effort (these are internals), and nothing here starts a thread or touches the store."""
    try:
        from dds.runinfo import library_versions
        from dds.signature import SignatureBuilder

        SignatureBuilder(load_sig=lambda p: None).call_signature(FRAME, make_frame, (0, 1), {})
        SignatureBuilder(load_sig=lambda p: None).call_signature(OBJ, make_object, (0, 1, 1), {})
        library_versions(make_frame.__module__)
    except Exception:  # noqa: BLE001, S110 - best effort
        pass


def _writer(store_dir: str, log_file: str, command: str, args: list[str]) -> None:
    import dds

    dds.set_store("local", internal_dir=store_dir)
    with open(log_file, "a", buffering=1) as log:
        if command == "step":
            path, kill_at, gen = args[0], int(args[1]), int(args[2])
            log.write(f"start {path} {gen}\n")
            with _killed_before_operation(kill_at) as counted:
                keep(path, gen)
            log.write(f"done {path} {gen}\n")
            log.write(f"operations {counted[0]}\n")
            return
        if command == "group":
            kill_at, gen = int(args[0]), int(args[1])
            with _killed_before_operation(kill_at) as counted:
                for path in GROUP:
                    log.write(f"start {path} {gen}\n")
                    keep(path, gen)
                    log.write(f"done {path} {gen}\n")
            log.write(f"operations {counted[0]}\n")
            return
        gen = int(args[0])
        while True:
            for path in (FRAME, OBJ):
                log.write(f"start {path} {gen}\n")
                keep(path, gen)
                log.write(f"done {path} {gen}\n")
            if command == "once":
                return
            gen += 1


_MUTATING_OS = ("mkdir", "rename", "replace", "symlink", "fsync", "remove", "unlink", "rmdir", "link", "truncate")


class _killed_before_operation:
    """Count the file system operations that change something; SIGKILL this process before the k-th one."""

    def __init__(self, kill_at: int):
        self.kill_at = kill_at
        self.count = [0]
        self.saved: dict = {}

    def _tick(self) -> None:
        self.count[0] += 1
        if self.count[0] == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def __enter__(self) -> list[int]:
        for name in _MUTATING_OS:
            real = getattr(os, name)
            self.saved[name] = real

            def hooked(*a, __real=real, **k):
                self._tick()
                return __real(*a, **k)

            setattr(os, name, hooked)
        real_open = builtins.open
        self.saved["open"] = real_open

        def hooked_open(file, mode="r", *a, **k):
            if any(c in mode for c in "wxa+"):
                self._tick()
            return real_open(file, mode, *a, **k)

        builtins.open = hooked_open
        return self.count

    def __exit__(self, *exc) -> None:
        builtins.open = self.saved.pop("open")
        for name, real in self.saved.items():
            setattr(os, name, real)


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve()
    sys.exit(0)


# -------------------------------------------------------------------------------------- the test side
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from reliability_report import record_figures

import dds
from dds.store.maintenance import gc, verify
from dds.store import LocalStore

KILLS = int(os.environ.get("DDS_RELIABILITY_KILLS", "20"))
SEED = int(os.environ.get("DDS_RELIABILITY_SEED", "5"))

#: A kill between refreshing data_dir/<path> and writing the ref leaves the view ahead of the ref; gc and the
#: next keep repair it (fixed; see test_data_view_survives_a_kill_between_view_and_ref). Set True only to
#: count such dangling views instead of failing, when investigating a regression.
KNOWN_VIEW_BUG = False


class Zygote:
    def __init__(self, cwd: Path):
        env = {k: v for k, v in os.environ.items() if not k.startswith("DDS_")}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen([sys.executable, __file__, "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=str(cwd))
        self.processes = 0
        self.store_dir = self.log_file = None  # where the writers of the current test write
        self.writer: int | None = None  # the pid of the writer running now, if any

    def use(self, store_dir: Path, log_file: Path) -> None:
        self.store_dir, self.log_file = store_dir, log_file
        self.processes = 0

    def _line(self, timeout: float = 120) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "the zygote did not answer"
        line = self.proc.stdout.readline()
        assert line, f"the zygote died (exit {self.proc.poll()})"
        return line

    def start(self, *command) -> int:
        self.proc.stdin.write(" ".join(map(str, (self.store_dir, self.log_file, *command))) + "\n")
        self.proc.stdin.flush()
        word, pid = self._line().split()
        assert word == "pid"
        self.processes += 1
        self.writer = int(pid)
        return self.writer

    def wait(self, timeout: float = 120) -> str:
        """Wait for the writer: ``"killed"`` (SIGKILL), ``"interrupted"`` (KeyboardInterrupt) or ``"finished"``;
        anything else (an exception in the writer) fails the test."""
        word, status = self._line(timeout).split()
        assert word == "dead"
        self.writer = None
        status = int(status)
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL:
            return "killed"
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 130:
            return "interrupted"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, self.log_file.read_text()[-3000:])
        return "finished"

    def stop_writer(self) -> None:
        """After a failed test: end the writer it left running (it would write forever)."""
        if self.writer is not None:
            try:
                os.kill(self.writer, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._line(30)
            self.writer = None

    def close(self) -> None:
        self.stop_writer()
        if self.proc.poll() is None:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.flush()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def progress(log_file: Path) -> dict[str, tuple[int, int]]:
    """``{path: (last round done, last round started)}`` from the writers' log."""
    done: dict[str, int] = {}
    started: dict[str, int] = {}
    for line in log_file.read_text().splitlines():
        word, *rest = line.split()
        if word in ("operations", "interrupted"):
            continue
        assert word in ("start", "done"), f"a writer failed: {line}"
        path, gen = rest[0], int(rest[1])
        (started if word == "start" else done)[path] = gen
    return {path: (done[path], started[path]) for path in started}


def next_round(log_file: Path) -> int:
    return max(started for _, started in progress(log_file).values()) + 1


def check_value(path: str, value, allowed: set[int]) -> int:
    """``value`` is the complete value of one of the ``allowed`` rounds; returns that round."""
    gen = int(value["gen"].iloc[0]) if path in ROWS else value["gen"]
    assert gen in allowed, f"{path} holds round {gen}, expected one of {sorted(allowed)}"
    if path in ROWS:
        assert_frame_equal(value, expected(path, gen))
    else:
        assert value == expected(path, gen), f"{path}: round {gen} is not the value that round computed"
    return gen


def read_view(store: LocalStore, path: str):
    """What a person (or another tool) reads at ``data_dir/<path>``."""
    where = store.data_path(path)
    if path in ROWS:
        return pd.read_parquet(where)[["gen", "a", "b", "i"]]
    with open(where, "rb") as f:
        return pickle.load(f)


def new_stats() -> dict:
    return dict.fromkeys(("kills", "values_replaced", "new_value_committed", "view_ahead_of_ref", "views_dangling_after_gc",
                          "left_temporaries", "left_unfinished_blob", "left_unreferenced_value",
                          "left_anything"), 0)


def check_store(store: LocalStore, log_file: Path, stats: dict) -> None:
    """Everything a killed writer may have left: old or new values, nothing damaged, no false value."""
    rounds = progress(log_file)
    loaded = {}
    views_ahead = set()
    dangling = stats.setdefault("_dangling", set())  # views left dangling by the known bug, until rewritten
    last = stats.setdefault("_last", {})  # what each path held after the previous kill
    allowed = {}
    for path, (done, started) in rounds.items():
        # the old value: the last round logged done, or a later one whose keep returned but was killed before
        # logging it (the previous check saw it); the new value: the round that was running
        allowed[path] = {max(done, last.get(path, done)), started}
        loaded[path] = check_value(path, dds.load(path), allowed[path])
        if loaded[path] == started != done:
            stats["new_value_committed"] += 1  # killed after the commit, before keep returned
        if loaded[path] != last.get(path, loaded[path]):
            stats["values_replaced"] += 1
        last[path] = loaded[path]
        if path in dangling and not os.path.exists(store.data_path(path)):
            continue
        dangling.discard(path)
        if check_value(path, read_view(store, path), allowed[path]) != loaded[path]:
            stats["view_ahead_of_ref"] += 1
            views_ahead.add(path)
    report = verify(store)
    assert report.ok, [p.message for p in report.problems]
    referenced = {sig for _, sig in store.iter_refs()}
    committed = set(store.iter_blob_sigs())
    unfinished = set(store.iter_blob_dirs()) - committed
    temporaries = list(store.iter_temp())
    assert referenced <= committed
    for sig in unfinished:  # a blob folder without metadata is not a value
        assert store.read_meta(sig) is None
        with pytest.raises(dds.NotFoundError):
            store.read(sig)
    stats["left_temporaries"] += bool(temporaries)
    stats["left_unfinished_blob"] += bool(unfinished)
    stats["left_unreferenced_value"] += bool(committed - referenced)
    stats["left_anything"] += bool(temporaries or unfinished or committed - referenced)

    gc(store, grace=0)
    assert list(store.iter_temp()) == [], "gc left temporaries behind"
    assert set(store.iter_blob_dirs()) == set(store.iter_blob_sigs()) == referenced
    assert verify(store).ok
    for path in rounds:
        assert check_value(path, dds.load(path), {loaded[path]}) == loaded[path]
        if KNOWN_VIEW_BUG and path in views_ahead and not os.path.exists(store.data_path(path)):
            stats["views_dangling_after_gc"] += 1
            dangling.add(path)
            continue
        if path not in dangling:
            check_value(path, read_view(store, path), allowed[path])


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    zygote = Zygote(tmp_path_factory.mktemp("zygote"))
    yield zygote
    zygote.close()


@pytest.fixture
def crash_site(tmp_path, zygote):
    store_dir, log_file = tmp_path / "store", tmp_path / "writers.log"
    log_file.write_text("")
    zygote.use(store_dir, log_file)
    previous = dds.api._store
    dds.set_store("local", internal_dir=str(store_dir))
    yield zygote, LocalStore(internal_dir=store_dir), log_file
    zygote.stop_writer()
    dds.api._store = previous


def dds_verify_cli(store: LocalStore) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dds.cli", "--store", store.root, "verify"], check=False,
                          capture_output=True, text=True, cwd=REPO_ROOT)


def test_sigkill_at_random_moments_leaves_old_or_new_value(crash_site):
    zygote, store, log_file = crash_site
    rng = random.Random(SEED)
    stats = new_stats()
    t0 = time.perf_counter()
    zygote.start("once", 0)  # the older value both paths already hold
    assert zygote.wait() == "finished"
    check_store(store, log_file, stats)
    started = time.perf_counter()  # one uninterrupted round: the scale of the random delays
    zygote.start("once", next_round(log_file))
    assert zygote.wait() == "finished"
    round_seconds = time.perf_counter() - started
    for _ in range(KILLS):
        pid = zygote.start("write", next_round(log_file))
        time.sleep(rng.uniform(0.0, 1.2 * round_seconds))
        os.kill(pid, signal.SIGKILL)
        assert zygote.wait() == "killed", "the writer ended before it was killed"
        stats["kills"] += 1
        check_store(store, log_file, stats)
    elapsed = time.perf_counter() - t0
    cli = dds_verify_cli(store)
    assert cli.returncode == 0 and ": ok" in cli.stdout, cli.stdout + cli.stderr
    # the kills really landed inside keeps, not only between them
    assert stats["left_anything"] > 0, stats
    stats.pop("_dangling", None), stats.pop("_last", None)
    record_figures("crash_random", {**stats, "seed": SEED, "writer_processes": zygote.processes,
                                    "seconds": round(elapsed, 1), "round_seconds": round(round_seconds, 3),
                                    "frame_bytes": _blob_size(store, FRAME), "obj_bytes": _blob_size(store, OBJ)})


def _blob_size(store: LocalStore, path: str) -> int:
    meta = store.read_meta(store.get_ref(path))
    return sum(f["size"] for f in meta["files"].values())


@pytest.mark.parametrize("path", [SMALL_FRAME, SMALL_OBJ])
def test_sigkill_before_every_file_operation_of_a_keep(crash_site, path):
    zygote, store, log_file = crash_site
    stats = new_stats()
    zygote.start("step", path, 0, 0)  # kill_at 0: never killed; the older value
    assert zygote.wait() == "finished"
    check_store(store, log_file, stats)
    kill_at = 0
    while True:
        kill_at += 1
        assert kill_at < 500, "a keep that never ends"
        zygote.start("step", path, kill_at, next_round(log_file))
        outcome = zygote.wait()
        check_store(store, log_file, stats)
        if outcome == "finished":
            break
        stats["kills"] += 1
    operations = int(log_file.read_text().split("operations ")[-1].split()[0])
    assert stats["kills"] == operations == kill_at - 1 > 10
    assert stats["left_temporaries"] > 0 and stats["left_unfinished_blob"] > 0 and stats["new_value_committed"] > 0
    assert dds_verify_cli(store).returncode == 0
    stats.pop("_dangling", None), stats.pop("_last", None)
    name = "crash_steps_" + path.rsplit("/", 1)[-1]
    record_figures(name, {**stats, "writer_processes": zygote.processes, "operations_per_keep": operations})


def test_leftovers_are_never_taken_for_a_value_and_gc_removes_them(crash_site):
    """A kill between the blob folder's rename and its metadata: the folder is complete but not a value."""
    zygote, store, log_file = crash_site
    zygote.start("step", SMALL_OBJ, 0, 0)
    assert zygote.wait() == "finished"
    sig0 = store.get_ref(SMALL_OBJ)
    # find the first kill point that leaves a blob folder without metadata
    for kill_at in range(1, 100):
        zygote.start("step", SMALL_OBJ, kill_at, next_round(log_file))
        assert zygote.wait() == "killed"
        unfinished = set(store.iter_blob_dirs()) - set(store.iter_blob_sigs())
        if unfinished:
            break
        gc(store, grace=0)
    else:
        pytest.fail("no kill point left an unfinished blob")
    (sig,) = unfinished
    assert os.listdir(store.blob_dir(sig))  # the files are all there...
    assert store.read_meta(sig) is None and sig not in set(store.iter_blob_sigs())  # ...but it is not a value
    assert store.get_ref(SMALL_OBJ) == sig0 and dds.load(SMALL_OBJ)["gen"] == 0
    report = verify(store)
    assert report.ok and any(store.blob_dir(sig) in note for note in report.notes)
    # a young leftover survives gc's grace period (a writer may still be working on it); an old one goes
    young = gc(store)  # default grace: one hour
    assert sig in young.kept_recent and sig not in {r.sig for r in young.removed}
    assert os.path.isdir(store.blob_dir(sig))
    removed = gc(store, grace=0).removed
    assert any(r.kind == "unfinished" and r.sig == sig for r in removed)
    assert not os.path.exists(store.blob_dir(sig))
    # the next keep of that round writes it again, completely
    zygote.start("step", SMALL_OBJ, 0, progress(log_file)[SMALL_OBJ][1])
    assert zygote.wait() == "finished"
    assert store.get_ref(SMALL_OBJ) == sig and dds.load(SMALL_OBJ) == expected(SMALL_OBJ, progress(log_file)[SMALL_OBJ][0])


def _kill_between_view_and_ref(zygote, store, log_file) -> tuple[str, str]:
    """Kill a keep of SMALL_OBJ right after data_dir/<path> moved to the new blob, before the ref did."""
    zygote.start("step", SMALL_OBJ, 0, 0)
    assert zygote.wait() == "finished"
    old = store.get_ref(SMALL_OBJ)
    view = store.data_path(SMALL_OBJ)
    for kill_at in range(1, 100):
        zygote.start("step", SMALL_OBJ, kill_at, next_round(log_file))
        assert zygote.wait() == "killed", "no kill point fell between the view and the ref"
        if os.path.realpath(view) != os.path.realpath(os.path.join(store.blob_dir(old), "data.pkl")):
            assert store.get_ref(SMALL_OBJ) == old
            return old, view
        gc(store, grace=0)
    pytest.fail("no kill point fell between the view and the ref")


def test_data_view_survives_a_kill_between_view_and_ref(crash_site):
    zygote, store, log_file = crash_site
    _old, view = _kill_between_view_and_ref(zygote, store, log_file)
    gc(store, grace=0)
    with open(view, "rb") as f:  # the view must still be a value: dangling after gc today
        assert pickle.load(f) == dds.load(SMALL_OBJ)


def test_keep_repairs_a_view_left_ahead_of_its_ref(crash_site):
    zygote, store, log_file = crash_site
    _old, view = _kill_between_view_and_ref(zygote, store, log_file)
    zygote.start("step", SMALL_OBJ, 0, 0)  # keep the old round again: loads it, path unchanged
    assert zygote.wait() == "finished"
    with open(view, "rb") as f:
        assert pickle.load(f) == dds.load(SMALL_OBJ) == expected(SMALL_OBJ, 0)


def test_sigkill_before_every_file_operation_of_a_grouped_commit(crash_site):
    """Three keeps in a row: the first, after a quiet spell, is made durable file by file; the two that follow
    join a batch synced later (one sync for the group). A kill before every operation of the whole group
    leaves each path with its old value or its new one, and the store consistent."""
    zygote, store, log_file = crash_site
    stats = new_stats()
    zygote.start("group", 0, 0)  # never killed: the older values
    assert zygote.wait() == "finished"
    check_store(store, log_file, stats)
    kill_at = 0
    while True:
        kill_at += 1
        assert kill_at < 1500, "a group that never ends"
        zygote.start("group", kill_at, next_round(log_file))
        outcome = zygote.wait()
        check_store(store, log_file, stats)
        if outcome == "finished":
            break
        stats["kills"] += 1
    operations = int(log_file.read_text().split("operations ")[-1].split()[0])
    assert stats["kills"] == operations == kill_at - 1
    assert stats["new_value_committed"] > 0 and stats["left_unfinished_blob"] > 0
    assert dds_verify_cli(store).returncode == 0


def test_a_batched_keep_fsyncs_nothing_before_it_returns_and_the_batch_syncs_later(tmp_path):
    """The group commit: a keep right after another defers its syncs to the batch; every value is stored."""
    from dds.store import atomic

    store = LocalStore(internal_dir=tmp_path / "store")
    store._batch.max_delay = 3600.0  # a slow machine must not close the batch between the keeps
    previous = dds.api._store
    dds.api._store = store
    fsyncs = []
    real = os.fsync
    os.fsync = lambda fd: (fsyncs.append(fd), real(fd))[1]
    try:
        first = dds.keep("/g/a", make_object, 1, 3, 8)  # after a quiet spell: synced file by file
        synced_first = len(fsyncs)
        values = [dds.keep(f"/g/b{i}", make_object, i, 3, 8) for i in range(5)]  # joined the batch
        batched = len(fsyncs) - synced_first
        assert store._batch._pending  # their files and folders wait for the batch's sync
        store.flush()
        assert not store._batch._pending
    finally:
        os.fsync = real
        dds.api._store = previous
    assert synced_first >= 4 and batched == 0
    assert first == make_object(1, 3, 8) and values == [make_object(i, 3, 8) for i in range(5)]
    assert verify(store).ok
    each = LocalStore(internal_dir=tmp_path / "each", sync="each")
    assert each._batch is None and isinstance(store._batch, atomic.SyncBatch)


def test_the_sync_option_is_checked():
    with pytest.raises(dds.StoreError, match="sync='batch'"):
        LocalStore(internal_dir="unused", sync="never")
