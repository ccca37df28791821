"""Edit-and-rerun with dds.File inputs: change the data on disk, rerun in a fresh process.

Every case runs the real user code in fresh processes (tests/rerun_harness.py) and edits real files in
the working directory of those processes; what ran is what the user functions themselves traced, and
every value is compared with a full recompute on an empty store.
"""

from __future__ import annotations

import os
import time

import pytest

try:
    from .rerun_harness import RerunHarness
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness

pytestmark = pytest.mark.rerun

MAIN = '''
    import os

    import dds
    import pandas as pd
    from pipe._trace import trace

    DATA = dds.File("data.csv")
    FOLDER = dds.File("folder")
    EVERYTHING = dds.File("folder", hidden=True)


    def total(f):
        trace("total")
        return int(pd.read_csv(f)["v"].sum())


    def rows():
        trace("rows")
        with open(DATA) as fh:
            return len(fh.read().splitlines()) - 1


    def listing(d):
        trace("listing:" + ("all" if d.hidden else "visible"))
        out = []
        for root, dirs, files in os.walk(d):
            dirs.sort()
            for name in sorted(files):
                if d.hidden or not name.startswith("."):
                    with open(os.path.join(root, name)) as fh:
                        out.append([os.path.relpath(os.path.join(root, name), d.path), fh.read()])
        return out


    def run():
        return {
            "total": dds.keep("/total", total, dds.File("data.csv")),
            "rows": dds.keep("/rows", rows),
            "visible": dds.keep("/visible", listing, FOLDER),
            "all": dds.keep("/all", listing, EVERYTHING),
        }
'''
ALL = {"total", "rows", "listing:visible", "listing:all"}


@pytest.fixture
def h(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))  # this test's own digest cache
    harness = RerunHarness(tmp_path / "project", files={"pipe/main.py": MAIN})
    cwd = harness.root / "cwd"
    (cwd / "data.csv").write_text("k,v\na,1\nb,2\n")
    (cwd / "folder" / "sub").mkdir(parents=True)
    (cwd / "folder" / "one.txt").write_text("1")
    (cwd / "folder" / "sub" / "two.txt").write_text("2")
    first = harness.run(label="run 1 (empty store)")
    assert first.ran == ALL
    assert harness.run(label="run 2 (nothing changed)").ran == set()
    harness.data = cwd
    return harness


def rerun(h, change: str, expected: set[str]):
    """Rerun after ``change``: exactly ``expected`` ran, then nothing, and the value is a full recompute's."""
    h.history.append(change)
    after = h.run(label=f"run after: {change}")
    assert after.ran == expected, (
        f"{change}: expected {sorted(expected)} to re-run, got {sorted(after.ran)}\n{h._context()}")
    again = h.run(label=f"run again after: {change}")
    assert again.ran == set(), f"NEEDLESS RECOMPUTE after {change}: {sorted(again.ran)}"
    h.assert_matches_uncached(after)
    return after


def test_editing_the_csv_reruns_its_readers_argument_and_constant(h):
    with open(h.data / "data.csv", "a") as fh:
        fh.write("c,4\n")
    result = rerun(h, "row appended to data.csv", {"total", "rows"})
    assert result.value["total"] == 7 and result.value["rows"] == 3


def test_same_size_edit_with_the_mtime_put_back_reruns(h):
    path = h.data / "data.csv"
    time.sleep(2.1)  # past the stat cache's racy window, so the disk cache has this version's digest
    h.run(label="run 3 (records the digest on disk)")
    old = os.stat(path)
    path.write_text("k,v\na,5\nb,2\n")  # the same size
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))  # and the old mtime, as cp -p or rsync -t leave it
    result = rerun(h, "same-size edit with the old mtime", {"total", "rows"})
    assert result.value["total"] == 7


def test_touch_and_rewriting_the_same_bytes_rerun_nothing(h):
    now = time.time_ns()
    for p in [h.data / "data.csv", h.data / "folder" / "one.txt", h.data / "folder" / "sub"]:
        os.utime(p, ns=(now, now))
    rerun(h, "touch", set())
    (h.data / "data.csv").write_text("k,v\na,1\nb,2\n")
    (h.data / "folder" / "sub" / "two.txt").write_text("2")
    rerun(h, "rewrite with the same bytes", set())
    tmp = h.data / "data.csv.tmp"
    tmp.write_text("k,v\na,1\nb,2\n")
    os.replace(tmp, h.data / "data.csv")  # a new inode with the same bytes: an atomic rewrite
    rerun(h, "atomic rewrite with the same bytes", set())


def test_a_file_added_to_the_directory_reruns_its_readers(h):
    (h.data / "folder" / "sub" / "three.txt").write_text("3")
    result = rerun(h, "file added to folder/sub", {"listing:visible", "listing:all"})
    assert ["sub/three.txt", "3"] in result.value["visible"]
    (h.data / "folder" / "one.txt").unlink()
    rerun(h, "file removed from folder", {"listing:visible", "listing:all"})


def test_a_dot_file_reruns_only_the_reader_that_asked_for_hidden_files(h):
    (h.data / "folder" / ".DS_Store").write_text("junk")
    result = rerun(h, "dot-file added", {"listing:all"})
    assert [".DS_Store", "junk"] in result.value["all"]
    assert [".DS_Store", "junk"] not in result.value["visible"]


def test_a_missing_file_is_a_clear_error_and_the_stored_value_stays(h):
    (h.data / "data.csv").rename(h.data / "moved.csv")
    with pytest.raises(AssertionError) as failed:
        h.run(label="run with data.csv missing")
    stderr = str(failed.value)
    assert "MissingInputError" in stderr and "dds.File('data.csv') does not exist" in stderr, stderr
    # the step: the kept path whose argument it is, or (dds.eval hashes /rows first) the function reading DATA
    assert ("/total (arguments)" in stderr or "pipe.main:rows" in stderr) and "Fix: create it" in stderr
    (h.data / "moved.csv").rename(h.data / "data.csv")
    assert h.run(label="run with data.csv back").ran == set()  # nothing was lost or replaced


def test_a_missing_file_on_an_empty_store_stores_nothing(h):
    os.remove(h.data / "data.csv")
    fresh = h.root / "empty-store"
    with pytest.raises(AssertionError, match="does not exist"):
        h.run(store=fresh, label="first run, data.csv missing")
    stored = [p for sub in ("meta", "refs", "blobs") if (fresh / sub).exists() for p in (fresh / sub).iterdir()]
    assert stored == [], stored
