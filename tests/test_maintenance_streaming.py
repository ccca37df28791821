"""gc, verify and ls on stores with many values: streamed, in path order, with progress, and through the
maintenance protocol only (issue 17, issue 15). Speed and memory are measured in bench/million.py, not here."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import pytest

from dds.errors import StoreError
from dds.store import MaintainableStore, Store, create_store
from dds.store import maintenance, sigset
from dds.store.maintenance import DEFAULT_GRACE_S, gc, verify
from dds.store.sigset import SigSet

LATER = time.time() + 10 * DEFAULT_GRACE_S
N = 60  # values in the many-values store: half referenced


def sig_of(i: int) -> str:
    return hashlib.blake2b(f"streaming {i}".encode(), digest_size=20).hexdigest()


@pytest.fixture(params=["local", "memory"])
def many(request, tmp_path):
    """A store of N values; the even ones referenced at /g<i % 3>/v<i>, the odd ones by no path."""
    if request.param == "local":
        store = create_store("local", internal_dir=str(tmp_path / ".dds"))
    else:
        store = create_store("memory")
    for i in range(N):
        store.write(sig_of(i), f"value {i}", {"path": f"/g{i % 3}/v{i}"})
        if i % 2 == 0:
            store.set_ref(f"/g{i % 3}/v{i}", sig_of(i))
    return store


REFERENCED = sorted(sig_of(i) for i in range(0, N, 2))
ORPHANS = sorted(sig_of(i) for i in range(1, N, 2))


# ------------------------------------------------------------------------------------------- SigSet
def test_sigset_holds_hex_and_other_signatures_and_iterates_them_sorted(monkeypatch):
    monkeypatch.setattr(sigset, "_CHUNK", 4)  # many sorted chunks, merged: what a million signatures do
    sigs = [sig_of(i) for i in range(50)] + ["ab", "a-b", "ABCD", "abc", "x_1", sig_of(3), "ab"]
    s = SigSet(sigs)
    assert list(s) == sorted(set(sigs)) and len(s) == len(set(sigs))
    assert all(x in s for x in sigs)
    assert sig_of(50) not in s and sig_of(3)[:-2] not in s and "abcd" not in s and "zz" not in s
    s.add(sig_of(99))  # added after lookups: found as well
    assert sig_of(99) in s and list(s) == sorted(set(sigs) | {sig_of(99)})


def test_sigset_tells_apart_digests_sharing_their_first_bytes():
    base = "00" * 8
    s = SigSet([base + "01" * 12, base + "03" * 12])
    assert base + "01" * 12 in s and base + "03" * 12 in s and base + "02" * 12 not in s


def test_sigset_lookups_from_many_threads_at_once(monkeypatch):
    """gc deletes in a thread pool and each worker asks the set first: the first lookups merge it once."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(sigset, "_CHUNK", 16)
    for _ in range(5):
        sigs = [sig_of(i) for i in range(20000)]
        s = SigSet(sigs)
        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(s.__contains__, sigs))
        assert len(s) == len(sigs)


# ------------------------------------------------------------------------------------------------ gc
def test_gc_of_many_values_removes_exactly_the_unreferenced_old_ones(many):
    before = list(many.iter_refs())
    report = gc(many, now=LATER)
    assert sorted(r.sig for r in report.removed) == ORPHANS and report.removed_count == len(ORPHANS)
    assert {r.kind for r in report.removed} == {"blob"} and report.bytes_freed == sum(r.bytes for r in report.removed)
    assert {r.path for r in report.removed} == {f"/g{i % 3}/v{i}" for i in range(1, N, 2)}
    assert list(many.iter_blob_sigs()) == REFERENCED == sorted(many.iter_blob_dirs())
    assert list(many.iter_refs()) == before
    assert all(many.read(sig_of(i)) == f"value {i}" for i in range(0, N, 2))
    assert verify(many).ok


def test_gc_hands_removals_over_one_by_one_and_reports_progress(many):
    seen, ticks = [], []
    report = gc(many, now=LATER, on_removal=seen.append, progress=lambda *t: ticks.append(t))
    assert sorted(r.sig for r in seen) == ORPHANS and report.removed == [] and report.removed_count == len(ORPHANS)
    stages = list(dict.fromkeys(stage for stage, _, _ in ticks))
    assert stages == ["reading refs", "checking values", "deleting"]
    last = {stage: (done, total) for stage, done, total in ticks}
    assert last["reading refs"] == (len(REFERENCED), None)  # twice: before listing and before deleting
    assert last["checking values"] == (N, None)
    assert last["deleting"] == (len(ORPHANS), len(ORPHANS))


