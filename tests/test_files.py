"""dds.File in one process: a path-like value hashed by content, its stat cache, `why`, and its errors.

Whether a file was read is observed through the kernel's count of bytes this process read
(``/proc/self/io``), never by patching dds: a re-check served by the stat cache reads nothing.
"""

from __future__ import annotations

import json
import os
import pickle
import time

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dds
from dds.inputs import stat_cache

MB = 1 << 20


@pytest.fixture(autouse=True)
def file_cache(tmp_path, monkeypatch):
    """A digest cache of this test's own, empty in memory and on disk."""
    monkeypatch.setenv("DDS_FILE_CACHE", str(tmp_path / "file-cache"))
    monkeypatch.setattr(stat_cache, "_dir", False)
    stat_cache.forget()
    yield tmp_path / "file-cache"
    stat_cache.forget()


@pytest.fixture
def store(tmp_path):
    return dds.set_store("local", internal_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data"))


def bytes_read() -> int:
    with open("/proc/self/io") as fh:
        return int(next(line for line in fh if line.startswith("rchar:")).split()[1])


def aged(path, seconds: float = 0.2) -> None:
    """Wait until ``path``'s stamps are older than the (shortened) racy window, as a file saved earlier is."""
    st = os.stat(path)
    while time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < seconds * 1e9:
        time.sleep(0.05)


@pytest.fixture
def short_racy_window(monkeypatch):
    monkeypatch.setattr(stat_cache, "RACY_SECONDS", 0.1)


# -- the value ---------------------------------------------------------------------------------------
def test_file_is_path_like_for_open_pandas_and_pyarrow(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("a,b\n1,2\n")
    parquet = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), parquet)
    f = dds.File(csv)
    assert isinstance(f, os.PathLike) and os.fspath(f) == str(csv) == str(f)
    with open(f) as fh:
        assert fh.read() == "a,b\n1,2\n"
    with f.open("rt") as fh:
        assert fh.read() == "a,b\n1,2\n"
    assert pd.read_csv(f).to_dict("list") == {"a": [1], "b": [2]}
    assert pq.read_table(dds.File(parquet)).column("x").to_pylist() == [1, 2]
    assert repr(dds.File("d", hidden=True)) == "dds.File('d', hidden=True)"
    assert dds.File("a") == dds.File("a") != dds.File("a", hidden=True)
    assert len({dds.File("a"), dds.File("a")}) == 1
    assert dds.File(dds.File("a")) == dds.File("a") == dds.File("file://a")


def test_pickle_keeps_path_and_flag_but_not_storage_options():
    f = dds.File("s3://b/k", hidden=True, storage_options={"secret": "s3cr3t"})
    data = pickle.dumps(f)
    assert b"s3cr3t" not in data
    back = pickle.loads(data)
    assert back == f and back.storage_options == {}


@pytest.mark.parametrize("bad", [b"", "", 3, None])
def test_bad_paths_are_refused_with_a_fix(bad):
    with pytest.raises(dds.ArgumentError, match=r"Fix: dds.File\('data/raw.csv'\)"):
        dds.File(bad)


# -- hashing -----------------------------------------------------------------------------------------
def token(value):
    from dds.signature import SignatureBuilder

    return SignatureBuilder().value_digest(value)


def test_token_follows_content_not_stamps(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"a,b\n1,2\n")
    first = token(dds.File(p))
    os.utime(p, (1, 1))
    assert token(dds.File(p)) == first  # touch
    p.write_bytes(b"a,b\n1,2\n")
    assert token(dds.File(p)) == first  # same bytes again
    p.write_bytes(b"a,b\n1,3\n")
    assert token(dds.File(p)) != first
    assert token(dds.File(p)) != token(str(p))  # a File is not its path string


def test_directory_token_covers_names_and_contents_not_dot_files(tmp_path):
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "a.csv").write_text("1")
    (d / "sub" / "b.csv").write_text("2")
    first = token(dds.File(d))
    (d / ".DS_Store").write_text("junk")
    (d / ".git").mkdir()
    (d / ".git" / "HEAD").write_text("ref")
    assert token(dds.File(d)) == first
    assert token(dds.File(d, hidden=True)) != first
    (d / "sub" / "b.csv").write_text("3")
    second = token(dds.File(d))
    assert second != first
    (d / "sub" / "b.csv").rename(d / "sub" / "c.csv")
    assert token(dds.File(d)) != second  # same bytes under another name
    (d / "empty").mkdir()
    third = token(dds.File(d))
    (d / "sub" / "c.csv").unlink()
    assert token(dds.File(d)) != third


