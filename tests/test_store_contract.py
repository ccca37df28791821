"""One contract, every store: local, memory, fsspec (memory://, file://, s3:// on a real local S3 server), dbfs.

Each store kind gets a ``Where``: how to make a store of that kind at a named location, and how to list every
file of the underlying file system region the test may touch (to prove nothing is written outside the store).
The S3 server (moto's, on 127.0.0.1) is started once for the module, only if an s3 case runs.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

from dds.codecs import Codec, register_codec, unregister_codec
from dds.errors import DamagedDataError, NotFoundError, PathError, StoreError
from dds.store import DbfsStore, FsspecStore, create_store

SIG1, SIG2, SIG3 = "a1" * 16, "b2" * 16, "c3" * 16
KINDS = ["local", "memory", "fsspec-memory", "fsspec-file", "fsspec-s3", "dbfs"]


@dataclass
class Where:
    kind: str
    make: Callable[[str], object]  # location name -> a new store there
    listing: Callable[[], list]  # every file of the region the store lives in


def _memory_files() -> list:
    from fsspec.implementations.memory import MemoryFileSystem

    gc.collect()  # drop memory stores of earlier tests now, not in the middle of this one
    return sorted(MemoryFileSystem.store)


def _tree(top) -> list:
    return sorted(os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs)


@pytest.fixture(params=KINDS)
def where(request, tmp_path) -> Where:
    kind = request.param
    if kind == "local":
        return Where(kind, lambda n: create_store("local", internal_dir=str(tmp_path / n / ".dds")),
                     lambda: _tree(tmp_path))
    if kind == "memory":
        return Where(kind, lambda n: create_store("memory"), _memory_files)
    if kind == "fsspec-memory":
        base = f"memory://dds-contract-{uuid.uuid4().hex}"
        return Where(kind, lambda n: create_store("fsspec", url=f"{base}/{n}"), _memory_files)
    if kind == "fsspec-file":
        return Where(kind, lambda n: create_store("fsspec", url=(tmp_path / n).as_uri()), lambda: _tree(tmp_path))
    if kind == "fsspec-s3":
        s3 = request.getfixturevalue("s3")
        prefix = f"t-{uuid.uuid4().hex[:10]}"
        return Where(
            kind,
            lambda n: create_store("fsspec", url=s3.url(f"{prefix}/{n}"), data_dir=s3.url(f"{prefix}/{n}-people"),
                                   **s3.storage_options),
            s3.listing,
        )
    if kind == "dbfs":
        root = tmp_path / "dbfs"
        root.mkdir()
        return Where(
            kind,
            lambda n: create_store("dbfs", internal_dir=f"dbfs:/{n}/dds", data_dir=str(root / n / "people"),
                                   dbfs_root=str(root)),
            lambda: _tree(tmp_path),
        )
    raise AssertionError(kind)


@pytest.fixture
def store(where):
    return where.make("main")


def blob_file(store, sig) -> str:
    return f"{store.blob_dir(sig)}/{store.read_meta(sig)['file_name']}"


def files_under(store, part="") -> list:
    top = f"{store.root}/{part}".rstrip("/")
    return sorted(p[len(store.root) + 1:] for p in store._find(top))


def put(store, path, data: bytes) -> None:
    """Write a file the way a crashed writer would have left it (folders first where there are folders)."""
    if "s3" not in store.fs.protocol:
        store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(path, data)


def _equal(a, b) -> bool:
    if isinstance(a, pd.DataFrame):
        assert_frame_equal(a, b)
        return True
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
        return a.dtype == b.dtype
    if isinstance(a, pa.Table):
        return a.equals(b)
    return a == b


VALUES = {
    "pandas": (pd.DataFrame({"c": pd.Categorical(["a", "b"]), "i": pd.array([1, None], dtype="Int64")}),
               "pandas.parquet"),
    "arrow": (pa.table({"x": [1, 2, 3], "s": ["a", "b", None]}), "arrow.parquet"),
    "numpy": (np.arange(6, dtype="int32").reshape(2, 3), "numpy.npy"),
    "str": ("text\r\nwith ünicode", "text"),
    "bytes": (b"\x00\xffbytes", "bytes"),
    "pickle": ({"a": [1, 2], "b": (3, None)}, "pickle"),
}


# ------------------------------------------------------------------------------------------ round trip
@pytest.mark.parametrize("name", list(VALUES))
def test_round_trip_every_codec(store, name):
    value, codec = VALUES[name]
    meta = store.write(SIG1, value, {"path": "/g/v"})
    assert meta["codec"] == codec
    assert store.read_meta(SIG1) == meta
    out = store.read(SIG1)
    assert type(out) is type(value) and _equal(value, out)
    assert list(store.iter_blob_sigs()) == [SIG1]
    assert files_under(store, "tmp") == []


class Parts:
    """A value stored as a folder of files, as Spark stores a DataFrame."""

    def __init__(self, *parts: bytes):
        self.parts = list(parts)

    def __eq__(self, other):
        return isinstance(other, Parts) and other.parts == self.parts


class PartsCodec(Codec):
    name, file_name = "test.parts", "data.parts"

    def handles(self, value):
        return isinstance(value, Parts)

    def write(self, value, fs, path):
        if "s3" not in fs.protocol:
            fs.makedirs(path, exist_ok=True)
        for i, data in enumerate(value.parts):
            fs.pipe_file(f"{path}/part-{i:03d}", data)
        fs.pipe_file(f"{path}/_SUCCESS", b"")

    def read(self, fs, path):
        return Parts(*(fs.cat_file(p) for p in sorted(fs.find(path)) if "/part-" in p))


@pytest.fixture
def parts_codec():
    register_codec(PartsCodec())
    yield
    unregister_codec(PartsCodec.name)


def test_folder_blob_round_trip_and_view(store, parts_codec):
    meta = store.write(SIG1, Parts(b"one", b"two"), {"path": "/g/parts"})
    assert meta["codec"] == "test.parts" and len(meta["files"]) == 3
    assert store.read(SIG1) == Parts(b"one", b"two")
    store.set_ref("/g/parts", SIG1)
    store.write(SIG2, Parts(b"three"), {"path": "/g/parts"})
    store.set_ref("/g/parts", SIG2)
    view = getattr(store, "data_path", lambda p: None)("/g/parts")
    if view is not None:
        store.fs.invalidate_cache()
        names = sorted(p[len(view.rstrip("/")) + 1:] for p in store.fs.find(view))
        assert names == ["_SUCCESS", "part-000"]
        assert store.fs.cat_file(f"{view}/part-000") == b"three"
    store.fs.pipe_file(f"{store.blob_dir(SIG1)}/{meta['file_name']}/part-001", b"TWO")
    with pytest.raises(DamagedDataError):
        store.read(SIG1)


def test_unknown_signature(store):
    assert store.read_meta(SIG1) is None
    with pytest.raises(NotFoundError):
        store.read(SIG1)
    assert store.get_ref("/nothing/here") is None


# ------------------------------------------------------------------------------------ overwrite a path
def test_overwrite_moves_the_ref_and_keeps_the_old_blob(store):
    store.write(SIG1, "first", {"path": "/g/v"})
    store.set_ref("/g/v", SIG1)
    store.write(SIG2, pd.DataFrame({"a": [2]}), {"path": "/g/v"})
    store.set_ref("/g/v", SIG2)
    assert store.get_ref("/g/v") == SIG2
    assert list(store.iter_refs()) == [("/g/v", SIG2)]
    assert store.read(SIG1) == "first"  # write-once: the old value is still there, by signature
    assert_frame_equal(store.read(SIG2), pd.DataFrame({"a": [2]}))
    store.set_ref("/g/v", SIG1)  # and a path can move back
    assert store.get_ref("/g/v") == SIG1


def test_view_for_people_follows_the_ref(store):
    data_path = getattr(store, "data_path", None)
    if data_path is None or data_path("/g/v") is None:
        pytest.skip(f"the {store.kind} store has no view for people here")
    store.write(SIG1, "first", {})
    store.set_ref("/g/v", SIG1)
    assert store.fs.cat_file(data_path("/g/v")) == b"first"
    store.write(SIG2, "second", {})
    store.set_ref("/g/v", SIG2)
    store.fs.invalidate_cache()
    assert store.fs.cat_file(data_path("/g/v")) == b"second"


def test_set_ref_to_unknown_signature_is_refused(store):
    with pytest.raises(StoreError):
        store.set_ref("/g/v", SIG1)
    assert store.get_ref("/g/v") is None


# ----------------------------------------------------------------------------- meta is the commit point
def test_blob_files_without_meta_are_not_committed(store):
    """A crash after the value's files were written, before the metadata: nothing is committed."""
    put(store, f"{store.blob_dir(SIG1)}/data.txt", b"half")
    put(store, f"{store.blob_dir(SIG1)}/w-crashed/data.txt", b"half")
    assert store.read_meta(SIG1) is None
    with pytest.raises(NotFoundError):
        store.read(SIG1)
    assert list(store.iter_blob_sigs()) == []
    meta = store.write(SIG1, "complete", {"path": "/p"})  # a later write succeeds
    assert store.read_meta(SIG1) == meta
    assert store.read(SIG1) == "complete"