def test_gc_dry_run_of_many_values_deletes_nothing(many):
    ticks = []
    report = gc(many, dry_run=True, now=LATER, progress=lambda *t: ticks.append(t))
    assert sorted(r.sig for r in report.removed) == ORPHANS
    assert len(list(many.iter_blob_sigs())) == N
    assert ("listing", len(ORPHANS), len(ORPHANS)) in ticks


def test_gc_keeps_a_value_a_path_points_to_while_gc_runs(many):
    """Refs are read again right before deleting: a step that points a path at an old orphan meanwhile (a
    reverted edit hitting its old value) keeps it."""
    revived = ORPHANS[0]

    def writer_meanwhile(stage, done, total):
        if stage == "checking values" and done == N:  # listing finished, nothing deleted yet
            many.set_ref("/revived", revived)

    report = gc(many, now=LATER, progress=writer_meanwhile)
    assert sorted(r.sig for r in report.removed) == ORPHANS[1:]
    assert many.read(revived) is not None and revived in set(many.iter_blob_sigs())


def test_gc_names_only_the_first_young_values_but_counts_them_all(many, monkeypatch):
    monkeypatch.setattr(maintenance, "KEPT_LISTED", 3)
    report = gc(many)  # everything is younger than the grace period
    assert report.removed == [] and report.kept_recent_count == len(ORPHANS)
    assert report.kept_recent == ORPHANS[:3]


# ----------------------------------------------------------------------------------- path order, ls
TRICKY = ["/g/b", "/g-x", "/g/a", "/gz", "/g.ref/x", "/%/y", "/a/b/c", "/a/b-c", "/a.b"]


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_refs_are_listed_in_path_order_whatever_the_folder_layout(kind, tmp_path):
    store = create_store(kind, **({"internal_dir": str(tmp_path / ".dds")} if kind == "local" else {}))
    for i, path in enumerate(TRICKY):
        store.write(sig_of(i), i, {"path": path})
        store.set_ref(path, sig_of(i))
    assert [p for p, _ in store.iter_refs()] == sorted(TRICKY)
    assert [p for p, *_ in store.iter_ref_entries()] == sorted(TRICKY)
    assert dict(store.iter_refs()) == {path: sig_of(i) for i, path in enumerate(TRICKY)}


def dds_cli(store, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dds.cli", *args, "--store", str(store)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


def test_dds_ls_streams_paths_in_path_order(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path / ".dds"))
    for i, path in enumerate(TRICKY):
        store.write(sig_of(i), i, {"path": path, "function": "f"})
        store.set_ref(path, sig_of(i))
    result = dds_cli(tmp_path / ".dds", "ls")
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == sorted(TRICKY)


# ------------------------------------------------------------------------------------ CLI progress
@pytest.fixture
def old_local(tmp_path):
    """A local store of N values as in ``many``, every file dated two hours back (past the grace period)."""
    store = create_store("local", internal_dir=str(tmp_path / ".dds"))
    for i in range(N):
        store.write(sig_of(i), f"value {i}", {"path": f"/g{i % 3}/v{i}"})
        if i % 2 == 0:
            store.set_ref(f"/g{i % 3}/v{i}", sig_of(i))
    old = time.time() - 2 * DEFAULT_GRACE_S
    for directory, folders, files in os.walk(store.root):
        for name in folders + files:
            os.utime(os.path.join(directory, name), (old, old), follow_symlinks=False)
    return tmp_path / ".dds"


def test_dds_gc_prints_each_removal_progress_and_counts(old_local):
    result = dds_cli(old_local, "gc", env={"DDS_PROGRESS_INTERVAL": "0"})
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()[:-1]]
    assert sorted(sig for _, _, sig, _, _ in rows) == [s[:10] for s in ORPHANS]
    assert {(action, kind) for action, kind, *_ in rows} == {("deleted", "blob")}
    assert result.stdout.splitlines()[-1].startswith(f"gc: deleted {len(ORPHANS)} item(s), ")
    progress = result.stderr.splitlines()
    assert f"dds gc: deleting: {len(ORPHANS)} of {len(ORPHANS)}" in progress
    assert f"dds gc: checking values: {N}" in progress and "dds gc: reading refs: 1" in progress
    assert sorted(create_store("local", internal_dir=str(old_local)).iter_blob_sigs()) == REFERENCED