def test_directory_follows_links_and_survives_a_cycle(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "x.csv").write_text("1")
    d = tmp_path / "d"
    d.mkdir()
    (d / "linked").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(d, target_is_directory=True)
    first = token(dds.File(d))
    (real / "x.csv").write_text("2")
    assert token(dds.File(d)) != first


@pytest.mark.parametrize("size", [0, 1, MB - 1, MB, 17 * MB + 3])  # 17 MiB: read and hashed in two threads
def test_content_digest_is_xxh3_of_the_bytes(tmp_path, size):
    import xxhash

    from dds.inputs.digests import file_digest

    p = tmp_path / "f.bin"
    data = os.urandom(size)
    p.write_bytes(data)
    assert file_digest(str(p)) == (size, xxhash.xxh3_128_hexdigest(data))


# -- the stat cache ----------------------------------------------------------------------------------
def test_unchanged_file_is_not_read_again_in_memory_or_from_the_disk_cache(tmp_path, short_racy_window):
    p = tmp_path / "big.bin"
    p.write_bytes(os.urandom(8 * MB))
    aged(p)
    f = dds.File(p)
    before = bytes_read()
    first = token(f)
    assert bytes_read() - before >= 8 * MB  # cold: read once
    before = bytes_read()
    assert token(f) == first
    assert bytes_read() - before < MB  # warm: a stat
    stat_cache.forget()  # as a fresh process: only the disk cache knows it
    before = bytes_read()
    assert token(f) == first
    assert bytes_read() - before < MB


def test_same_size_rewrite_with_the_old_mtime_is_read_again(tmp_path, short_racy_window):
    p = tmp_path / "d.csv"
    p.write_bytes(b"a,b\n1,2\n")
    aged(p)
    first = token(dds.File(p))
    old = os.stat(p)
    p.write_bytes(b"a,b\n9,9\n")  # same size ...
    os.utime(p, ns=(old.st_atime_ns, old.st_mtime_ns))  # ... and mtime put back, as cp -p or rsync -t do
    assert os.stat(p).st_mtime_ns == old.st_mtime_ns and os.stat(p).st_size == old.st_size
    assert token(dds.File(p)) != first
    stat_cache.forget()
    assert token(dds.File(p)) != first


def test_a_file_just_written_is_not_cached(tmp_path):
    p = tmp_path / "d.csv"
    p.write_bytes(b"x" * MB)
    token(dds.File(p))  # stamps within the racy window: a later write in the same clock tick could hide
    before = bytes_read()
    token(dds.File(p))
    assert bytes_read() - before >= MB


def test_damaged_or_unwritable_disk_cache_is_only_a_miss(tmp_path, monkeypatch, short_racy_window):
    p = tmp_path / "d.csv"
    p.write_bytes(b"1")
    aged(p)
    first = token(dds.File(p))
    (entry,) = [e for e in (tmp_path / "file-cache").iterdir() if not e.name.startswith(".")]
    row = json.loads(entry.read_text())
    row[-2] = "0" * 32  # an entry that lies about the digest: its checksum fails
    entry.write_text(json.dumps(row))
    stat_cache.forget()
    assert token(dds.File(p)) == first
    entry.write_text('["trunc')  # a torn entry
    stat_cache.forget()
    assert token(dds.File(p)) == first
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("DDS_FILE_CACHE", str(blocker / "cache"))
    monkeypatch.setattr(stat_cache, "_dir", False)
    stat_cache.forget()
    assert token(dds.File(p)) == first


def test_disk_cache_is_bounded(tmp_path, monkeypatch, short_racy_window):
    monkeypatch.setattr(stat_cache, "MAX_ENTRIES", 4)
    monkeypatch.setattr(stat_cache, "_pruned", False)
    d = tmp_path / "many"
    d.mkdir()
    for i in range(7):
        (d / f"{i}.csv").write_text(str(i))
    aged(d / "6.csv")
    token(dds.File(d))  # writes 7 entries
    monkeypatch.setattr(stat_cache, "_pruned", False)
    (d / "7.csv").write_text("7")
    aged(d / "7.csv")
    token(dds.File(d))  # a new process's first write prunes to half the bound first
    entries = [e for e in (tmp_path / "file-cache").iterdir() if not e.name.startswith(".")]
    assert len(entries) <= 4


# -- keep, why, errors -------------------------------------------------------------------------------
DATA_NAME = "const.csv"


def count_lines(f):
    with open(f) as fh:
        return len(fh.read().splitlines())


