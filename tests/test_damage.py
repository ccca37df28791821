"""Damaged data: every kind of damage a store can suffer is detected and never returned as data.

For each kind (a truncated blob, a flipped byte, a missing blob file, a missing or garbled metadata file, a
dangling or garbled ref, a dangling link in ``data_dir``) on the local store:

* ``load`` raises a ``DDSError`` naming the path and the fix (or, where the damage only hit the view for
  people, still returns the right value);
* ``keep`` does not return the damaged value: with the default ``on_damage="raise"`` it raises a
  ``DamagedDataError`` naming the path and the fix without running the function (a value that is simply
  missing is recomputed: there is nothing damaged to return);
* with ``dds.set_option("on_damage", "recompute")``, ``keep`` runs the function, rewrites the value, and
  the next ``load`` (and the file in ``data_dir``) is good;
* ``verify`` lists the damage.

"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest
from _store_files import store_files
from _tracking import CALLS, record
from pandas.testing import assert_frame_equal
from reliability_report import record_figures

import dds
from dds.codecs import codec_named
from dds.errors import DamagedDataError, DDSError
from dds.store.maintenance import verify

dds.reject_module("_tracking")  # its CALLS list changes on every call; it must not be hashed

PATH = "/g/value"
FIGURES: dict[str, dict[str, str]] = {}


def value_for(n):
    return {"n": n, "rows": [(i, str(i)) for i in range(200)]}


def compute(n):
    record("compute")
    return value_for(n)


GOOD = value_for(7)


@pytest.fixture
def store(tmp_path):
    previous = dds.session._store
    store = dds.set_store("local", internal_dir=str(tmp_path / "store"))
    assert dds.keep(PATH, compute, 7) == GOOD
    CALLS.clear()
    yield store
    dds.set_option("on_damage", "raise")
    dds.session._store = previous


def blob_file(store, sig=None):
    sig = sig or store.get_ref(PATH)
    return os.path.join(store.blob_dir(sig), store.read_meta(sig)["file_name"])


def truncate(store):
    with open(blob_file(store), "r+b") as f:
        f.truncate(os.path.getsize(blob_file(store)) // 2)


def flip_byte(store):
    where = blob_file(store)
    with open(where, "r+b") as f:
        f.seek(os.path.getsize(where) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0x01]))


def remove_blob_file(store):
    os.remove(blob_file(store))


def remove_meta(store):
    os.remove(store.meta_file(store.get_ref(PATH)))


def garble_meta(store):
    with open(store.meta_file(store.get_ref(PATH)), "w") as f:
        f.write('{"codec": "pickle", "files": ')


def dangle_ref(store):
    """The ref points to a signature the store no longer holds (blob and metadata gone)."""
    sig = store.get_ref(PATH)
    shutil.rmtree(store.blob_dir(sig))
    os.remove(store.meta_file(sig))


def garble_ref(store):
    with open(store.ref_file(PATH), "w") as f:
        f.write("../../../etc/passwd\n")


def dangle_view(store):
    """The link people read in data_dir points nowhere (e.g. a blob deleted by hand)."""
    view = store.data_path(PATH)
    os.remove(view)
    os.symlink(os.path.join(store.root, "blobs", "0" * 40, "data.pkl"), view)


BLOB_DAMAGE = {"truncated blob": truncate, "flipped byte": flip_byte, "missing blob file": remove_blob_file}
META_DAMAGE = {"garbled metadata": garble_meta}
MISSING = {"missing metadata": remove_meta, "dangling ref": dangle_ref}
REF_DAMAGE = {"garbled ref": garble_ref}
ALL = {**BLOB_DAMAGE, **META_DAMAGE, **MISSING, **REF_DAMAGE}

def params(kinds: dict, marks: dict | None = None):
    return [pytest.param(k, f, id=k.replace(" ", "-"), marks=(marks or {}).get(k, ())) for k, f in kinds.items()]


def assert_names_path_and_fix(exc: Exception, path: str = PATH) -> None:
    text = str(exc)
    assert isinstance(exc, DDSError)
    assert path in text, f"the message does not name {path}: {text}"
    assert "Fix:" in text or "re-run" in text, f"the message gives no fix: {text}"


def note(kind: str, what: str, outcome: str) -> None:
    FIGURES.setdefault(kind, {})[what] = outcome


# ------------------------------------------------------------------------------------------------ load
@pytest.mark.parametrize("kind,damage", params(ALL))
def test_load_of_damaged_data_raises_naming_path_and_fix(store, kind, damage):
    damage(store)
    with pytest.raises(DDSError) as info:
        value = dds.load(PATH)
        pytest.fail(f"load returned {value!r:.80} from a damaged store")
    note(kind, "load", type(info.value).__name__)
    assert_names_path_and_fix(info.value)
    if kind in BLOB_DAMAGE or kind in REF_DAMAGE:
        assert isinstance(info.value, DamagedDataError)


# ------------------------------------------------------------------------------------------------ keep
@pytest.mark.parametrize("kind,damage", params({**BLOB_DAMAGE, **META_DAMAGE, **REF_DAMAGE}))
def test_keep_refuses_damaged_data_without_running(store, kind, damage):
    damage(store)
    before = store_files(store)
    with pytest.raises(DamagedDataError) as info:
        value = dds.keep(PATH, compute, 7)
        pytest.fail(f"keep returned {value!r:.80} from a damaged store")
    note(kind, "keep", "DamagedDataError")
    assert CALLS == []  # the function did not run: the user decides (fix the store, or on_damage=recompute)
    assert store_files(store) == before  # and nothing was changed
    assert_names_path_and_fix(info.value)


@pytest.mark.parametrize("kind,damage", params(MISSING))
def test_keep_recomputes_a_value_that_is_missing(store, kind, damage):
    damage(store)
    assert dds.keep(PATH, compute, 7) == GOOD
    note(kind, "keep", "recomputed (nothing stored)")
    assert CALLS == ["compute"]
    assert dds.load(PATH) == GOOD and verify(store).ok


@pytest.mark.parametrize("kind,damage", params(ALL))
def test_on_damage_recompute_rewrites_the_value(store, kind, damage):
    damage(store)
    dds.set_option("on_damage", "recompute")
    assert dds.keep(PATH, compute, 7) == GOOD
    if kind in REF_DAMAGE:  # the value itself is intact: rewriting the ref is enough
        assert CALLS in ([], ["compute"])
    else:
        assert CALLS == ["compute"]
    dds.set_option("on_damage", "raise")
    assert dds.load(PATH) == GOOD
    calls = list(CALLS)
    assert dds.keep(PATH, compute, 7) == GOOD and CALLS == calls  # stored again: loaded, not recomputed
    with open(store.data_path(PATH), "rb") as f:  # the view for people is good too
        assert pd.read_pickle(f) == GOOD
    assert verify(store).ok
    note(kind, "on_damage=recompute", "rewritten")


# ---------------------------------------------------------------------------------------------- verify
@pytest.mark.parametrize("kind,damage", params(ALL))
def test_verify_lists_the_damage_with_the_path(store, kind, damage):
    damage(store)
    report = verify(store)
    assert not report.ok
    assert any(PATH in problem.paths for problem in report.problems), report.problems
    note(kind, "verify", ", ".join(sorted({p.kind for p in report.problems})))


# ------------------------------------------------------------------------------- the view in data_dir
def test_a_dangling_view_does_not_change_what_load_returns(store):
    dangle_view(store)
    assert dds.load(PATH) == GOOD
    assert dds.keep(PATH, compute, 7) == GOOD and CALLS == []
    note("dangling data_dir link", "load", "value (from the ref)")


def test_keep_repairs_a_dangling_view(store):
    dangle_view(store)
    dds.keep(PATH, compute, 7)
    with open(store.data_path(PATH), "rb") as f:
        assert pd.read_pickle(f) == GOOD


# --------------------------------------------------------------- damage a codec would not have noticed
SILENT = {
    "text": ("/s/text", "a plain sentence, long enough to flip a byte in the middle"),
    "bytes": ("/s/bytes", bytes(range(256)) * 4),
    "numpy": ("/s/array", np.arange(1000, dtype="float64")),
    "pandas": ("/s/frame", pd.DataFrame({"x": np.arange(2000, dtype="int64") * 3, "y": np.linspace(0, 1, 2000)})),
    "pickle": ("/s/obj", {"numbers": list(range(500)), "name": "x" * 300}),
}


def constant(name):
    return SILENT[name][1]


@pytest.mark.parametrize("name", list(SILENT))
def test_a_flipped_byte_is_never_returned_whatever_the_codec(store, name):
    """Flip bytes all over the file: dds refuses every one; how many the codec alone would have returned as
    (wrong) data is counted: those only the checksum catches."""
    path, value = SILENT[name]
    dds.keep(path, constant, name)
    sig = store.get_ref(path)
    meta = store.read_meta(sig)
    codec = codec_named(meta["codec"])
    where = os.path.join(store.blob_dir(sig), meta["file_name"])
    with open(where, "rb") as f:
        original = f.read()
    offsets = sorted({len(original) * k // 24 for k in range(24)})
    silent = 0
    for offset in offsets:
        damaged = bytearray(original)
        damaged[offset] ^= 0x01
        with open(where, "wb") as f:
            f.write(damaged)
        with pytest.raises(DamagedDataError) as info:
            got = dds.load(path)
            pytest.fail(f"a flipped byte at offset {offset} was returned as data: {got!r:.80}")
        assert_names_path_and_fix(info.value, path)
        try:
            decoded = codec.read(store.fs, where)  # what the codec alone would have done
        except Exception:  # noqa: BLE001, S112 - the codec noticed by itself
            continue
        silent += not _equal(decoded, value)
    with open(where, "wb") as f:
        f.write(original)
    assert _equal(dds.load(path), value)
    if name in ("text", "bytes", "numpy"):  # formats without their own checks: the checksum is the only guard
        assert silent > 0
    note(f"flipped byte ({name})", "load", f"refused {len(offsets)}/{len(offsets)}; "
         f"{silent} would have decoded to wrong data without the checksum")


def _equal(a, b) -> bool:
    if isinstance(b, pd.DataFrame):
        try:
            assert_frame_equal(a, b)
            return True
        except AssertionError:
            return False
    if isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and a.shape == b.shape and bool((a == b).all())
    return a == b


def test_zz_record_figures():
    """Not a check: writes which damage kinds were detected, and how, for docs/reliability.md."""
    record_figures("damage", FIGURES)