def test_dds_verify_prints_progress_and_counts(old_local):
    result = dds_cli(old_local, "verify", env={"DDS_PROGRESS_INTERVAL": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"verify: checked {len(REFERENCED)} path(s) and {N} value(s): ok"
    assert f"dds verify: checking values: {N} of {N}" in result.stderr.splitlines()


def test_quick_commands_print_no_progress_off_a_terminal(old_local):
    result = dds_cli(old_local, "verify")  # the default interval: 10 s between lines
    assert result.returncode == 0 and result.stderr == ""


# --------------------------------------------------------------------------- the maintenance protocol
class DictStore(Store):
    """A complete store (keep and load work) that cannot list or delete its parts."""

    kind = "dict"

    def __init__(self) -> None:
        self.blobs: dict[str, tuple] = {}
        self.refs: dict[str, str] = {}

    def read_meta(self, sig):
        return self.blobs[sig][1] if sig in self.blobs else None

    def write(self, sig, value, meta):
        self.blobs[sig] = (value, dict(meta))
        return self.blobs[sig][1]

    def read(self, sig, meta=None):
        return self.blobs[sig][0]

    def get_ref(self, path):
        return self.refs.get(path)

    def set_ref(self, path, sig):
        self.refs[path] = sig

    def iter_refs(self):
        return iter(sorted(self.refs.items()))


@pytest.mark.parametrize("command", [gc, verify])
def test_a_store_without_the_maintenance_protocol_gets_a_clear_error(command):
    store = DictStore()
    store.write(sig_of(0), 1, {"path": "/a"})
    store.set_ref("/a", sig_of(0))
    with pytest.raises(StoreError) as error:
        command(store)
    message = str(error.value)
    assert f"dds {command.__name__}" in message and "dict store" in message
    assert "iter_blob_sigs" in message and "delete_blob" in message and "MaintainableStore" in message
    assert store.blobs and store.refs == {"/a": sig_of(0)}  # nothing touched


def test_the_store_abc_has_no_maintenance_stubs_and_builtin_stores_are_maintainable(tmp_path):
    for name in ("iter_ref_entries", "iter_blob_dirs", "iter_blob_sigs", "iter_temp", "entry_usage",
                 "remove_entry", "delete_blob"):
        assert not hasattr(Store, name), name
        assert name in MaintainableStore.__abstractmethods__
    assert isinstance(create_store("memory"), MaintainableStore)
    assert isinstance(create_store("local", internal_dir=str(tmp_path / "s")), MaintainableStore)


def test_dds_gc_on_a_terminal_redraws_one_progress_line_and_clears_it(old_local):
    """A pseudo-terminal, as a person sees it: the progress line is rewritten in place ('\\r') and wiped
    before each printed row, so rows never carry progress text."""
    pty = pytest.importorskip("pty")
    import select

    pid, fd = pty.fork()
    if pid == 0:  # the child: the real `dds` on a terminal (stdout and stderr both), every update drawn
        os.execve(sys.executable, [sys.executable, "-m", "dds.cli", "gc", "--store", str(old_local)],
                  {**os.environ, "DDS_PROGRESS_INTERVAL": "0"})
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child exited and closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    text = out.decode().replace("\r\n", "\n").replace("\x1b[1m", "").replace("\x1b[0m", "")
    assert f"\rdds gc: deleting: {len(ORPHANS)} of {len(ORPHANS)}" in text  # drawn in place
    lines = [line.rsplit("\r", 1)[-1].strip() for line in text.split("\n") if line.rsplit("\r", 1)[-1].strip()]
    assert lines[0].split() == ["ACTION", "KIND", "SIGNATURE", "SIZE", "PATH"]
    assert len([line for line in lines if line.startswith("deleted")]) == len(ORPHANS)
    assert lines[-1].startswith(f"gc: deleted {len(ORPHANS)} item(s)")
    assert all("dds gc:" not in line for line in lines)  # every progress line was wiped