def test_failure_at_the_commit_step_commits_nothing(store, monkeypatch):
    real = store._write_small

    def no_meta(path, data):
        if "/meta/" in path:
            raise OSError(errno.EIO, "connection lost", path)
        real(path, data)

    monkeypatch.setattr(store, "_write_small", no_meta)
    with pytest.raises(OSError):
        store.write(SIG1, "v", {"path": "/p"})
    assert store.read_meta(SIG1) is None
    monkeypatch.setattr(store, "_write_small", real)
    store.write(SIG1, "v", {"path": "/p"})
    assert store.read(SIG1) == "v"


def test_second_write_of_a_committed_signature_keeps_it(store):
    first = store.write(SIG1, "v", {"path": "/p"})
    assert store.write(SIG1, "v", {"path": "/p"}) == first
    assert store.read(SIG1) == "v"


# ------------------------------------------------------------------------------------------- damage
def _flip(store, path):
    data = bytearray(store.fs.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    store.fs.pipe_file(path, bytes(data))


_BIG_FRAME = pd.DataFrame({"a": np.random.default_rng(0).random(4000)})  # ~32 KB: above the inline limit


def test_damaged_blob_is_detected_then_replaced(store):
    store.write(SIG1, _BIG_FRAME, {"path": "/group/frame"})
    _flip(store, blob_file(store, SIG1))
    with pytest.raises(DamagedDataError) as info:
        store.read(SIG1)
    assert "/group/frame" in str(info.value) and store.blob_dir(SIG1) in str(info.value)
    store.write(SIG1, _BIG_FRAME, {"path": "/group/frame"})  # a recompute repairs it
    assert_frame_equal(store.read(SIG1), _BIG_FRAME)


def test_a_damaged_blob_of_a_value_inline_in_its_metadata_is_found_by_verify(store):
    """A load of a small value decodes its inline copy (checked against the same checksum) and never reads the
    blob; ``verify`` (``dds verify``, and a writer keeping an existing value) still checks the blob's files."""
    meta = store.write(SIG1, pd.DataFrame({"a": range(50)}), {"path": "/group/frame"})
    _flip(store, blob_file(store, SIG1))
    if "inline" in meta:
        assert_frame_equal(store.read(SIG1), pd.DataFrame({"a": range(50)}))
    with pytest.raises(DamagedDataError, match="/group/frame"):
        store.verify(SIG1, store.read_meta(SIG1))


def test_missing_blob_file_is_damage(store):
    store.write(SIG1, b"bytes" * 4000, {"path": "/p"})  # 20 KB: above the inline limit
    store.fs.rm(blob_file(store, SIG1))
    with pytest.raises(DamagedDataError, match="missing"):
        store.read(SIG1)


def test_garbled_meta_is_damage(store):
    store.write(SIG1, "v", {})
    store.fs.pipe_file(store.meta_file(SIG1), b"{not json")
    with pytest.raises(DamagedDataError):
        store.read_meta(SIG1)
    store.write(SIG1, "v", {})
    assert store.read(SIG1) == "v"


# -------------------------------------------------------------------------------------- path validation
BAD_PATHS = ["relative", "a/b", "/a/../b", "/../x", "/..", "/a/..", "/a//b", "/a/", "/", "", "/a/./b", "/a\\b",
             "/a\x00b", 7]


def test_bad_paths_are_refused_and_nothing_is_written(where, store):
    store.write(SIG1, "v", {})
    before = where.listing()
    for bad in BAD_PATHS:
        with pytest.raises(PathError):
            store.set_ref(bad, SIG1)
        with pytest.raises(PathError):
            store.get_ref(bad)
    assert where.listing() == before
    assert list(store.iter_refs()) == []


def test_value_and_group_conflicts(store):
    store.write(SIG1, "v", {})
    store.set_ref("/a/b", SIG1)
    with pytest.raises(StoreError, match="both a value and a group"):
        store.set_ref("/a/b/c", SIG1)
    with pytest.raises(StoreError, match="both a value and a group"):
        store.set_ref("/a", SIG1)
    assert list(store.iter_refs()) == [("/a/b", SIG1)]


# ----------------------------------------------------------------------------------------------- refs
def test_iter_refs_sorted(store):
    paths = ["/z", "/a/b/c", "/a/b2", "/m/x.ref", "/sp ace/ü%"]
    for i, path in enumerate(paths):
        sig = f"{i:02d}" * 16
        store.write(sig, path, {})
        store.set_ref(path, sig)
    assert list(store.iter_refs()) == sorted((p, f"{i:02d}" * 16) for i, p in enumerate(paths))


def test_two_stores_at_different_places_do_not_see_each_other(where):
    one, two = where.make("one"), where.make("two")
    one.write(SIG1, "in one", {})
    one.set_ref("/p", SIG1)
    assert two.read_meta(SIG1) is None and two.get_ref("/p") is None and list(two.iter_refs()) == []
    two.write(SIG1, "in two", {})
    two.set_ref("/q", SIG1)
    assert one.read(SIG1) == "in one" and two.read(SIG1) == "in two"
    assert list(one.iter_refs()) == [("/p", SIG1)] and list(two.iter_refs()) == [("/q", SIG1)]


def test_a_second_store_object_at_the_same_place_sees_the_first(where):
    if where.kind == "memory":
        pytest.skip("each memory store is private")
    first = where.make("shared")
    first.write(SIG1, "v", {})
    first.set_ref("/p", SIG1)
    second = where.make("shared")
    assert second.get_ref("/p") == SIG1 and second.read(SIG1) == "v"


# ----------------------------------------------------------------------------------------- concurrency
def test_concurrent_writers_of_the_same_signature_end_with_one_valid_blob(store):
    value = pd.DataFrame({"a": range(1000), "b": [str(i) for i in range(1000)]})
    n = 6
    barrier = threading.Barrier(n)
    results, errors = [], []

    def writer():
        try:
            barrier.wait()
            results.append(store.write(SIG1, value, {"path": "/same"}))
            store.set_ref("/same", SIG1)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == n and {r["codec"] for r in results} == {"pandas.parquet"}
    meta = store.read_meta(SIG1)
    store.verify(SIG1, meta)
    assert_frame_equal(store.read(SIG1), value)
    assert list(store.iter_blob_sigs()) == [SIG1]
    assert list(store.iter_refs()) == [("/same", SIG1)]
    assert files_under(store, "tmp") == []


def test_concurrent_writers_with_different_bytes_never_mix(store):
    """Two runs of a function may pickle the same value differently (set order, ...): whichever metadata
    wins, it must describe the files it names. Stores that stage per writer guarantee it."""
    if not isinstance(store, FsspecStore):
        pytest.skip("the local and memory stores expect identical bytes for one signature")
    n = 6
    barrier = threading.Barrier(n)

    def writer(i):
        barrier.wait()
        store.write(SIG1, f"variant {i}" * 100, {})

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.verify(SIG1, store.read_meta(SIG1))
    assert store.read(SIG1).startswith("variant ")


# ------------------------------------------------------------------------------------- gc and verify
def test_gc_and_verify_work_on_every_store(store):
    from dds.store.maintenance import gc as collect
    from dds.store.maintenance import verify

    store.write(SIG1, "kept", {"path": "/kept"})
    store.set_ref("/kept", SIG1)
    store.write(SIG2, "dropped", {"path": "/gone"})
    put(store, f"{store.blob_dir(SIG3)}/data.txt", b"unfinished")
    if isinstance(store, FsspecStore):  # a concurrent writer's folder the metadata does not name
        put(store, f"{store.blob_dir(SIG1)}/w-superseded/data.txt", b"kept")
    assert verify(store).ok
    report = collect(store, grace=0, now=time.time() + 60)
    removed = {(r.kind, r.sig) for r in report.removed}
    assert {("blob", SIG2), ("unfinished", SIG3)} <= removed
    assert list(store.iter_blob_sigs()) == [SIG1] and list(store.iter_blob_dirs()) == [SIG1]
    assert list(store.iter_temp()) == []
    assert store.read(SIG1) == "kept" and verify(store).ok


# ------------------------------------------------------------------------------------------ Spark URIs
def test_uri_for_spark(where, store):
    store.write(SIG1, "v", {})
    target = blob_file(store, SIG1)
    uri = store.uri_for_spark(target)
    if where.kind in ("memory", "fsspec-memory"):
        assert uri is None
    elif where.kind in ("local", "fsspec-file"):
        assert uri == "file://" + target and os.path.isfile(target)
    elif where.kind == "fsspec-s3":
        assert uri == "s3a://" + target
    else:
        assert uri == "dbfs:/main/dds/" + target.split("/main/dds/", 1)[1]


# ---------------------------------------------------------------------------------- fsspec specifics
def test_fsspec_blob_files_go_straight_to_their_writer_folder(where, store):
    if not isinstance(store, FsspecStore):
        pytest.skip("stores that rename stage in tmp/")
    meta = store.write(SIG1, "v", {})
    folder, name = meta["file_name"].split("/")
    assert folder.startswith("w-") and name == "data.txt"
    assert files_under(store) == [f"blobs/{SIG1}/{folder}/data.txt", f"meta/{SIG1}.json"]


def test_fsspec_url_errors_name_the_url_and_the_fix(monkeypatch):
    with pytest.raises(StoreError, match="nosuchproto.*s3://bucket/prefix"):
        create_store("fsspec", url="nosuchproto://x/y")
    with pytest.raises(StoreError, match="url="):
        create_store("fsspec", url="")
    with pytest.raises(StoreError, match="url="):
        create_store("fsspec")

    def no_s3fs(url, **options):
        raise ImportError("Install s3fs to access S3")

    monkeypatch.setattr("fsspec.core.url_to_fs", no_s3fs)
    with pytest.raises(StoreError, match=r"s3://b/p.*pip install s3fs"):
        create_store("fsspec", url="s3://b/p")


def test_fsspec_s3_without_bucket_is_refused(s3):
    with pytest.raises(StoreError, match="names no bucket"):
        create_store("fsspec", url="s3://", **s3.storage_options)


def test_fsspec_missing_bucket_is_named_on_write(s3):
    store = create_store("fsspec", url="s3://no-such-bucket/dds", **s3.storage_options)
    assert store.read_meta(SIG1) is None and list(store.iter_refs()) == []
    with pytest.raises(StoreError, match="bucket 'no-such-bucket' does not exist"):
        store.write(SIG1, "v", {})


def test_fsspec_data_dir_must_be_on_the_same_file_system(tmp_path):
    with pytest.raises(StoreError, match="same file system"):
        create_store("fsspec", url=(tmp_path / "a").as_uri(), data_dir="s3://bucket/people")


@pytest.mark.parametrize("data_dir", ["s", "s/meta", "s/refs/x", ".", "s/blobs"])
def test_data_dir_overlapping_the_store_is_refused(tmp_path, data_dir):
    with pytest.raises(StoreError, match="overlaps the store's own files"):
        create_store("fsspec", url=(tmp_path / "s").as_uri(), data_dir=str(tmp_path / data_dir))
    (tmp_path / "dbfs").mkdir(exist_ok=True)
    with pytest.raises(StoreError, match="overlaps the store's own files"):
        create_store("dbfs", internal_dir="dbfs:/s", data_dir=f"dbfs:/{data_dir}", dbfs_root=str(tmp_path / "dbfs"))


def test_fsspec_store_at_an_s3_prefix_writes_nothing_else(s3):
    before = s3.listing()
    store = create_store("fsspec", url=s3.url("only-here"), **s3.storage_options)
    store.write(SIG1, "v", {})
    store.set_ref("/a/b", SIG1)
    new = sorted(set(s3.listing()) - set(before))
    assert new and all(p.startswith(f"{s3.bucket}/only-here/") for p in new)
    assert store.describe() == f"fsspec store at {s3.url('only-here')}"


def test_fsspec_and_dbfs_read_a_local_store_directory(tmp_path):
    """Same layout: a folder written by the local store can be opened as file:// or on DBFS."""
    local = create_store("local", internal_dir=str(tmp_path / "dds"))
    local.write(SIG1, pd.DataFrame({"a": [1]}), {})
    local.set_ref("/g/v", SIG1)
    for other in (create_store("fsspec", url=(tmp_path / "dds").as_uri()),
                  create_store("dbfs", internal_dir="dbfs:/dds", dbfs_root=str(tmp_path))):
        assert list(other.iter_refs()) == [("/g/v", SIG1)]
        assert_frame_equal(other.read(SIG1), pd.DataFrame({"a": [1]}))
        assert list(other.iter_temp()) == []
    other.write(SIG2, "written by dbfs", {})  # and back: the local store reads the writer-folder layout
    other.set_ref("/g/w", SIG2)
    assert local.read(SIG2) == "written by dbfs" and local.get_ref("/g/w") == SIG2


# ------------------------------------------------------------------------------------------ dbfs specifics
@pytest.fixture
def dbfs_root(tmp_path):
    root = tmp_path / "dbfs"
    root.mkdir()
    return root


def test_dbfs_spark_uri_maps_the_mount(dbfs_root):
    store = DbfsStore(internal_dir=str(dbfs_root / "team" / "dds"), dbfs_root=str(dbfs_root))
    assert store.root == str(dbfs_root / "team" / "dds")
    assert store.spark_uri(str(dbfs_root / "x" / "y.parquet")) == "dbfs:/x/y.parquet"
    assert store.spark_uri(str(dbfs_root)) == "dbfs:/"
    with pytest.raises(StoreError, match="not on DBFS"):
        store.spark_uri("/elsewhere/file")
    assert store.local_path("dbfs:/a/b") == str(dbfs_root / "a" / "b")
    assert store.fs.dbfs_root == str(dbfs_root)


def test_dbfs_root_from_the_environment(dbfs_root, monkeypatch):
    monkeypatch.setenv("DDS_DBFS_ROOT", str(dbfs_root))
    store = create_store("dbfs")
    assert store.root == str(dbfs_root / "dds") and store.url == "dbfs:/dds"


def test_dbfs_paths_outside_the_mount_are_refused(dbfs_root, tmp_path):
    with pytest.raises(StoreError, match="internal_dir.*not on DBFS"):
        DbfsStore(internal_dir=str(tmp_path / "elsewhere"), dbfs_root=str(dbfs_root))
    with pytest.raises(StoreError, match="data_dir.*not on DBFS"):
        DbfsStore(internal_dir="dbfs:/a", data_dir="/tmp/people", dbfs_root=str(dbfs_root))
    with pytest.raises(StoreError, match="not on DBFS"):
        DbfsStore(internal_dir="dbfs:/../escape", dbfs_root=str(dbfs_root))


def test_dbfs_without_the_mount_says_how_to_fix_it(tmp_path):
    with pytest.raises(StoreError, match="dbfs_root"):
        DbfsStore(dbfs_root=str(tmp_path / "no-such-mount"))


def test_dbfs_works_without_rename_or_symlinks(dbfs_root, monkeypatch):
    """The FUSE mount may refuse rename (ENOSYS) and has no symlinks: writes, refs and the view still work."""

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(os, "replace", refuse)
    monkeypatch.setattr(os, "rename", refuse)
    monkeypatch.setattr(os, "symlink", refuse)
    store = DbfsStore(internal_dir="dbfs:/dds", data_dir="dbfs:/people", dbfs_root=str(dbfs_root))
    store.write(SIG1, pd.DataFrame({"a": [1]}), {})
    store.set_ref("/g/frame", SIG1)
    store.write(SIG2, pd.DataFrame({"a": [2]}), {})
    store.set_ref("/g/frame", SIG2)
    assert store.get_ref("/g/frame") == SIG2
    view = dbfs_root / "people" / "g" / "frame"
    assert view.is_file() and not view.is_symlink()
    assert_frame_equal(pd.read_parquet(view), pd.DataFrame({"a": [2]}))
    assert list(store.iter_temp()) == [] and store._can_rename is False  # tried once, then written in place


# ------------------------------------------------------------------------------ end to end: dds.keep on S3
SCRIPT = """
import sys
import pandas as pd
import dds

dds.set_store("fsspec", url=sys.argv[1], data_dir=sys.argv[2], key={key!r}, secret={secret!r},
              client_kwargs={{"endpoint_url": {endpoint!r}, "region_name": "us-east-1"}})

def make_frame():
    with open(sys.argv[3], "a") as f:
        f.write("ran\\n")
    return pd.DataFrame({{"x": [1, 2, 3]}})

frame = dds.keep("/e2e/frame", make_frame)
print("sum", int(frame["x"].sum()))
"""


def test_keep_through_an_s3_store_loads_on_the_second_run(s3, tmp_path):
    from s3_server import KEY, SECRET

    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(SCRIPT.format(key=KEY, secret=SECRET, endpoint=s3.endpoint)))
    ran = tmp_path / "ran.txt"
    args = [sys.executable, str(script), s3.url("e2e/dds"), s3.url("e2e/people"), str(ran)]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, **s3.env, "PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    for attempt in (1, 2):
        done = subprocess.run(args, check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "sum 6" in done.stdout
        assert ran.read_text().count("ran") == 1, f"run {attempt}: the function ran again"
    listing = s3.listing()
    assert f"{s3.bucket}/e2e/dds/refs/e2e/frame.ref" in listing
    assert f"{s3.bucket}/e2e/people/e2e/frame" in listing
    sig = s3.fs().cat_file(f"{s3.bucket}/e2e/dds/refs/e2e/frame.ref").decode().strip()
    meta = json.loads(s3.fs().cat_file(f"{s3.bucket}/e2e/dds/meta/{sig}.json"))
    assert meta["path"] == "/e2e/frame" and meta["codec"] == "pandas.parquet"
