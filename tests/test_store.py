"""Stores (local and memory): write/read, verification, atomicity, refs and the data view."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from dds.codecs import Codec, register_codec, unregister_codec
from dds.errors import CodecError, DamagedDataError, NotFoundError, PathError, StoreError
from dds.store import LocalStore, MemoryStore, create_store, known_stores, register_store
from dds.store.base import Store
from dds.store.fs_store import _group_name
from hypothesis import given, settings
from hypothesis import strategies as st
from urllib.parse import unquote

SIG1, SIG2, SIG3 = "a1" * 16, "b2" * 16, "c3" * 16


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        return create_store("local", internal_dir=str(tmp_path / "inner" / ".dds"))
    return create_store("memory")


def files_under(store, part=""):
    """Every file below the store's root (or one of its folders)."""
    top = f"{store.root}/{part}".rstrip("/")
    return sorted(p[len(store.root) + 1 :] for p in store._find(top))


def blob_file(store, sig):
    meta = store.read_meta(sig)
    return f"{store.blob_dir(sig)}/{meta['file_name']}"


# ------------------------------------------------------------------------------------------ write / read
@pytest.mark.parametrize(
    "value",
    [
        "text\r\n",
        b"\x00bytes",
        {"a": [1, 2]},
        np.arange(5, dtype="int32"),
        pd.DataFrame({"c": pd.Categorical(["a", "b"]), "i": pd.array([1, None], dtype="Int64")}),
    ],
    ids=["str", "bytes", "dict", "ndarray", "frame"],
)
def test_write_then_read(store, value):
    meta_in = {"path": "/g/v", "function": "f"}
    meta = store.write(SIG1, value, meta_in)
    assert meta_in == {"path": "/g/v", "function": "f"}  # the caller's dict is not changed
    assert meta["path"] == "/g/v" and meta["function"] == "f"
    assert set(meta["files"]) == {meta["file_name"]}
    info = meta["files"][meta["file_name"]]
    assert info["size"] > 0 or value in ("", b"")
    assert info["algorithm"] == "xxh3_128" and len(info["checksum"]) == 32
    stored_at = datetime.fromisoformat(meta["stored_at"])
    assert stored_at.tzinfo is not None and stored_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(timezone.utc) - stored_at).total_seconds()) < 60
    assert store.read_meta(SIG1) == meta
    out = store.read(SIG1)
    assert type(out) is type(value)
    if isinstance(value, pd.DataFrame):
        assert_frame_equal(out, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(out, value)
        assert out.dtype == value.dtype
    else:
        assert out == value
    assert files_under(store, "tmp") == []


def test_codec_recorded_in_meta(store):
    assert store.write(SIG1, "x", {})["codec"] == "text"
    assert store.write(SIG2, pd.DataFrame({"a": [1]}), {})["codec"] == "pandas.parquet"
    assert store.write(SIG3, [1], {})["codec"] == "pickle"


@pytest.mark.parametrize(
    "frame",
    [pd.DataFrame({"m": [1, "a"]}), pd.DataFrame([[1, 2]], columns=["a", "a"])],
    ids=["mixed-object-column", "duplicate-columns"],
)
def test_frame_parquet_cannot_hold_is_pickled(store, frame):
    meta = store.write(SIG1, frame, {"path": "/odd"})
    assert meta["codec"] == "pickle"
    assert_frame_equal(store.read(SIG1), frame)
    assert files_under(store, "tmp") == []


def test_read_meta_none_and_read_not_found_for_unknown_sig(store):
    assert store.read_meta(SIG1) is None
    with pytest.raises(NotFoundError):
        store.read(SIG1)


def test_meta_passed_to_read_is_used(store):
    meta = store.write(SIG1, "hello", {"path": "/p"})
    assert store.read(SIG1, meta) == "hello"


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "a.b", "x" * 201, 7])
def test_invalid_signature_is_refused(store, bad):
    with pytest.raises(StoreError):
        store.write(bad, "v", {})
    with pytest.raises(StoreError):
        store.read_meta(bad)
    assert files_under(store) == []


