"""Security: links in data_dir, file modes, and pickles (which are code).

* dds refuses to write through a symlinked folder in ``data_dir`` that it did not create (a link out of the
  store, or onto another path's folder), and replaces, never writes through, a link at a value's own name;
* every file and folder of the store is created with the user's umask (tested in fresh processes with
  umask 027 and 002: no 0600 temporaries, no 0644 forced on a private store);
* stored pickles are code: loading one runs what it says (shown below with a harmless pickle that touches a
  file). ``dds.set_option("codecs", "safe")`` refuses pickle when writing (a ``CodecError`` naming the
  value's type and the formats safe mode stores) and when reading (the pickle is not opened).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal
from reliability_report import record_figures

import dds
from dds.codecs import Codec, register_codec, unregister_codec
from dds.errors import CodecError, NotFoundError, StoreError
from dds.store.maintenance import gc, verify

REPO_ROOT = Path(__file__).resolve().parents[1]
FIGURES: dict[str, object] = {}


@pytest.fixture(scope="module", autouse=True)
def _figures():
    yield
    record_figures("security", FIGURES)


@pytest.fixture
def store(tmp_path):
    previous = dds.session._store
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"), data_dir=str(tmp_path / "data"))
    yield store
    dds.set_option("codecs", "all")
    dds.session._store = previous


def tree(top: Path) -> dict[str, str]:
    """Every entry below ``top`` with its content (links: their target)."""
    found = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            full = os.path.join(folder, name)
            found[full] = ("-> " + os.readlink(full) if os.path.islink(full)
                           else "dir" if os.path.isdir(full) else Path(full).read_bytes().decode("latin-1"))
    return found


def text(value):
    return value


# ------------------------------------------------------------------------------------- links in data_dir
def test_a_linked_folder_in_data_dir_leading_elsewhere_is_refused(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep-me.txt").write_text("untouched")
    os.makedirs(store.data_root)
    os.symlink(elsewhere, os.path.join(store.data_root, "group"))
    before = tree(elsewhere)
    with pytest.raises(StoreError) as info:
        dds.keep("/group/x", text, "secret")
    message = str(info.value)
    assert "/group/x" in message and os.path.join(store.data_root, "group") in message and "Fix:" in message
    assert tree(elsewhere) == before  # nothing written there
    with pytest.raises(NotFoundError):
        dds.load("/group/x")  # and the path was not pointed at the value
    assert verify(store).ok
    gc(store, grace=0)  # the value written before the refusal is an orphan: gc takes it
    assert list(store.iter_blob_sigs()) == []
    FIGURES["link out of data_dir"] = "refused"


def test_a_linked_folder_deeper_in_data_dir_is_refused(store, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.makedirs(os.path.join(store.data_root, "a"))
    os.symlink(elsewhere, os.path.join(store.data_root, "a", "b"))
    with pytest.raises(StoreError, match="symbolic link"):
        dds.keep("/a/b/c/d", text, "secret")
    assert list(elsewhere.iterdir()) == []


def test_a_linked_folder_pointing_inside_data_dir_is_refused(store):
    """data_dir/alias -> data_dir/real: writing /alias/x through it would overwrite the view of /real/x."""
    assert dds.keep("/real/x", text, "the real value") == "the real value"
    os.symlink(os.path.join(store.data_root, "real"), os.path.join(store.data_root, "alias"))
    with pytest.raises(StoreError, match="symbolic link"):
        dds.keep("/alias/x", text, "another value")
    with open(os.path.join(store.data_root, "real", "x"), encoding="utf-8") as f:
        assert f.read() == "the real value"
    assert dds.load("/real/x") == "the real value"
    FIGURES["link onto another folder of data_dir"] = "refused"


def test_a_link_at_the_value_name_is_replaced_not_written_through(store, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.makedirs(store.data_root)
    os.symlink(victim, os.path.join(store.data_root, "x"))
    assert dds.keep("/x", text, "the value") == "the value"
    assert victim.read_text() == "precious"
    view = os.path.join(store.data_root, "x")
    assert os.path.realpath(view).startswith(os.path.realpath(store.root) + os.sep)
    with open(view, encoding="utf-8") as f:
        assert f.read() == "the value"
    FIGURES["link at a value's own name"] = "replaced, target untouched"


# ------------------------------------------------------------------------------------------------ umask
UMASK_CHILD = """
import json, os, sys
import numpy as np, pandas as pd
import dds

def value(kind):
    if kind == "frame":
        return pd.DataFrame({"a": [1, 2, 3]})
    if kind == "array":
        return np.arange(4)
    if kind == "text":
        return "hello"
    if kind == "bytes":
        return b"bytes"
    return {"pickled": [1, 2]}

modes = {}
for umask in (0o027, 0o002):
    os.umask(umask)
    root = os.path.join(sys.argv[1], oct(umask))
    store = dds.set_store("local", internal_dir=os.path.join(root, "store"), data_dir=os.path.join(root, "data"))
    for kind in ("frame", "array", "text", "bytes", "obj"):
        dds.keep(f"/g/{kind}", value, kind)
        dds.keep(f"/g/{kind}", value, kind + "!") if kind in ("text",) else None  # a replaced view too
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(folder, name)
            if not os.path.islink(full):
                found[os.path.relpath(full, root)] = [os.path.isdir(full), os.stat(full).st_mode & 0o7777]
    modes[oct(umask)] = found
