"""gc and verify at the store level (local and memory stores), without the command line."""

from __future__ import annotations

import json
import time

import pytest

from dds.errors import StoreError
from dds.store.maintenance import DEFAULT_GRACE_S, gc, verify
from dds.store import create_store

SIG_A1, SIG_A2, SIG_B, SIG_C = "a1" * 20, "a2" * 20, "b0" * 20, "c0" * 20
LATER = time.time() + 10 * DEFAULT_GRACE_S  # "now" for a gc run long after everything was written


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    if request.param == "local":
        s = create_store("local", internal_dir=str(tmp_path / ".dds"))
    else:
        s = create_store("memory")
    # /a was kept twice (its first value is now an orphan), /b once; /c was written but never referenced
    s.write(SIG_A1, [1, 2, 3], {"path": "/a"})
    s.set_ref("/a", SIG_A1)
    s.write(SIG_A2, [4, 5, 6], {"path": "/a"})
    s.set_ref("/a", SIG_A2)
    s.write(SIG_B, "text", {"path": "/g/b"})
    s.set_ref("/g/b", SIG_B)
    s.write(SIG_C, b"bytes", {"path": "/c"})
    return s


def put(store, where: str, data: bytes) -> None:
    store.fs.makedirs(where.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(where, data)


def everything(store) -> list[str]:
    return sorted(store._find(store.root))


def test_gc_deletes_unreferenced_values_and_keeps_referenced_ones(store):
    report = gc(store, grace=0)
    assert sorted(r.sig for r in report.removed) == sorted([SIG_A1, SIG_C])
    assert {r.path for r in report.removed} == {"/a", "/c"} and {r.kind for r in report.removed} == {"blob"}
    assert report.bytes_freed > 0 and not report.dry_run
    assert list(store.iter_blob_sigs()) == sorted([SIG_A2, SIG_B])
    assert sorted(store.iter_blob_dirs()) == sorted([SIG_A2, SIG_B])
    assert store.read(SIG_A2) == [4, 5, 6] and store.read(SIG_B) == "text"
    assert verify(store).ok
    assert gc(store, grace=0).removed == []


def test_gc_dry_run_deletes_nothing(store):
    before = everything(store)
    report = gc(store, dry_run=True, grace=0)
    assert report.dry_run and sorted(r.sig for r in report.removed) == sorted([SIG_A1, SIG_C])
    assert everything(store) == before


def test_gc_keeps_young_orphans_until_the_grace_period_is_over(store):
    before = everything(store)
    report = gc(store)
    assert report.removed == [] and sorted(report.kept_recent) == sorted([SIG_A1, SIG_C])
    assert everything(store) == before
    assert sorted(r.sig for r in gc(store, now=LATER).removed) == sorted([SIG_A1, SIG_C])


def test_gc_removes_unfinished_writes_and_stale_temporaries_only_when_old(store):
    put(store, f"{store.blob_dir(SIG_C[::-1])}/data.pkl", b"half written")  # a blob with no metadata
    put(store, f"{store.root}/tmp/.b-writer/data.pkl", b"being written")
    assert {r.kind for r in gc(store).removed} == set()
    report = gc(store, now=LATER)
    kinds = sorted((r.kind, r.sig or r.where.rsplit("/", 1)[-1]) for r in report.removed)
    assert kinds == sorted([("blob", SIG_A1), ("blob", SIG_C), ("unfinished", SIG_C[::-1]),
                            ("temporary", ".b-writer")])
    assert list(store.iter_temp()) == [] and sorted(store.iter_blob_dirs()) == sorted([SIG_A2, SIG_B])


def test_gc_stops_on_a_damaged_ref_without_deleting(store):
    store._write_small(store.ref_file("/g/b"), b"garbage!\n")
    before = everything(store)
    with pytest.raises(StoreError, match="/g/b"):
        gc(store, grace=0)
    assert everything(store) == before


def test_gc_never_deletes_a_referenced_value_even_when_damaged(store):
    store._write_small(store.meta_file(SIG_B), b"{not json")
    gc(store, grace=0)
    assert SIG_B in store.iter_blob_dirs()


def test_gc_rejects_a_negative_grace(store):
    with pytest.raises(StoreError, match="grace"):
        gc(store, grace=-1)


def test_verify_clean_store(store):
    report = verify(store)
    assert report.ok and report.refs == 2 and report.blobs == 4 and report.problems == []


def _only_problem(store):
    report = verify(store)
    assert not report.ok and len(report.problems) == 1, report.problems
    return report.problems[0]


def test_verify_flipped_byte(store):
    name = store.read_meta(SIG_B)["file_name"]
    store.fs.pipe_file(f"{store.blob_dir(SIG_B)}/{name}", b"texT")
    problem = _only_problem(store)
    assert (problem.kind, problem.paths, problem.sig) == ("damaged blob", ["/g/b"], SIG_B)
    assert "checksum" in problem.message and "/g/b" in problem.fix and store.blob_dir(SIG_B) in problem.fix


def test_verify_missing_file(store):
    name = store.read_meta(SIG_A2)["file_name"]
    store.fs.rm(f"{store.blob_dir(SIG_A2)}/{name}")
    problem = _only_problem(store)
    assert (problem.kind, problem.paths) == ("damaged blob", ["/a"]) and "missing" in problem.message


def test_verify_missing_and_garbled_metadata(store):
    store.fs.rm(store.meta_file(SIG_A2))
    store._write_small(store.meta_file(SIG_B), b'{"codec": 1}')
    report = verify(store)
    found = sorted((p.kind, tuple(p.paths)) for p in report.problems)
    assert found == [("damaged metadata", ("/g/b",)), ("dangling ref", ("/a",))]


def test_verify_signature_mismatch_in_metadata(store):
    meta = store.read_meta(SIG_B)
    meta["signature"] = SIG_C
    store._write_small(store.meta_file(SIG_B), json.dumps(meta).encode())
    problem = _only_problem(store)
    assert problem.kind == "damaged metadata" and SIG_C in problem.message


def test_verify_damaged_ref_and_unfinished_write(store):
    store._write_small(store.ref_file("/a"), b"../../etc\n")
    put(store, f"{store.blob_dir(SIG_C[::-1])}/data.pkl", b"half")
    report = verify(store)
    assert [(p.kind, p.paths) for p in report.problems] == [("damaged ref", ["/a"])]
    assert store.ref_file("/a") in report.problems[0].fix
    assert len(report.notes) == 1 and SIG_C[::-1] in report.notes[0]


def test_verify_damage_in_an_unreferenced_value_says_gc_removes_it(store):
    name = store.read_meta(SIG_C)["file_name"]
    store.fs.pipe_file(f"{store.blob_dir(SIG_C)}/{name}", b"BYTES")
    problem = _only_problem(store)
    assert problem.paths == [] and problem.sig == SIG_C and "dds gc" in problem.fix