def test_iter_blob_sigs_lists_committed_blobs_only(store):
    store.write(SIG2, "b", {})
    store.write(SIG1, "a", {})
    store.write(SIG3, "c", {})
    store.fs.rm(store.meta_file(SIG3))  # a blob whose write never committed
    assert list(store.iter_blob_sigs()) == [SIG1, SIG2]


# ------------------------------------------------------------------------------------------------ damage
def _flip_byte(store, path):
    data = bytearray(store.fs.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    store.fs.pipe_file(path, bytes(data))


def _truncate(store, path):
    store.fs.pipe_file(path, store.fs.cat_file(path)[:-1])


def _delete(store, path):
    store.fs.rm(path)


@pytest.mark.parametrize("damage", [_flip_byte, _truncate, _delete], ids=["flip", "truncate", "delete"])
def test_damaged_blob_is_detected(store, damage):
    store.write(SIG1, pd.DataFrame({"a": range(100)}), {"path": "/group/frame"})
    damage(store, blob_file(store, SIG1))
    with pytest.raises(DamagedDataError) as info:
        store.read(SIG1)
    message = str(info.value)
    assert "/group/frame" in message
    assert store.blob_dir(SIG1) in message
    assert "re-run" in message and "delete" in message


def test_damaged_blob_is_replaced_by_a_new_write(store):
    store.write(SIG1, "good value", {"path": "/p"})
    _flip_byte(store, blob_file(store, SIG1))
    store.write(SIG1, "good value", {"path": "/p"})
    assert store.read(SIG1) == "good value"
    store.write(SIG2, "first", {"path": "/q"})
    _truncate(store, blob_file(store, SIG2))
    store.write(SIG2, "second", {"path": "/q"})  # a recompute that gives another (valid) value
    assert store.read(SIG2) == "second"


@pytest.mark.parametrize("garbage", [b"{not json", b"[1, 2]", b'{"codec": "text"}', b"\xff\xfe"])
def test_garbled_meta_is_damaged(store, garbage):
    store.write(SIG1, "v", {"path": "/p"})
    store.fs.pipe_file(store.meta_file(SIG1), garbage)
    with pytest.raises(DamagedDataError) as info:
        store.read_meta(SIG1)
    assert store.meta_file(SIG1) in str(info.value)
    with pytest.raises(DamagedDataError):
        store.read(SIG1)


def test_meta_with_unsafe_file_names_is_damaged(store):
    meta = store.write(SIG1, "v", {"path": "/p"})
    bad = dict(meta, files={"../../escape": meta["files"][meta["file_name"]]})
    with pytest.raises(DamagedDataError):
        store.read(SIG1, bad)


def test_unknown_codec_in_meta_names_path(store):
    meta = store.write(SIG1, "v", {"path": "/p"})
    with pytest.raises(CodecError) as info:
        store.read(SIG1, dict(meta, codec="gone.codec"))
    assert "/p" in str(info.value) and "gone.codec" in str(info.value)


def test_blob_without_meta_is_not_committed_and_rewrite_commits(store):
    store.write(SIG1, "v", {"path": "/p"})
    store.fs.rm(store.meta_file(SIG1))  # as after a crash between the blob rename and the meta write
    assert store.read_meta(SIG1) is None
    meta = store.write(SIG1, "v", {"path": "/p"})
    assert store.read_meta(SIG1) == meta
    assert store.read(SIG1) == "v"


def test_second_write_of_committed_sig_keeps_the_first(store):
    first = store.write(SIG1, "v", {"path": "/p"})
    again = store.write(SIG1, "v", {"path": "/p"})
    assert again == first
    assert store.read(SIG1) == "v"
    assert files_under(store, "tmp") == []


# --------------------------------------------------------------------------------------- codec failures
class Exploding:
    pass


class HalfWriter(Codec):
    name = "test.half"
    file_name = "data.half"

    def handles(self, value):
        return isinstance(value, Exploding)

    def write(self, value, fs, path):
        with fs.open(path, "wb") as f:
            f.write(b"half of it")
        raise RuntimeError("disk on fire")

    def read(self, fs, path):
        raise AssertionError("never read")


@pytest.fixture
def half_writer():
    register_codec(HalfWriter())
    yield
    unregister_codec(HalfWriter.name)


def test_codec_failing_mid_write_leaves_nothing(store, half_writer):
    with pytest.raises(CodecError) as info:
        store.write(SIG1, Exploding(), {"path": "/boom"})
    message = str(info.value)
    assert "/boom" in message and "test.half" in message and "disk on fire" in message
    assert store.read_meta(SIG1) is None
    assert files_under(store, "blobs") == [] and files_under(store, "meta") == []
    assert files_under(store, "tmp") == []


def test_unpicklable_value_leaves_nothing(store):
    with pytest.raises(CodecError) as info:
        store.write(SIG1, {"lock": threading.Lock()}, {"path": "/locked"})
    assert "/locked" in str(info.value) and "pickle" in str(info.value)
    assert files_under(store) == []


def test_codec_failing_to_decode_names_path(store):
    class Fragile:
        def __reduce__(self):
            return (_explode, ())

    store.write(SIG1, Fragile(), {"path": "/fragile"})
    with pytest.raises(CodecError) as info:
        store.read(SIG1)
    assert "/fragile" in str(info.value) and "pickle" in str(info.value)


def _explode():
    raise ValueError("cannot rebuild")


# -------------------------------------------------------------------------------------------------- refs
def test_set_ref_and_replace(store):
    store.write(SIG1, "one", {"path": "/g/x"})
    store.write(SIG2, "two", {"path": "/g/x"})
    assert store.get_ref("/g/x") is None
    store.set_ref("/g/x", SIG1)
    assert store.get_ref("/g/x") == SIG1
    store.set_ref("/g/x", SIG2)
    assert store.get_ref("/g/x") == SIG2
    assert list(store.iter_refs()) == [("/g/x", SIG2)]
    assert files_under(store, "tmp") == []


def test_set_ref_to_unknown_sig_is_refused(store):
    with pytest.raises(StoreError):
        store.set_ref("/p", SIG1)
    assert store.get_ref("/p") is None


def test_iter_refs_sorted_with_odd_names(store):
    store.write(SIG1, "v", {})
    store.write(SIG2, "w", {})
    paths = ["/z", "/a/b/c", "/x.ref/y", "/x", "/per%cent/v", "/é ü/☃", "/a/b2"]
    for i, path in enumerate(paths):
        store.set_ref(path, SIG1 if i % 2 else SIG2)
    expected = sorted((p, SIG1 if i % 2 else SIG2) for i, p in enumerate(paths))
    assert list(store.iter_refs()) == expected
    assert store.get_ref("/x") == SIG1 and store.get_ref("/x.ref/y") == SIG2


@pytest.mark.parametrize("bad", ["relative", "a/b", "/a/../b", "/../x", "/a//b", "/a/", "/", "", "/a/./b", "/a\\b"])
def test_bad_paths_are_refused_and_nothing_is_written(store, tmp_path, bad):
    store.write(SIG1, "v", {})
    before = files_under(store)
    with pytest.raises(PathError):
        store.set_ref(bad, SIG1)
    with pytest.raises(PathError):
        store.get_ref(bad)
    assert files_under(store) == before
    assert sorted(os.listdir(tmp_path)) == (["inner"] if isinstance(store, LocalStore) else [])


def test_value_then_group_conflict(store):
    store.write(SIG1, "v", {})
    store.set_ref("/a", SIG1)
    with pytest.raises(StoreError) as info:
        store.set_ref("/a/b", SIG1)
    assert "/a/b" in str(info.value) and "'/a'" not in str(info.value) and " /a " in str(info.value)
    assert store.get_ref("/a/b") is None
    assert list(store.iter_refs()) == [("/a", SIG1)]


def test_group_then_value_conflict(store):
    store.write(SIG1, "v", {})
    store.set_ref("/a/b", SIG1)
    with pytest.raises(StoreError) as info:
        store.set_ref("/a", SIG1)
    assert "/a" in str(info.value) and "b.ref" in str(info.value)
    assert store.get_ref("/a") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab.%ref2E5"), min_size=1, max_size=12))
def test_group_folder_names_decode_and_never_look_like_ref_files(part):
    name = _group_name(part)
    assert unquote(name) == part  # so two groups never share a folder
    assert not name.endswith(".ref")  # so a group folder never collides with a ref file


def test_same_sig_written_by_many_writers_at_once(tmp_path):
    frame = pd.DataFrame({"a": np.arange(50_000), "s": ["x"] * 50_000})
    root = tmp_path / ".dds"
    errors, metas = [], []

    def writer():
        try:
            metas.append(LocalStore(internal_dir=root).write(SIG1, frame, {"path": "/race"}))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = LocalStore(internal_dir=root)
    assert all(m["files"] == store.read_meta(SIG1)["files"] for m in metas)
    assert_frame_equal(store.read(SIG1), frame)
    assert os.listdir(root / "tmp") == []


def test_damaged_ref_is_reported(store):
    store.write(SIG1, "v", {})
    store.set_ref("/p", SIG1)
    store.fs.pipe_file(store.ref_file("/p"), b"../../etc/passwd\n")
    with pytest.raises(DamagedDataError) as info:
        store.get_ref("/p")
    assert "/p" in str(info.value)


def test_two_memory_stores_are_separate():
    one, two = create_store("memory"), create_store("memory")
    one.write(SIG1, "only in one", {})
    one.set_ref("/p", SIG1)
    assert two.read_meta(SIG1) is None and two.get_ref("/p") is None
    assert list(two.iter_refs()) == [] and list(two.iter_blob_sigs()) == []
    assert one.read(SIG1) == "only in one"


def test_memory_store_is_dropped_when_collected():
    import gc

    s = MemoryStore()
    s.write(SIG1, "x", {})
    fs, root = s.fs, s.root
    assert fs.exists(root)
    del s
    gc.collect()
    assert not fs.exists(root)


# ------------------------------------------------------------------------------------ local: data view
@pytest.fixture
def local(tmp_path):
    return LocalStore(internal_dir=tmp_path / "inner" / ".dds")


def test_data_view_is_a_link_to_the_current_blob(local):
    local.write(SIG1, "first value", {"path": "/g/x"})
    local.write(SIG2, "second value", {"path": "/g/x"})
    local.set_ref("/g/x", SIG1)
    view = local.data_path("/g/x")
    assert view == os.path.join(local.root, "data", "g", "x")
    assert os.path.islink(view)
    with open(view, encoding="utf-8") as f:
        assert f.read() == "first value"
    local.set_ref("/g/x", SIG2)
    assert os.path.islink(view)
    assert os.path.realpath(view) == os.path.realpath(blob_file(local, SIG2))
    with open(view, encoding="utf-8") as f:
        assert f.read() == "second value"
    assert sorted(os.listdir(os.path.dirname(view))) == ["x"]  # no temporary names left
    assert os.listdir(os.path.join(local.root, "tmp")) == []


def test_data_view_is_copied_where_symlinks_fail(local, monkeypatch):
    def no_symlinks(*args, **kwargs):
        raise OSError("symlinks not supported here")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    local.write(SIG1, b"one", {})
    local.write(SIG2, b"two", {})
    local.set_ref("/x", SIG1)
    view = local.data_path("/x")
    assert not os.path.islink(view)
    with open(view, "rb") as f:
        assert f.read() == b"one"
    local.set_ref("/x", SIG2)
    with open(view, "rb") as f:
        assert f.read() == b"two"


def test_custom_data_dir_outside_internal_dir(tmp_path):
    store = LocalStore(internal_dir=tmp_path / "internal", data_dir=tmp_path / "people")
    store.write(SIG1, "hello", {})
    store.set_ref("/a/b", SIG1)
    with open(tmp_path / "people" / "a" / "b", encoding="utf-8") as f:
        assert f.read() == "hello"


def test_real_directory_in_the_way_is_refused(local):
    local.write(SIG1, "v", {})
    os.makedirs(os.path.join(local.data_root, "a", "b"))
    with pytest.raises(StoreError) as info:
        local.set_ref("/a", SIG1)
    assert "/a" in str(info.value) and os.path.join(local.data_root, "a") in str(info.value)
    assert local.get_ref("/a") is None


def test_symlinked_folder_in_data_dir_cannot_lead_outside(local, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.makedirs(local.data_root)
    os.symlink(outside, os.path.join(local.data_root, "evil"))
    local.write(SIG1, "v", {})
    with pytest.raises(StoreError):
        local.set_ref("/evil/x", SIG1)
    assert os.listdir(outside) == []
    assert local.get_ref("/evil/x") is None


def test_local_default_dirs_are_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = create_store("local")
    assert store.root == str(tmp_path / ".dds")
    assert store.data_root == str(tmp_path / ".dds" / "data")
    assert store.describe() == f"local store at {tmp_path / '.dds'}"
    monkeypatch.chdir("/")
    store.write(SIG1, "v", {})  # still under tmp_path after a chdir
    assert (tmp_path / ".dds" / "meta" / f"{SIG1}.json").exists()


def test_local_files_follow_the_umask(local):
    old = os.umask(0o027)
    try:
        local.write(SIG1, "v", {})
        local.set_ref("/p", SIG1)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(local.blob_dir(SIG1)) == 0o750
    assert mode(blob_file(local, SIG1)) == 0o640
    assert mode(local.meta_file(SIG1)) == 0o640
    assert mode(local.ref_file("/p")) == 0o640


def test_local_meta_is_readable_json(local):
    local.write(SIG1, "v", {"path": "/p", "nested": {"k": [1, 2]}})
    with open(local.meta_file(SIG1), encoding="utf-8") as f:
        data = json.load(f)
    assert data["nested"] == {"k": [1, 2]} and data["codec"] == "text"


def test_damage_hint_is_a_command(local):
    local.write(SIG1, "v", {"path": "/p"})
    os.remove(blob_file(local, SIG1))
    with pytest.raises(DamagedDataError) as info:
        local.read(SIG1)
    assert f"rm -r {local.blob_dir(SIG1)} {local.meta_file(SIG1)}" in str(info.value)


# ---------------------------------------------------------------------------------------------- registry
def test_create_store_unknown_kind_lists_known():
    with pytest.raises(StoreError) as info:
        create_store("nope")
    assert "nope" in str(info.value) and "local" in str(info.value) and "memory" in str(info.value)


def test_create_store_bad_option():
    with pytest.raises(StoreError) as info:
        create_store("memory", internal_dir="/x")
    assert "internal_dir" in str(info.value)
    assert isinstance(create_store("memory", internal_dir=None, data_dir=None), MemoryStore)


def test_register_store():
    made = []

    def factory(**options):
        made.append(options)
        return MemoryStore()

    register_store("test-kind", factory)
    try:
        assert "test-kind" in known_stores()
        assert isinstance(create_store("test-kind", colour="red"), Store)
        assert made == [{"colour": "red"}]
    finally:
        from dds.store.registry import _factories

        _factories.pop("test-kind", None)


def test_describe(store):
    assert ("local store at" in store.describe()) or ("memory store" in store.describe())


def test_values_stored_with_blake2b_checksums_by_earlier_versions_still_verify(local):
    """Metadata written before checksums carried an algorithm (blake2b, no "algorithm" field) is verified
    with blake2b: it loads when intact and is refused when damaged."""
    import hashlib

    meta = local.write(SIG1, "an older value", {"path": "/g/old"})
    blob_file = f"{local.blob_dir(SIG1)}/{meta['file_name']}"
    with open(blob_file, "rb") as f:
        data = f.read()
    meta["files"][meta["file_name"]] = {"size": len(data), "checksum": hashlib.blake2b(data).hexdigest()}
    with open(local.meta_file(SIG1), "w") as f:
        json.dump(meta, f)
    assert local.read(SIG1) == "an older value"
    with open(blob_file, "r+b") as f:
        f.write(b"X")
    with pytest.raises(DamagedDataError, match="checksum"):
        local.read(SIG1)
