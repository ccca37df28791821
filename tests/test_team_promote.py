"""``dds.promote`` / ``dds promote``: a laptop's local store to the team's S3 (moto on 127.0.0.1) and back,
byte for byte, verified, idempotent; a pickle is copied without being decoded."""

import os

import pandas as pd
import pytest
from click.testing import CliRunner

import dds
from dds.errors import DamagedDataError, NotFoundError, StoreError
from dds.store import create_store

RUNS_FILE = None  # set by the laptop fixture; a file, so that counting runs is not an input of the signature


def features(n):
    with open(RUNS_FILE, "a") as f:
        f.write(f"{n}\n")
    return pd.DataFrame({"x": list(range(n)), "y": [i * i for i in range(n)]})


@pytest.fixture
def laptop(tmp_path):
    global RUNS_FILE
    store = dds.set_store("local", internal_dir=str(tmp_path / "laptop"))
    RUNS_FILE = str(tmp_path / "runs.txt")
    yield store
    dds.set_store("memory")


@pytest.fixture
def team(s3):
    return create_store("fsspec", url=s3.url(f"promote-{os.urandom(4).hex()}"), **s3.storage_options)


def test_promote_local_to_s3_then_keep_there_loads_it(laptop, team):
    plain = features(5)
    os.remove(RUNS_FILE)
    value = dds.keep("/team/features", features, 5)
    pd.testing.assert_frame_equal(value, plain)
    done = dds.promote("/team/features", to=team)
    assert done.copied and done.signature == laptop.get_ref("/team/features")
    assert team.get_ref("/team/features") == done.signature
    meta = team.read_meta(done.signature)
    assert meta["promoted"]["from"] == laptop.describe() and meta["function"].endswith("features")
    dds.set_store("fsspec", url=team.url, **team_options(team))
    pd.testing.assert_frame_equal(dds.keep("/team/features", features, 5), plain)
    assert open(RUNS_FILE).read().split() == ["5"]  # the team store answered: the function did not run again


def team_options(store):
    return {"key": store.fs.key, "secret": store.fs.secret, "client_kwargs": store.fs.client_kwargs}


def test_promote_is_idempotent(laptop, team, s3):
    dds.keep("/team/features", features, 3)
    assert dds.promote("/team/features", to=team).copied
    before = s3.listing()
    again = dds.promote("/team/features", to=team)
    assert not again.copied and s3.listing() == before


def test_promote_back_from_s3_to_a_new_local_store(laptop, team, tmp_path):
    dds.keep("/team/features", features, 4)
    dds.promote("/team/features", to=team)
    done = dds.promote("/team/features", to=str(tmp_path / "ci"), from_=team)
    ci = create_store("local", internal_dir=str(tmp_path / "ci"))
    assert ci.get_ref("/team/features") == done.signature
    pd.testing.assert_frame_equal(ci.read(done.signature), features(4))
    assert os.path.islink(ci.data_path("/team/features"))  # the target's own view, refreshed by set_ref


def test_a_damaged_source_is_not_promoted(laptop, team):
    dds.keep("/team/features", features, 3)
    sig = laptop.get_ref("/team/features")
    (rel,) = laptop.read_meta(sig)["files"]
    with open(os.path.join(laptop.blob_dir(sig), rel), "r+b") as f:
        f.write(b"XXXX")
    with pytest.raises(DamagedDataError, match=r"Cannot promote /team/features"):
        dds.promote("/team/features", to=team)
    assert team.get_ref("/team/features") is None and team.read_meta(sig) is None


def test_promoting_a_missing_path_names_it_and_the_fix(laptop, team):
    with pytest.raises(NotFoundError, match=r"nothing is stored at /nope.*Fix: run the step"):
        dds.promote("/nope", to=team)
    with pytest.raises(StoreError, match="same"):
        dds.promote("/nope", to=laptop)


class Planted:
    """Unpickling this creates the file ``marker``: a stand-in for a payload that runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_pickle_is_copied_without_being_decoded(laptop, team, tmp_path):
    marker = tmp_path / "payload-ran"
    laptop.write("ab" * 16, Planted(str(marker)), {"path": "/planted"})
    laptop.set_ref("/planted", "ab" * 16)
    assert dds.promote("/planted", to=team).copied
    assert not marker.exists()
    assert team.read_meta("ab" * 16)["codec"] == laptop.read_meta("ab" * 16)["codec"]


def test_the_cli_promotes_and_says_when_up_to_date(laptop, tmp_path):
    from dds.cli import cli

    dds.keep("/team/features", features, 2)
    target = (tmp_path / "shared").as_uri()
    args = ["--store", laptop.root, "promote", "/team/features", "--to", target]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("promoted\t/team/features\t")
    second = CliRunner().invoke(cli, args)
    assert second.output.startswith("up to date\t/team/features\t")
    shared = create_store("fsspec", url=target)
    pd.testing.assert_frame_equal(shared.read(shared.get_ref("/team/features")), features(2))


def test_promoting_into_a_cached_store_fills_its_cache(laptop, s3, tmp_path):
    cached = create_store("fsspec", url=s3.url(f"promote-{os.urandom(4).hex()}"), local_cache=str(tmp_path / "c"),
                          **s3.storage_options)
    dds.keep("/team/features", features, 6)
    sig = dds.promote("/team/features", to=cached).signature
    cached.fs.rm(cached.blob_dir(sig), recursive=True)  # only the cache still has the bytes
    cached.fs.invalidate_cache()
    pd.testing.assert_frame_equal(cached.read(sig), features(6))
    meta = cached.read_meta(sig)
    if "inline" in meta:  # a small value is read from its metadata; the cache holds its blob all the same
        assert os.path.isfile(os.path.join(cached.cache.blob_dir(sig), *meta["file_name"].split("/")))
    else:
        assert (cached.cache.hits, cached.cache.misses) == (1, 0)