def test_warm_keep_rechecks_a_constant_file_by_stat(tmp_path, store, monkeypatch, short_racy_window):
    monkeypatch.chdir(tmp_path)
    (tmp_path / DATA_NAME).write_bytes(b"h\n" + b"row\n" * (2 * MB))
    aged(tmp_path / DATA_NAME)
    monkeypatch.setitem(globals(), "DATA", dds.File(DATA_NAME))

    def lines():
        return count_lines(DATA)  # noqa: F821 - the module constant set above

    assert dds.keep("/lines", lines) == 2 * MB + 1
    before = bytes_read()
    for _ in range(20):
        assert dds.keep("/lines", lines) == 2 * MB + 1
    assert bytes_read() - before < MB  # twenty re-checks: stats, not reads of the 8 MB file
    with open(DATA_NAME, "ab") as fh:
        fh.write(b"row\n")
    assert dds.keep("/lines", lines) == 2 * MB + 2


def test_why_shows_size_and_digest_of_a_changed_file(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text("a\n1\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "x.csv").write_text("a\n1\n")
    dds.keep("/n", count_lines, dds.File("in.csv"))
    dds.keep("/d", lambda d: sorted(os.listdir(d)), dds.File("dir"))
    (tmp_path / "in.csv").write_text("a\n1\n2\n3\n")
    (tmp_path / "dir" / "y.csv").write_text("a\n2\n")
    assert dds.keep("/n", count_lines, dds.File("in.csv")) == 4
    assert dds.keep("/d", lambda d: sorted(os.listdir(d)), dds.File("dir")) == ["x.csv", "y.csv"]
    text = dds.why("/n")
    assert "/n: the arguments changed: in.csv: 4 B -> 8 B, xxh3 " in text, text
    digests = text.split("xxh3 ")[1].split(" -> ")
    assert len(digests[0]) == 8 and digests[0] != digests[1].strip()
    text = dds.why("/d")
    assert "dir: 1 file, 4 B -> 2 files, 8 B, digest " in text, text


def test_missing_file_names_path_step_and_fix_and_stores_nothing(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    def rows(f):
        calls.append(1)
        return open(f).read()

    with pytest.raises(dds.MissingInputError) as err:
        dds.keep("/rows", rows, dds.File("nope.csv"))
    message = str(err.value)
    assert "/rows" in message and "dds.File('nope.csv') does not exist" in message
    assert str(tmp_path / "nope.csv") in message and "Fix: create it" in message
    assert isinstance(err.value, FileNotFoundError)  # what plain Python would raise, too
    assert calls == []
    with pytest.raises(dds.NotFoundError):
        dds.load("/rows")
    (tmp_path / "nope.csv").write_text("ok")
    assert dds.keep("/rows", rows, dds.File("nope.csv")) == "ok"
    os.remove(tmp_path / "nope.csv")
    with pytest.raises(dds.MissingInputError, match="/rows"):
        dds.keep("/rows", rows, dds.File("nope.csv"))
    assert dds.load("/rows") == "ok" and calls == [1]  # what was stored before is still there


def test_missing_constant_file_names_the_function_that_reads_it(tmp_path, store, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(globals(), "MISSING_INPUT", dds.File("gone.csv"))

    def reads_it():
        return open(MISSING_INPUT).read()  # noqa: F821

    with pytest.raises(dds.MissingInputError, match=r"reads_it.*reads 'MISSING_INPUT'.*gone\.csv"):
        dds.keep("/r", reads_it)


def test_a_file_rewritten_while_its_step_runs_is_not_stored(tmp_path, caplog):
    """The signature hashed the bytes before the run; the function read others: storing would be stale."""
    import logging

    data = tmp_path / "rows.csv"
    data.write_text("a\n1\n")
    dds.set_store("local", internal_dir=str(tmp_path / "store"))

    def rewrites(f):
        text = open(f).read()
        data.write_text(text + "2\n")  # another writer, as far as the signature knows
        return text

    with caplog.at_level(logging.WARNING, logger="dds"):
        assert dds.keep("/rows", rewrites, dds.File(str(data))) == "a\n1\n"
    assert any("changed while" in r.getMessage() and "not stored" in r.getMessage() for r in caplog.records)
    with pytest.raises(dds.NotFoundError):
        dds.load("/rows")


def test_a_constant_file_rewritten_while_its_step_runs_is_not_stored(tmp_path, monkeypatch):
    data = tmp_path / "rows.csv"
    data.write_text("a\n1\n")
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    monkeypatch.setitem(globals(), "CONSTANT_INPUT", dds.File(str(data)))

    def rewrites():
        text = open(CONSTANT_INPUT).read()  # noqa: F821 - the module constant set above
        data.write_text(text + "2\n")
        return text

    assert dds.keep("/rows", rewrites) == "a\n1\n"
    with pytest.raises(dds.NotFoundError):
        dds.load("/rows")
