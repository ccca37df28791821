"""How many requests dds sends to S3 (issue 17), counted by the server itself, and that fewer never means stale.

The server is moto's on 127.0.0.1 with a counter around its application (``bench/s3_requests.py``): every
request that reaches it, from this process or a fresh one, is counted after botocore's retries. These are
behaviour tests (how many requests an operation sends), not timing tests. The freshness tests are the other
half: two processes share the store, and what one writes the other's next keep sees, whatever s3fs cached.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "bench"))

pytest.importorskip("s3fs", reason="the S3 tests need s3fs (pip install 'dds[dev]')")
pytest.importorskip("moto.server", reason="the S3 tests need moto[server] (pip install 'dds[dev]')")

import dds  # noqa: E402
from dds import session  # noqa: E402
from dds.errors import OverlappingPathError  # noqa: E402

import s3_requests  # noqa: E402  # bench/s3_requests.py: the counting server


@pytest.fixture(scope="module")
def server():
    with s3_requests.counting_s3_server() as counted:
        yield counted


@pytest.fixture
def url(server):
    """A fresh store prefix in the bucket for each test."""
    yield server.url(f"t-{uuid.uuid4().hex[:10]}")
    session.forget_store()


def _store(server, url, cache=""):
    return dds.set_store("fsspec", url=url, local_cache=cache, **server.storage_options)


def _counted(server, fn):
    start = server.count()
    value = fn()
    return server.since(start), value


def stored_dict():
    return {"answer": 42}


def _events():
    seen = []
    session.observers.append(lambda path, what, sig: seen.append((path, what)))
    return seen


@pytest.fixture(autouse=True)
def _no_observers():
    saved = list(session.observers)
    yield
    session.observers[:] = saved


def _child(server, code: str, cwd: str) -> str:
    """Run ``code`` in a fresh process against the server; returns its stdout (fails the test if it fails)."""
    env = dict(os.environ, **s3_requests.ENV)
    env["PYTHONPATH"] = os.pathsep.join([cwd, REPO, os.path.join(REPO, "bench"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


# ------------------------------------------------------------------------------------------ request counts
def test_keep_hit_with_a_local_cache_costs_two_requests(server, url, tmp_path):
    _store(server, url, cache=str(tmp_path / "cache"))
    assert dds.keep("/k/value", stored_dict) == {"answer": 42}
    _store(server, url, cache=str(tmp_path / "cache"))  # a new store object: nothing held in memory
    sent, value = _counted(server, lambda: dds.keep("/k/value", stored_dict))
    assert value == {"answer": 42}
    assert [(m, p.split("/")[3]) for m, p, _ in sent] == [("GET", "refs"), ("GET", "meta")], sent


def test_keep_hit_without_a_cache_reads_the_ref_and_the_metadata_holding_a_small_value(server, url):
    _store(server, url)
    dds.keep("/k/value", stored_dict)
    sent, value = _counted(server, lambda: dds.keep("/k/value", stored_dict))
    assert value == {"answer": 42}
    assert [(m, p.split("/")[3]) for m, p, _ in sent] == [("GET", "refs"), ("GET", "meta")], sent


def big_bytes():
    return {"bytes": bytes(range(256)) * 80}  # 20 KiB pickled: above the inline limit (a dict: not memoised)


def test_keep_hit_of_a_value_above_the_inline_limit_reads_its_blob_once(server, url):
    store = _store(server, url)
    dds.keep("/k/big", big_bytes)
    assert "inline" not in store.read_meta(store.get_ref("/k/big"))
    sent, value = _counted(server, lambda: dds.keep("/k/big", big_bytes))
    assert value == big_bytes()
    assert sorted(m for m, _p, _q in sent) == ["GET", "GET", "GET"], sent  # no HEAD, no listing
    assert {p.split("/")[3] for _m, p, _q in sent} == {"refs", "meta", "blobs"}, sent


def test_metadata_without_an_inline_copy_still_loads_from_the_blob(server, url):
    """Values stored before inline copies existed (or by another version) read their blob, as before."""
    store = _store(server, url)
    dds.keep("/k/old", stored_dict)
    sig = store.get_ref("/k/old")
    meta = store.read_meta(sig)
    assert set(meta["inline"]) == set(meta["files"])
    del meta["inline"]
    store.fs.pipe_file(store.meta_file(sig), json.dumps(meta).encode())
    session.forget_store()
    _store(server, url)
    sent, value = _counted(server, lambda: dds.keep("/k/old", stored_dict))
    assert value == {"answer": 42}
    assert [(m, p.split("/")[3]) for m, p, _ in sent] == [("GET", "refs"), ("GET", "meta"), ("GET", "blobs")]


def test_damaged_inline_bytes_are_refused_like_a_damaged_blob(server, url, tmp_path):
    store = _store(server, url)
    dds.keep("/k/inl", stored_dict)
    sig = store.get_ref("/k/inl")
    meta = store.read_meta(sig)
    (rel,) = meta["inline"]
    meta["inline"][rel] = base64.b64encode(b"not the pickle that was stored").decode()
    store.fs.pipe_file(store.meta_file(sig), json.dumps(meta).encode())
    for cache in ("", str(tmp_path / "cache")):
        session.forget_store()
        _store(server, url, cache=cache)
        with pytest.raises(dds.DamagedDataError, match="checksum"):
            dds.keep("/k/inl", stored_dict)
    dds.set_option("on_damage", "recompute")
    try:
        assert dds.keep("/k/inl", stored_dict) == {"answer": 42}  # recomputed, and its metadata rewritten
    finally:
        dds.set_option("on_damage", "raise")
    session.forget_store()
    store = _store(server, url)
    assert dds.keep("/k/inl", stored_dict) == {"answer": 42}


def test_keep_hit_in_a_fresh_process_costs_two_requests_with_a_cache(server, url, tmp_path):
    _store(server, url, cache=str(tmp_path / "cache"))
    (tmp_path / "steps.py").write_text("def value():\n    return {'answer': 42}\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import steps

        dds.keep("/k/fresh", steps.value)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("steps", None)
    out = _child(server, f"""
        import dds, steps, s3_requests
        dds.set_store("fsspec", url={url!r}, local_cache={str(tmp_path / 'cache')!r},
                      **s3_requests.storage_options({server.endpoint!r}))
        before = s3_requests.server_count({server.endpoint!r})
        assert dds.keep("/k/fresh", steps.value) == {{"answer": 42}}
        print(s3_requests.server_count({server.endpoint!r}) - before)
    """, str(tmp_path))
    assert int(out.split()[-1]) == 2  # the ref and the metadata; the blob comes from the cache


def test_a_damaged_blob_fetched_whole_is_refused(server, url):
    """The one-GET read of a small blob checks the checksums as the streaming read did."""
    store = _store(server, url)
    dds.keep("/k/damaged", big_bytes)
    sig = store.get_ref("/k/damaged")
    meta = store.read_meta(sig)
    store.fs.pipe_file(f"{store.blob_dir(sig)}/{meta['file_name']}", b"not the bytes that were stored")
    session.forget_store()
    _store(server, url)
    with pytest.raises(dds.DamagedDataError, match="checksum"):
        dds.keep("/k/damaged", big_bytes)


def _write_chain(root, n):
    s3_requests.write_chain(str(root), n, module="chain_t")


@pytest.mark.parametrize("cached", [True, False], ids=["local cache", "no cache"])
def test_eval_no_op_reads_each_ref_once_and_the_metadata_only_without_a_cache(server, url, tmp_path, cached):
    """Issue 17: the plan reads each step's ref once; its metadata comes from the local cache (kept there when
    the value was read or written), or else is read once; the run's keeps trust the ref the plan read for
    their own path when they compute that very signature, reuse the plan's metadata, and read no blob (the
    values are inline in their metadata, or cached)."""
    n = 50
    _write_chain(tmp_path, n)
    cache = str(tmp_path / "cache") if cached else ""
    code = f"""
        import dds, chain_t, s3_requests
        ran = []
        dds.session.observers.append(lambda path, what, sig: ran.append(path) if what == "ran" else None)
        dds.set_store("fsspec", url={url!r}, local_cache={cache!r}, **s3_requests.storage_options({server.endpoint!r}))
        before = s3_requests.server_count({server.endpoint!r})
        value = dds.eval(chain_t.pipe) if MODE == "eval" else chain_t.pipe()
        print(value, len(ran), s3_requests.server_count({server.endpoint!r}) - before)
    """
    value, ran, _ = _child(server, "MODE = 'plain'\n" + textwrap.dedent(code), str(tmp_path)).split()
    assert (int(value), int(ran)) == (sum(range(n)), n)
    start = server.count()
    value, ran, requests = _child(server, "MODE = 'eval'\n" + textwrap.dedent(code), str(tmp_path)).split()
    assert (int(value), int(ran)) == (sum(range(n)), 0)
    sent = [(m, p.split("/")[3]) for m, p, _q in server.since(start)]
    assert len(sent) == int(requests) == (n if cached else 2 * n), sent
    assert sent.count(("GET", "refs")) == n and sent.count(("GET", "meta")) == (0 if cached else n), sent


# ----------------------------------------------------------------------------------- two writers, fresh
_STEPS = """
def first():
    return "first"

