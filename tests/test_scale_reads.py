"""The local store's short read paths of issue 17 give what the long ones give, and refuse what they refuse.

* a small one-file value (pickle, text, bytes) is read once: checksummed and decoded from the same bytes;
  a flipped byte, a truncation, a file grown past the read-once size and safe mode are still refused;
* the bytes of old metadata files are kept and re-parsed after a ``stat`` finds the same file: a file
  replaced by rename (as every writer replaces it), garbled in place or removed is read anew;
* the plan's ``CallSignature.function_signature`` equals ``function_signature`` of the built tree.

Real stores in ``tmp_path``, real files; each store is opened afresh (a new ``LocalStore``) where a new
process would read.
"""

from __future__ import annotations

import json
import os

import pytest

import dds
from dds.errors import CodecError, DamagedDataError
from dds.signature import tree as trees
from dds.signature.memo import call_signature
from dds.store import local
from dds.store.local import LocalStore

dds.reject_module("_tracking")


def _helper(x):
    return x * 3


def small(n):
    return {"n": n, "items": list(range(n))}


def text(n):
    return "line\n" * n


def raw(n):
    return bytes(range(n % 256)) * 3


def uses_helper(n):
    return _helper(n) + 1


@pytest.fixture
def root(tmp_path):
    previous = dds.session._store
    dds.set_store("local", internal_dir=str(tmp_path / "store"))
    yield str(tmp_path / "store")
    dds.set_option("codecs", "all")
    dds.session._store = previous


def _blob_file(store: LocalStore, path: str) -> str:
    sig = store.get_ref(path)
    return os.path.join(store.blob_dir(sig), store.read_meta(sig)["file_name"])


def _fresh_load(root: str, path: str):
    """What ``dds.load`` returns in a new process: a new store object over the same folder."""
    store = dds.set_store("local", internal_dir=root)
    return dds.load(path), store


@pytest.mark.parametrize("fn, codec", [(small, "pickle"), (text, "text"), (raw, "bytes")])
def test_small_values_read_once_equal_plain_python(root, fn, codec):
    assert dds.keep(f"/r/{fn.__name__}", fn, 40) == fn(40)
    value, store = _fresh_load(root, f"/r/{fn.__name__}")
    assert value == fn(40) and type(value) is type(fn(40))
    assert store.read_meta(store.get_ref(f"/r/{fn.__name__}"))["codec"] == codec


@pytest.mark.parametrize("damage", ["flip", "truncate", "grow"])
def test_damaged_small_values_are_refused(root, damage):
    dds.keep("/r/small", small, 50)
    store = dds.set_store("local", internal_dir=root)
    where = _blob_file(store, "/r/small")
    if damage == "flip":
        with open(where, "r+b") as f:
            f.seek(10)
            byte = f.read(1)
            f.seek(10)
            f.write(bytes([byte[0] ^ 0x01]))
    elif damage == "truncate":
        with open(where, "r+b") as f:
            f.truncate(5)
    else:  # past the size read whole: the generic path reads and refuses it
        with open(where, "ab") as f:
            f.write(b"\0" * (local._READ_ONCE + 10))
    with pytest.raises(DamagedDataError, match="/r/small"):
        _fresh_load(root, "/r/small")
    with pytest.raises(DamagedDataError):
        dds.keep("/r/small", small, 50)  # keep never returns it either (on_damage="raise")


def test_safe_mode_still_refuses_a_small_pickle(root):
    dds.keep("/r/small", small, 3)
    dds.set_store("local", internal_dir=root)
    dds.set_option("codecs", "safe")
    with pytest.raises(CodecError, match="pickle"):
        dds.load("/r/small")


def test_kept_metadata_bytes_follow_every_change_of_the_file(root, monkeypatch):
    monkeypatch.setattr(local, "_RACY_NS", 0)  # keep every file read (the 2 s window is for real clocks)
    dds.keep("/r/small", small, 4)
    store = dds.set_store("local", internal_dir=root)
    sig = store.get_ref("/r/small")
    where = store.meta_file(sig)
    first = store.read_meta(sig)
    assert store._metas_read  # kept
    assert store.read_meta(sig) == first  # from the kept bytes

    # replaced by rename, as every writer does: a new file, read anew
    changed = dict(first, function="someone.else")
    with open(where + ".new", "w") as f:
        json.dump(changed, f)
    os.replace(where + ".new", where)
    assert store.read_meta(sig)["function"] == "someone.else"

    # garbled in place: refused, not served from what was kept
    with open(where, "w") as f:
        f.write("{not json")
    with pytest.raises(DamagedDataError, match="not valid JSON"):
        store.read_meta(sig)

    os.remove(where)
    assert store.read_meta(sig) is None


def test_recent_metadata_is_not_kept(root):
    dds.keep("/r/small", small, 4)
    store = dds.set_store("local", internal_dir=root)
    store.read_meta(store.get_ref("/r/small"))
    assert not store._metas_read  # written a moment ago: its times cannot yet tell versions apart


@pytest.mark.parametrize("fn", [small, uses_helper])
def test_function_signature_without_the_tree_equals_the_trees(fn):
    for args in ((), (2,)):
        built = call_signature(f"/f/{fn.__name__}", fn, args, {}, load_sig=lambda p: None)
        again = call_signature(f"/f/{fn.__name__}", fn, args, {}, load_sig=lambda p: None)  # the memo's path
        for signature in (built, again):
            assert signature.function_signature() == trees.function_signature(signature.tree)
            assert signature.function_signature()[1]  # it names the units the function reaches
