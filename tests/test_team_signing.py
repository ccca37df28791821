"""Signed values on a team store (moto S3 on 127.0.0.1): with a key, a reader refuses, before reading a byte,
any value whose HMAC does not verify: another key's, an unsigned writer's, a planted pickle (whose payload never
runs), altered metadata, metadata moved to another signature."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

import dds
from dds.errors import ArgumentError
from dds.store import create_store
from dds.store.signing import UntrustedValueError, key_id

KEY_A, KEY_B = "team-key-aaaaaaaaaaaaaaaa", "other-key-bbbbbbbbbbbbbbbb"
SIG = "5e" * 20


@pytest.fixture
def team(s3):
    return create_store("fsspec", url=s3.url(f"signed-{os.urandom(4).hex()}"), **s3.storage_options)


@pytest.fixture(autouse=True)
def no_key(monkeypatch):
    monkeypatch.delenv("DDS_SIGNING_KEY", raising=False)
    dds.set_option("signing_key", None)
    yield
    dds.set_option("signing_key", None)


def test_a_signed_value_round_trips_and_records_its_key(team):
    dds.set_option("signing_key", KEY_A)
    meta = team.write(SIG, {"model": [1, 2]}, {"path": "/m"})
    assert meta["hmac"]["key_id"] == key_id(KEY_A.encode())
    assert team.read(SIG) == {"model": [1, 2]}


def test_a_value_signed_with_another_key_is_refused(team):
    dds.set_option("signing_key", KEY_B)
    team.write(SIG, {"model": 1}, {"path": "/m", "run": {"user": "mallory", "host": "laptop-7"}})
    dds.set_option("signing_key", KEY_A)
    with pytest.raises(UntrustedValueError, match=r"Refusing to load /m .*another key.*mallory@laptop-7.*Fix: "):
        team.read(SIG)


class Planted:
    """Unpickling this creates the file ``marker``: a stand-in for a payload that runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_unsigned_pickle_is_refused_and_never_runs(team, tmp_path):
    marker = tmp_path / "payload-ran"
    team.write(SIG, Planted(str(marker)), {"path": "/m"})  # a writer without the key (anyone with bucket access)
    team.set_ref("/m", SIG)
    dds.set_option("signing_key", KEY_A)
    with pytest.raises(UntrustedValueError, match="not signed"):
        team.read(SIG)
    with pytest.raises(UntrustedValueError, match="not signed"):
        dds.set_store("fsspec", url=team.url, **{"key": team.fs.key, "secret": team.fs.secret,
                                                 "client_kwargs": team.fs.client_kwargs})
        try:
            dds.load("/m")
        finally:
            dds.set_store("memory")
    assert not marker.exists()


def test_altered_metadata_is_refused(team):
    dds.set_option("signing_key", KEY_A)
    team.write(SIG, "hello", {"path": "/m", "function": "pipe.step"})
    meta = json.loads(team.fs.cat_file(team.meta_file(SIG)))
    meta["function"] = "pipe.other"
    team.fs.pipe_file(team.meta_file(SIG), json.dumps(meta).encode())
    with pytest.raises(UntrustedValueError, match="does not match its metadata"):
        team.read(SIG)


def test_signed_metadata_moved_to_another_signature_is_refused(team):
    """Otherwise a genuine value could be served for a signature (code) it was not computed for: stale."""
    dds.set_option("signing_key", KEY_A)
    team.write(SIG, "old value", {"path": "/m"})
    other = "0f" * 20
    meta = team.fs.cat_file(team.meta_file(SIG))
    team.fs.copy(team.blob_dir(SIG), team.blob_dir(other), recursive=True)
    team.fs.pipe_file(team.meta_file(other), meta)
    team.fs.invalidate_cache()
    with pytest.raises(UntrustedValueError):
        team.read(other)


def test_a_reader_without_a_key_warns_once_per_store(team, caplog):
    dds.set_option("signing_key", KEY_A)
    team.write(SIG, "signed", {"path": "/m"})
    dds.set_option("signing_key", None)
    reader = create_store("fsspec", url=team.url, key=team.fs.key, secret=team.fs.secret,
                          client_kwargs=team.fs.client_kwargs)
    with caplog.at_level(logging.WARNING, logger="dds.store"):
        assert reader.read(SIG) == "signed" and reader.read(SIG) == "signed"
    assert caplog.text.count("holds signed values") == 1


def test_promote_does_not_launder_an_unsigned_value(team, tmp_path):
    local = create_store("local", internal_dir=str(tmp_path / "laptop"))
    local.write(SIG, "unsigned", {"path": "/m"})
    local.set_ref("/m", SIG)
    dds.set_option("signing_key", KEY_A)
    with pytest.raises(UntrustedValueError, match="not signed"):
        dds.promote("/m", to=team, from_=local)
    assert team.read_meta(SIG) is None


@pytest.mark.parametrize("bad", ["short", 12345, b"tiny"])
def test_a_weak_or_wrong_key_is_refused_with_the_fix(bad):
    with pytest.raises(ArgumentError, match=r"signing_key.*at least 16 bytes.*Fix: dds.set_option"):
        dds.set_option("signing_key", bad)


KEEP = textwrap.dedent('''
    import json, os, sys
    import dds

    where = json.loads(os.environ["TEAM_STORE"])
    dds.set_store("fsspec", url=where["url"], **where["options"])
    RUNS = os.environ["TEAM_RUNS"]


    def score(n):
        with open(RUNS, "a") as f:
            f.write("ran\\n")
        return {"score": n / 4}


    try:
        print(json.dumps(dds.keep("/team/score", score, 3)))
    except dds.UntrustedValueError as exc:
        print(json.dumps({"refused": str(exc)}))
''')


def test_fresh_processes_with_the_key_refuse_a_pickle_planted_at_their_signature(team, s3, tmp_path):
    script = tmp_path / "keep.py"
    script.write_text(KEEP)
    marker = tmp_path / "payload-ran"

    def run(key):
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
               "TEAM_STORE": json.dumps({"url": team.url, "options": s3.storage_options}),
               "TEAM_RUNS": str(tmp_path / "runs.txt")}
        env.pop("DDS_SIGNING_KEY", None)
        if key:
            env["DDS_SIGNING_KEY"] = key
        done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    assert run(KEY_A) == {"score": 0.75}  # computed and signed
    assert run(KEY_A) == {"score": 0.75}  # loaded: the signature verifies
    sig = team.get_ref("/team/score")
    team.delete_blob(sig)  # the attacker replaces the value at the very signature the step computes
    team.write(sig, Planted(str(marker)), {"path": "/team/score"})
    refused = run(KEY_A)
    assert "Refusing to load /team/score" in refused["refused"] and "not signed" in refused["refused"]
    assert not marker.exists()
    assert (tmp_path / "runs.txt").read_text().split() == ["ran"]