def second():
    return "second"

def inner():
    return "inner"
"""


def test_what_another_process_stores_is_what_this_process_keeps_next(server, url, tmp_path):
    (tmp_path / "two_writers.py").write_text(_STEPS)
    sys.path.insert(0, str(tmp_path))
    try:
        import two_writers as steps

        _store(server, url)
        assert dds.keep("/two/p", steps.first) == "first"
        sig_first = session.current_store().get_ref("/two/p")
        assert session.current_store().read_meta(session.decisions["/two/p"].new_sig) is not None
        assert list(session.current_store().paths_below("/two/g")) == []  # listed once: s3fs may now cache it
        child = f"""
            import dds, two_writers, s3_requests
            dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
            print(dds.keep("/two/p", two_writers.second), dds.keep("/two/g/x", two_writers.inner))
        """
        assert _child(server, child, str(tmp_path)).split() == ["second", "inner"]

        # this process's store object (and its s3fs file system) saw the old state; it must see the new one
        assert dds.load("/two/p") == "second"
        seen = _events()
        assert dds.keep("/two/p", steps.second) == "second"  # stored by the other process: loaded, not run
        assert seen == [("/two/p", "loaded")]
        with pytest.raises(OverlappingPathError):  # /two/g became a group in the other process
            dds.keep("/two/g", steps.inner)
        seen.clear()
        assert dds.keep("/two/p", steps.first) == "first"  # back to the first value, which is still stored
        assert seen == [("/two/p", "loaded")] and session.current_store().get_ref("/two/p") == sig_first
        check = f"""
            import dds, s3_requests
            dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
            print(dds.load("/two/p"))
        """
        assert _child(server, check, str(tmp_path)).split() == ["first"]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("two_writers", None)


def test_a_value_stored_by_another_process_after_this_one_missed_it_is_loaded(server, url, tmp_path):
    """A miss is never remembered: after another process stores the signature, this one loads it."""
    (tmp_path / "late.py").write_text("import dds\n\ndef late():\n    return 'late'\n\n"
                                      "def pipe():\n    return dds.keep('/late/v', late)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import late

        store = _store(server, url)
        plan = dds.eval(late.pipe, dds_dont_eval=True)
        assert plan.steps["/late/v"].status == "will run"  # this process looked, and found nothing
        child = f"""
            import dds, late, s3_requests
            dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
            print(dds.keep("/late/v", late.late))
        """
        assert _child(server, child, str(tmp_path)).split() == ["late"]
        seen = _events()
        assert dds.keep("/late/v", late.late) == "late"
        assert seen == [("/late/v", "loaded")], seen
        assert store.get_ref("/late/v") is not None
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("late", None)


def test_metadata_a_plan_found_is_read_again_when_the_value_was_replaced_before_the_run(server, url, tmp_path):
    """The run's keep uses the metadata the plan read; if another process replaced the value meanwhile (here:
    deleted and recomputed it, so the files the held metadata names are gone), the keep reads it again."""
    (tmp_path / "replaced.py").write_text("import dds\n\ndef value():\n    return {'v': 1}\n\n"
                                          "def pipe():\n    return dds.keep('/rep/v', value)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import replaced

        store = _store(server, url)
        assert dds.keep("/rep/v", replaced.value) == {"v": 1}
        sig = store.get_ref("/rep/v")
        old_files = store.read_meta(sig)["file_name"]
        plan = dds.eval(replaced.pipe, dds_dont_eval=True)  # holds the metadata for the run
        assert plan.steps["/rep/v"].status == "fresh"
        store.fs.rm(store.meta_file(sig))
        store.fs.rm(store.blob_dir(sig), recursive=True)
        child = f"""
            import dds, replaced, s3_requests
            dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
            print(dds.keep("/rep/v", replaced.value)["v"])
        """
        assert _child(server, child, str(tmp_path)).split() == ["1"]
        assert _store(server, url).read_meta(sig)["file_name"] != old_files  # another writer folder now
        store = session.current_store()
        plan = dds.eval(replaced.pipe, dds_dont_eval=True)
        store.fs.rm(store.meta_file(sig))
        store.fs.rm(store.blob_dir(sig), recursive=True)
        assert _child(server, child, str(tmp_path)).split() == ["1"]
        seen = _events()
        assert dds.keep("/rep/v", replaced.value) == {"v": 1}
        assert seen == [("/rep/v", "loaded")]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("replaced", None)


def test_gc_reads_the_stores_metadata_not_what_a_plan_held(server, url, tmp_path):
    """gc finds leftover writer folders by the metadata: after a plan held the old metadata and another process
    replaced the value, gc's candidates must be judged by the new one (its folder is live, never a leftover)."""
    (tmp_path / "gcd.py").write_text("import dds\n\ndef value():\n    return {'v': 2}\n\n"
                                     "def pipe():\n    return dds.keep('/gcd/v', value)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import gcd

        store = _store(server, url)
        dds.keep("/gcd/v", gcd.value)
        sig = store.get_ref("/gcd/v")
        dds.eval(gcd.pipe, dds_dont_eval=True)  # holds the metadata
        store.fs.rm(store.meta_file(sig))
        store.fs.rm(store.blob_dir(sig), recursive=True)
        child = f"""
            import dds, gcd, s3_requests
            dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
            print(dds.keep("/gcd/v", gcd.value)["v"])
        """
        assert _child(server, child, str(tmp_path)).split() == ["2"]
        live = _store(server, url).read_meta(sig)["file_name"].split("/", 1)[0]
        session.use_store(store)
        assert store.blob_dir(sig) + "/" + live not in list(store.iter_temp())
        assert dds.keep("/gcd/v", gcd.value) == {"v": 2}
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("gcd", None)


# ------------------------------------------------- another process between an eval's plan and its run
_PLAN_RUN = """
import dds

def mine():
    return {"who": "this code"}

def theirs():
    return {"who": "another process's code"}

def src():
    return 1

def src_v2():
    return 2

def uses():
    return dds.load("/pr/src") + 100

def big():
    return {"bytes": bytes(range(256)) * 80}

def pipe():
    return dds.keep("/pr/a", mine)

def pipe_uses():
    return dds.keep("/pr/uses", uses)

def pipe_big():
    return dds.keep("/pr/big", big)
"""


@pytest.fixture
def plan_run(tmp_path):
    (tmp_path / "plan_run.py").write_text(_PLAN_RUN)
    sys.path.insert(0, str(tmp_path))
    try:
        import plan_run

        yield plan_run
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("plan_run", None)


def _eval_with(fn, between):
    """``dds.eval(fn)``, calling ``between(plan)`` after the plan is made and before the pipeline runs."""
    from dds.pipeline.evaluate import evaluate

    return evaluate(fn, (), {}, export_graph=None, extra_debug=False, dont_eval=False, stages=None, on_plan=between)


@pytest.mark.parametrize("cached", [True, False], ids=["local cache", "no cache"])
def test_a_path_another_process_moves_between_plan_and_run_never_gives_its_value(server, url, tmp_path, plan_run,
                                                                                 cached):
    """The run's keep trusts the ref its plan read for its own path: it returns this code's value (the value of
    its own signature, never the other process's) and, within that eval, leaves the path where the other process
    moved it (docs/stores.md: the race that already existed right after any read of a ref, widened to one eval).
    The next keep outside the eval reads the ref again and moves the path back."""
    store = _store(server, url, cache=str(tmp_path / "cache") if cached else "")
    assert dds.keep("/pr/a", plan_run.mine) == plan_run.mine()
    mine = store.get_ref("/pr/a")
    child = f"""
        import dds, plan_run, s3_requests
        dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
        print(dds.keep("/pr/a", plan_run.theirs)["who"].split()[0])
    """

    def move(plan):
        assert plan.steps["/pr/a"].status == "fresh" and plan.steps["/pr/a"].ref == mine
        assert _child(server, child, str(tmp_path)).split() == ["another"]

    seen = _events()
    assert _eval_with(plan_run.pipe, move) == plan_run.mine()
    assert seen == [("/pr/a", "loaded")]
    assert store.get_ref("/pr/a") not in (None, mine)  # moved by the other process, not back within the eval
    seen.clear()
    assert dds.keep("/pr/a", plan_run.mine) == plan_run.mine()
    assert seen == [("/pr/a", "loaded")] and store.get_ref("/pr/a") == mine


def test_a_load_inside_a_signature_reads_the_ref_again_after_the_plan(server, url, tmp_path, plan_run):
    """Only a keep's own path is trusted from the plan: a ``dds.load`` in a step's code is signed with the ref as
    the run finds it, so a source another process moved after the plan makes the step run on the new value."""
    store = _store(server, url, cache=str(tmp_path / "cache"))
    dds.keep("/pr/src", plan_run.src)
    assert dds.keep("/pr/uses", plan_run.uses) == 101
    child = f"""
        import dds, plan_run, s3_requests
        dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
        print(dds.keep("/pr/src", plan_run.src_v2))
    """

    def move(plan):
        assert plan.steps["/pr/uses"].status == "fresh"
        assert _child(server, child, str(tmp_path)).split() == ["2"]

    seen = _events()
    assert _eval_with(plan_run.pipe_uses, move) == 102 == plan_run.src_v2() + 100
    assert seen == [("/pr/uses", "started"), ("/pr/uses", "ran")]
    assert dds.load("/pr/uses") == 102 and store.get_ref("/pr/src") is not None


def test_metadata_from_the_cache_whose_files_were_replaced_is_read_again_from_the_store(server, url, tmp_path,
                                                                                         plan_run):
    """The plan reads a cached value's metadata from the local cache; when that value's files are gone from the
    cache and from the store (deleted and recomputed by another process into another writer folder), the keep
    reads the store's metadata and loads what it names."""
    cache = str(tmp_path / "cache")
    store = _store(server, url, cache=cache)
    dds.keep("/pr/big", plan_run.big)
    sig = store.get_ref("/pr/big")
    old = store.read_meta(sig)["file_name"].split("/", 1)[0]
    child = f"""
        import dds, plan_run, s3_requests
        dds.set_store("fsspec", url={url!r}, **s3_requests.storage_options({server.endpoint!r}))
        print(len(dds.keep("/pr/big", plan_run.big)["bytes"]))
    """

    def replace(plan):
        assert plan.steps["/pr/big"].status == "fresh"
        shutil.rmtree(os.path.join(store.cache.blob_dir(sig), old))  # evicted files; the metadata copy stays
        store.fs.rm(store.meta_file(sig))
        store.fs.rm(store.blob_dir(sig), recursive=True)
        assert _child(server, child, str(tmp_path)).split() == [str(len(plan_run.big()["bytes"]))]

    start = server.count()
    _store(server, url, cache=cache)
    store = session.current_store()
    seen = _events()
    assert _eval_with(plan_run.pipe_big, replace) == plan_run.big()
    assert seen == [("/pr/big", "loaded")]
    assert store.read_meta(sig)["file_name"].split("/", 1)[0] != old
    assert ("GET", ["meta"]) in [(m, p.split("/")[3:4]) for m, p, _q in server.since(start)]


def test_a_cached_value_the_store_no_longer_holds_is_planned_as_missing_and_recomputed(server, url, tmp_path,
                                                                                       plan_run):
    """The plan reads cached metadata only for values a ref it read points at: a value still in the local cache
    but deleted from the store (``gc`` after its path moved on, then the code was reverted) is computed again."""
    store = _store(server, url, cache=str(tmp_path / "cache"))
    dds.keep("/pr/a", plan_run.mine)
    mine = store.get_ref("/pr/a")
    dds.keep("/pr/a", plan_run.theirs)  # the path moves on; then gc deletes the value it no longer points at
    store.fs.rm(store.meta_file(mine))
    store.fs.rm(store.blob_dir(mine), recursive=True)
    assert store.cache.read_meta(mine) is not None  # still cached here
    seen = _events()
    assert dds.eval(plan_run.pipe) == plan_run.mine()
    assert seen == [("/pr/a", "started"), ("/pr/a", "ran")]
    assert store.get_ref("/pr/a") == mine and store.read_meta(mine) is not None
