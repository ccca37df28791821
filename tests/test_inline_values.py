"""Small values inlined in their metadata (``dds/store/inline.py``): written by the fsspec store next to the
blob (which is still written: gc, verify, promote and data_dir copies do not change), read from the metadata
only after the same checksum check a blob gets, refused when damaged, covered by the signing HMAC, and
ignored where they do not match the files (old metadata, or a promoted copy's)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

import dds
from dds.store import create_store
from dds.store.inline import MAX_BYTES
from dds.store.signing import UntrustedValueError

SIG = "1e" * 20
KEY = "team-key-aaaaaaaaaaaaaaaa"


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("DDS_SIGNING_KEY", raising=False)
    dds.set_option("signing_key", None)
    yield
    dds.set_option("signing_key", None)


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    url = f"file://{tmp_path}/store" if request.param == "file" else f"memory://inline-{tmp_path.name}"
    return create_store("fsspec", url=url)


def _rewrite_meta(store, sig, meta):
    store.fs.pipe_file(store.meta_file(sig), json.dumps(meta).encode())


@pytest.mark.parametrize("value", [{"a": [1, 2]}, "text", b"\x00bytes", np.arange(10)], ids=["pickle", "text",
                                                                                                "bytes", "npy"])
def test_a_small_value_is_inlined_and_its_blob_still_written(store, value):
    meta = store.write(SIG, value, {"path": "/v"})
    (rel,) = meta["inline"]
    assert rel == meta["file_name"] and set(meta["files"]) == {rel}
    assert store.fs.cat_file(f"{store.blob_dir(SIG)}/{rel}") == base64.b64decode(meta["inline"][rel])
    store.verify(SIG, meta)
    got = store.read(SIG)
    assert np.array_equal(got, value) if isinstance(value, np.ndarray) else got == value


def test_a_value_above_the_limit_is_not_inlined(store):
    meta = store.write(SIG, b"x" * (MAX_BYTES + 1), {"path": "/v"})
    assert "inline" not in meta
    assert store.read(SIG) == b"x" * (MAX_BYTES + 1)


def test_the_inline_copy_is_read_instead_of_the_blob(store):
    meta = store.write(SIG, "from the metadata", {"path": "/v"})
    store.fs.rm(store.blob_dir(SIG), recursive=True)  # only to show where the bytes come from
    assert store.read(SIG, meta) == "from the metadata"


def test_damaged_inline_bytes_are_a_damaged_value_and_verify_reports_them(store):
    meta = store.write(SIG, "the stored text", {"path": "/v"})
    (rel,) = meta["inline"]
    meta["inline"][rel] = base64.b64encode(b"other text").decode()
    _rewrite_meta(store, SIG, meta)
    with pytest.raises(dds.DamagedDataError, match=r"/v is damaged: .*checksum.*Fix: "):
        store.read(SIG)
    with pytest.raises(dds.DamagedDataError, match="checksum"):
        store.verify(SIG, store.read_meta(SIG))
    meta["inline"][rel] = "not base64 !"
    _rewrite_meta(store, SIG, meta)
    with pytest.raises(dds.DamagedDataError, match="not valid base64"):
        store.read(SIG)
    fresh = store.write(SIG, "the stored text", {"path": "/v"})  # a writer does not keep a damaged copy
    assert set(fresh["inline"]) == set(fresh["files"]) and fresh["file_name"] != meta["file_name"]
    assert store.read(SIG) == "the stored text"


def test_metadata_without_inline_or_with_an_inline_copy_of_other_files_reads_the_blob(store):
    meta = store.write(SIG, "text", {"path": "/v"})
    (rel,) = meta["inline"]
    old = {k: v for k, v in meta.items() if k != "inline"}
    _rewrite_meta(store, SIG, old)
    assert store.read(SIG) == "text"
    _rewrite_meta(store, SIG, {**old, "inline": {"w-other/data.txt": base64.b64encode(b"other").decode()}})
    assert store.read(SIG) == "text"  # names no file of this blob (e.g. a copy's): ignored


def test_the_signing_hmac_covers_the_inline_copy(store):
    dds.set_option("signing_key", KEY)
    meta = store.write(SIG, "signed text", {"path": "/v"})
    assert store.read(SIG) == "signed text"
    (rel,) = meta["inline"]
    forged = b"forged text"
    from dds.store import checksums

    meta["inline"][rel] = base64.b64encode(forged).decode()
    meta["files"][rel] = checksums.checksum_of_bytes(forged)  # checksums match: only the HMAC can tell
    _rewrite_meta(store, SIG, meta)
    with pytest.raises(UntrustedValueError, match="altered"):
        store.read(SIG)


def test_promote_gives_the_copy_an_inline_copy_of_its_own_files(tmp_path):
    source = create_store("fsspec", url=f"file://{tmp_path}/a")
    dds.set_store(source)
    assert dds.keep("/p/v", _value) == {"v": 1}
    for target in (create_store("fsspec", url=f"file://{tmp_path}/b"), create_store("local", internal_dir=str(tmp_path / "c"))):
        dds.promote("/p/v", target)
        sig = target.get_ref("/p/v")
        meta = target.read_meta(sig)
        if target.kind == "local":
            assert "inline" not in meta  # the local store reads its blob file (see inline.py)
        else:
            assert set(meta["inline"]) == set(meta["files"]) != set(source.read_meta(sig)["files"])
        target.verify(sig, meta)
        assert target.read(sig) == {"v": 1}
    dds.set_store("memory")


def test_the_local_store_writes_no_inline_copy(tmp_path):
    store = create_store("local", internal_dir=str(tmp_path / "l"))
    assert "inline" not in store.write(SIG, "text", {"path": "/v"})
    assert store.read(SIG) == "text"


def _value():
    return {"v": 1}