print(json.dumps(modes))
"""


def test_store_files_are_created_with_the_users_umask(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DDS_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    out = subprocess.run([sys.executable, "-c", UMASK_CHILD, str(tmp_path)], check=False, capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    checked = 0
    for umask_text, found in json.loads(out.stdout).items():
        umask = int(umask_text, 8)
        kinds = {name.split(os.sep)[1] for name in found if name.startswith("store" + os.sep)}
        assert {"blobs", "meta", "refs"} <= kinds, kinds
        for name, (is_dir, mode) in found.items():
            want = (0o777 if is_dir else 0o666) & ~umask
            assert mode == want, f"umask {umask_text}: {name} has mode {oct(mode)}, expected {oct(want)}"
            checked += 1
    FIGURES["files and folders checked against the umask"] = checked


# --------------------------------------------------------------------------------------- pickles are code
MARKER = {"path": None}


def touch(path):
    """What unpickling our "evil" value calls: it could as well be os.system."""
    Path(path).write_text("unpickling ran code")
    return "harmless"


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return touch, (self.marker,)


def evil(marker):
    return Evil(marker)


def test_loading_a_stored_pickle_runs_code(store, tmp_path):
    """Why safe mode exists: whoever can write a pickle into a store runs code in every process loading it."""
    marker = tmp_path / "marker.txt"
    dds.keep("/evil", evil, str(marker))
    assert not marker.exists()
    assert dds.load("/evil") == "harmless"
    assert marker.read_text() == "unpickling ran code"


def test_safe_mode_refuses_to_load_a_pickle(store, tmp_path):
    marker = tmp_path / "marker.txt"
    dds.keep("/evil", evil, str(marker))
    dds.set_option("codecs", "safe")
    for attempt in (lambda: dds.load("/evil"), lambda: dds.keep("/evil", evil, str(marker))):
        with pytest.raises(CodecError) as info:
            attempt()
        message = str(info.value)
        assert "/evil" in message and "pickle" in message and "runs" in message and "Fix:" in message
    assert not marker.exists()  # the pickle was never opened
    dds.set_option("codecs", "all")
    dds.load("/evil")
    assert marker.exists()
    FIGURES["safe mode, reading a pickle"] = "refused before unpickling"


def a_dict():
    return {"a": 1}


def a_mixed_frame():
    return pd.DataFrame({"mixed": [1, "two"]})  # Parquet cannot hold it: pickle would have been the fallback


def an_object_array():
    return np.array([{"a": 1}, None], dtype=object)


@pytest.mark.parametrize("fn,type_name", [(a_dict, "builtins.dict"), (a_mixed_frame, "pandas.DataFrame"),
                                          (an_object_array, "numpy.ndarray")])
def test_safe_mode_refuses_to_write_a_pickle(store, fn, type_name):
    dds.set_option("codecs", "safe")
    with pytest.raises(CodecError) as info:
        dds.keep("/p", fn)
    message = str(info.value)
    assert type_name in message
    assert all(fmt in message for fmt in ("Parquet", ".npy", "text", "bytes")), message
    assert list(store.iter_blob_dirs()) == [] and list(store.iter_temp()) == []  # nothing was stored
    with pytest.raises(NotFoundError):
        dds.load("/p")
    FIGURES.setdefault("safe mode, writing", []).append(f"{type_name}: refused")


def safe_value(kind):
    return {
        "text": "text",
        "bytes": b"\x00\x01",
        "array": np.arange(6, dtype="float32").reshape(2, 3),
        "frame": pd.DataFrame({"a": [1, 2], "b": ["x", None]}),
        "table": pa.table({"a": [1, 2]}),
    }[kind]


@pytest.mark.parametrize("kind", ["text", "bytes", "array", "frame", "table"])
def test_safe_mode_stores_and_loads_data_formats(store, kind):
    dds.set_option("codecs", "safe")
    value = dds.keep(f"/{kind}", safe_value, kind)
    loaded = dds.load(f"/{kind}")
    if kind == "frame":
        assert_frame_equal(loaded, value)
    elif kind == "array":
        np.testing.assert_array_equal(loaded, value)
    elif kind == "table":
        assert loaded.equals(value)
    else:
        assert loaded == value
    assert store.read_meta(store.get_ref(f"/{kind}"))["codec"] != "pickle"


class Upper(Codec):
    name = "test.upper"
    file_name = "data.up"

    def handles(self, value):
        return isinstance(value, str) and value.startswith("UP:")

    def write(self, value, fs, path):
        with fs.open(path, "wb") as f:
            f.write(value.encode())

    def read(self, fs, path):
        with fs.open(path, "rb") as f:
            return f.read().decode()


class SafeUpper(Upper):
    name = "test.safe-upper"
    safe = True


def up():
    return "UP:value"


def test_safe_mode_uses_only_user_codecs_marked_safe(store):
    register_codec(Upper())
    try:
        dds.keep("/unmarked", up)
        assert store.read_meta(store.get_ref("/unmarked"))["codec"] == "test.upper"
        dds.set_option("codecs", "safe")
        with pytest.raises(CodecError, match="not marked safe"):
            dds.load("/unmarked")
        register_codec(SafeUpper())
        dds.keep("/marked", up)
        assert store.read_meta(store.get_ref("/marked"))["codec"] == "test.safe-upper"
        assert dds.load("/marked") == "UP:value"
    finally:
        unregister_codec("test.upper")
        unregister_codec("test.safe-upper")


def test_codecs_option_is_validated():
    with pytest.raises(dds.ArgumentError, match="codecs"):
        dds.set_option("codecs", "none")
    assert dds.get_option("codecs") == "all"
