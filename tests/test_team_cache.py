"""A local cache in front of a remote store (moto S3 on 127.0.0.1): blobs read through it and verified, refs
always from the remote, writes fill it, LRU eviction keeps it within its size bound."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from dds.errors import DamagedDataError, StoreError
from dds.store import create_store


@pytest.fixture
def url(s3):
    return s3.url(f"cache-{os.urandom(4).hex()}")


def remote(s3, url, **options):
    return create_store("fsspec", url=url, **s3.storage_options, **options)


# Values above the inline limit (dds/store/inline.py): smaller ones are read from their metadata, not their blob.
ROWS = {"rows": list(range(100)), "pad": b"p" * 20_000}
BIG = b"x" * 20_000


def drop_remote_files(store, sig):
    """Delete a blob's files on the remote, keeping its metadata: only a cached copy can answer now."""
    store.fs.rm(store.blob_dir(sig), recursive=True)
    store.fs.invalidate_cache()


def test_reads_go_through_the_cache_and_are_verified(s3, url, tmp_path):
    writer = remote(s3, url)
    writer.write("a1", ROWS, {"path": "/v"})
    writer.set_ref("/v", "a1")
    reader = remote(s3, url, local_cache=str(tmp_path / "cache"))
    assert reader.read("a1") == ROWS
    assert (reader.cache.misses, reader.cache.hits) == (1, 0)
    drop_remote_files(writer, "a1")
    assert reader.read("a1") == ROWS  # from the cache: the remote copy is gone
    assert reader.cache.hits == 1
    # refs always come from the remote
    writer.write("b2", "new", {"path": "/v"})
    writer.set_ref("/v", "b2")
    assert reader.get_ref("/v") == "b2" and reader.read("b2") == "new"


def test_a_damaged_cached_copy_is_fetched_again(s3, url, tmp_path):
    store = remote(s3, url, local_cache=str(tmp_path / "cache"))
    store.write("c3", BIG, {"path": "/b"})
    meta = store.read_meta("c3")
    (rel,) = meta["files"]
    cached = os.path.join(store.cache.blob_dir("c3"), *rel.split("/"))
    with open(cached, "r+b") as f:
        f.write(b"y")  # a flipped byte on local disk
    assert store.read("c3") == BIG
    assert store.cache.misses == 1
    with open(cached, "rb") as f:
        assert f.read() == BIG


def test_a_damaged_remote_blob_is_an_error_and_is_not_cached(s3, url, tmp_path):
    store = remote(s3, url, local_cache=str(tmp_path / "cache"))
    store.write("d4", BIG, {"path": "/b"})
    (rel,) = store.read_meta("d4")["files"]
    store.fs.pipe_file(f"{store.blob_dir('d4')}/{rel}", b"z" * len(BIG))
    # drop the cached copy (filled by the write) so the read must fetch the damaged remote file
    os.remove(os.path.join(store.cache.blob_dir("d4"), *rel.split("/")))
    with pytest.raises(DamagedDataError, match=r"/b.*does not match"):
        store.read("d4")
    assert not os.path.exists(os.path.join(store.cache.blob_dir("d4"), *rel.split("/")))


def test_writes_fill_the_cache(s3, url, tmp_path):
    store = remote(s3, url, local_cache=str(tmp_path / "cache"))
    store.write("e5", [1, 2, 3, BIG], {"path": "/w"})
    drop_remote_files(store, "e5")
    assert store.read("e5") == [1, 2, 3, BIG]
    assert (store.cache.hits, store.cache.misses) == (1, 0)


def age(cache, sig, seconds):
    """Pretend blob ``sig`` was last used ``seconds`` ago (the cache never evicts what was used this minute)."""
    then = time.time() - seconds
    os.utime(cache.blob_dir(sig), (then, then))


def test_eviction_keeps_the_bound_and_drops_the_least_recently_used(s3, url, tmp_path):
    store = remote(s3, url, local_cache=str(tmp_path / "cache"), cache_size=50_000)  # two values and metadata
    for sig in ("f1", "f2"):
        store.write(sig, os.urandom(20_000), {"path": f"/{sig}"})
    age(store.cache, "f1", 300)
    age(store.cache, "f2", 200)
    store.read("f1")  # f1 is now the most recently used
    age(store.cache, "f1", 100)
    store.write("f3", os.urandom(20_000), {"path": "/f3"})
    assert sorted(os.listdir(store.cache.root)) == ["f1", "f3"]
    assert sum(size for _, size, _ in store.cache.usage()) <= 50_000
    assert store.read("f2") is not None  # evicted copies are fetched again from the remote


def test_the_cache_folder_comes_from_the_environment(s3, url, tmp_path, monkeypatch):
    monkeypatch.setenv("DDS_CACHE_DIR", str(tmp_path / "env-cache"))
    store = remote(s3, url)
    assert store.cache is not None and store.cache.directory == str(tmp_path / "env-cache")
    monkeypatch.delenv("DDS_CACHE_DIR")
    assert remote(s3, url).cache is None


@pytest.mark.parametrize("options, match", [
    ({"local_cache": "/tmp/x", "cache_size": -1}, r"cache_size=-1.*Fix: cache_size="),
    ({"local_cache": "s3://other/cache"}, r"local_cache='s3://other/cache'.*folder on this machine"),
])
def test_bad_cache_options_are_refused_with_the_fix(s3, url, options, match):
    with pytest.raises(StoreError, match=match):
        remote(s3, url, **options)


def test_the_cli_takes_a_cache_folder(tmp_path):
    from dds.cli import cli

    seen = {}
    cli.add_command(_where_is_the_cache(seen), "where-is-the-cache")
    try:
        # env=: the runner restores DDS_CACHE_DIR (which --cache sets for the store) after the call
        result = CliRunner().invoke(cli, ["--store", (tmp_path / "s").as_uri(), "--cache", str(tmp_path / "c"),
                                          "where-is-the-cache"], env={"DDS_CACHE_DIR": None})
    finally:
        cli.commands.pop("where-is-the-cache")
    assert result.exit_code == 0, result.output
    assert seen["cache"] == str(tmp_path / "c")


def _where_is_the_cache(seen):
    import click

    from dds.cli.common import store_of

    @click.command()
    @click.pass_context
    def command(ctx):
        seen["cache"] = store_of(ctx).cache.directory

    return command


KEEP = textwrap.dedent('''
    import json, os, sys
    import dds

    where = json.loads(os.environ["TEAM_STORE"])
    dds.set_store("fsspec", url=where["url"], **where["options"])
    RUNS = os.environ["TEAM_RUNS"]


    def table(n):
        with open(RUNS, "a") as f:
            f.write("ran\\n")
        return {"total": sum(range(n)), "n": n}


    print(json.dumps(dds.keep("/team/table", table, 10)))
''')


def test_fresh_processes_load_through_their_cache(s3, url, tmp_path):
    script = tmp_path / "keep.py"
    script.write_text(KEEP)

    def run(cache):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "DDS_CACHE_DIR": str(cache),
               "TEAM_STORE": json.dumps({"url": url, "options": s3.storage_options}),
               "TEAM_RUNS": str(tmp_path / "runs.txt")}
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    plain = {"total": 45, "n": 10}
    assert run(tmp_path / "laptop") == plain  # computes, fills the laptop's cache
    assert run(tmp_path / "ci") == plain  # loads from S3, fills the CI runner's cache
    store = remote(s3, url)
    drop_remote_files(store, store.get_ref("/team/table"))
    assert run(tmp_path / "ci") == plain  # only the CI runner's cache still has the bytes
    assert (tmp_path / "runs.txt").read_text().split() == ["ran"]
