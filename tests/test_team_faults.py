"""Faults on the way to S3 (moto on 127.0.0.1 behind tests/fault_proxy.py, no mocks): connections dropped
mid-upload, throttling (503 SlowDown), a read-only bucket. Each ends in a retried success or a clear error,
and the store stays consistent: the path holds its old value or the new one, and ``verify`` passes."""

import itertools
import os

import pytest

import dds
from dds.errors import StoreError
from dds.store.maintenance import verify
from dds.store import create_store
from fault_proxy import ACCESS_DENIED, DROP, HOLD, PASS, SLOW_DOWN, fault_proxy


class Faults:
    """A policy the test switches: ``mode`` is None (everything passes) or the fault, for requests it selects."""

    def __init__(self):
        self.mode, self.methods, self.budget = None, (), itertools.count()
        self.limit = None

    def set(self, mode, methods=("PUT",), times=None):
        self.mode, self.methods, self.budget, self.limit = mode, methods, itertools.count(), times

    def __call__(self, method, path):
        if self.mode is None or method not in self.methods:
            return PASS
        if self.limit is not None and next(self.budget) >= self.limit:
            return PASS
        return self.mode


@pytest.fixture
def faults():
    return Faults()


@pytest.fixture
def store(s3, faults):
    with fault_proxy(s3.endpoint, faults) as proxy:
        options = dict(s3.storage_options)
        options["client_kwargs"] = {**options["client_kwargs"], "endpoint_url": proxy.endpoint}
        # fewer retries than the defaults (s3fs 5 x botocore 5, with backoff), so a fault that persists fails
        # in seconds; still more than the transient faults below need
        options["config_kwargs"] = {"retries": {"max_attempts": 3, "mode": "standard"}}
        store = create_store("fsspec", url=s3.url(f"faults-{os.urandom(4).hex()}"), **options)
        store.fs.retries = 2  # s3fs's own retry loop (a class attribute, not a constructor option)
        store.proxy = proxy
        yield store


def consistent(store, path, values):
    """``path`` holds one of ``values``, and every check of the store passes."""
    report = verify(store)
    assert report.ok, [p.message for p in report.problems]
    assert store.read(store.get_ref(path)) in values


def test_uploads_dropped_mid_body_are_retried(store, faults):
    faults.set(DROP, times=2)  # the first two PUTs die half-way: the blob's, then its retry
    store.write("a1" * 8, {"rows": list(range(5000))}, {"path": "/v"})
    store.set_ref("/v", "a1" * 8)
    assert len(store.proxy.happened(DROP)) == 2
    consistent(store, "/v", [{"rows": list(range(5000))}])


def test_an_upload_that_keeps_failing_is_a_clear_error_and_leaves_the_old_value(store, faults):
    store.write("b1" * 8, "old", {"path": "/v"})
    store.set_ref("/v", "b1" * 8)
    faults.set(DROP)  # every PUT dies half-way
    with pytest.raises(StoreError, match=r"Cannot store /v in the fsspec store at s3://.*Fix: "):
        store.write("b2" * 8, "new" * 10000, {"path": "/v"})
    faults.set(None)
    assert store.read_meta("b2" * 8) is None  # nothing committed
    consistent(store, "/v", ["old"])


def test_throttling_is_retried(store, faults):
    faults.set(SLOW_DOWN, methods=("PUT", "GET", "HEAD"), times=3)
    store.write("c1" * 8, [1, 2, 3], {"path": "/t"})
    store.set_ref("/t", "c1" * 8)
    assert store.proxy.happened("SlowDown")
    consistent(store, "/t", [[1, 2, 3]])


def test_a_read_only_bucket_is_a_clear_error_and_loads_still_work(store, faults):
    store.write("d1" * 8, "old", {"path": "/r"})
    store.set_ref("/r", "d1" * 8)
    faults.set(ACCESS_DENIED, methods=("PUT", "POST", "DELETE"))
    with pytest.raises(StoreError, match=r"Cannot store /r in the .*refused the write.*read-only.*Fix: "):
        store.write("d2" * 8, "new", {"path": "/r"})
    with pytest.raises(StoreError, match=r"Cannot point /r at .*refused the write.*Fix: "):
        store.set_ref("/r", "d1" * 8)
    assert store.read(store.get_ref("/r")) == "old"  # reading needs no write
    faults.set(None)
    consistent(store, "/r", ["old"])


def test_keep_on_a_read_only_bucket_names_the_path_and_keeps_the_old_value(store, faults):
    dds.set_store("fsspec", url=store.url, **store.fs.storage_options)
    try:
        assert dds.keep("/k", str.upper, "old") == "OLD"
        faults.set(ACCESS_DENIED, methods=("PUT", "POST", "DELETE"))
        with pytest.raises(StoreError, match=r"Cannot store /k .*Fix: "):
            dds.keep("/k", str.upper, "new")
        assert dds.load("/k") == "OLD"
    finally:
        dds.set_store("memory")
    faults.set(None)
    consistent(store, "/k", ["OLD"])


def test_a_codec_failure_is_not_mistaken_for_a_store_fault(store):
    class Broken:
        def __reduce__(self):
            raise ValueError("cannot pickle this")

    from dds.errors import CodecError

    with pytest.raises(CodecError, match="cannot pickle this") as caught:
        store.write("e1" * 8, Broken(), {"path": "/c"})
    assert not isinstance(caught.value, StoreError) and caught.value.__cause__ is not caught.value  # its own cause kept


WRITER = """
import json, os, sys
from dds.store import create_store

options = json.loads(os.environ["TEAM_OPTIONS"])
store = create_store("fsspec", url=os.environ["TEAM_URL"], **options)
store.write("f2" * 8, "new" * 100000, {"path": "/v"})  # hangs at the metadata's PUT: killed there
store.set_ref("/v", "f2" * 8)
"""


def test_a_writer_killed_mid_write_leaves_the_old_value_and_gc_cleans_up(store, faults, tmp_path):
    import json
    import signal
    import subprocess
    import sys
    import time

    from dds.store.maintenance import gc

    store.write("f1" * 8, "old", {"path": "/v"})
    store.set_ref("/v", "f1" * 8)
    policy = lambda method, path: HOLD if method == "PUT" and "/meta/" in path else PASS  # noqa: E731
    store.proxy.policy = policy
    options = {"key": store.fs.key, "secret": store.fs.secret, "client_kwargs": store.fs.client_kwargs}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "TEAM_URL": store.url,
           "TEAM_OPTIONS": json.dumps(options)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER], env=env, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # bounded: 60 s
            if store.proxy.happened(HOLD) or writer.poll() is not None:
                break
            time.sleep(0.1)
        assert store.proxy.happened(HOLD), writer.stderr.read()[-3000:] if writer.poll() is not None else "no PUT"
        writer.send_signal(signal.SIGKILL)  # the blob's files are uploaded, its metadata is not
    finally:
        writer.kill()
        writer.wait(timeout=60)
    store.proxy.policy = faults
    assert store.read_meta("f2" * 8) is None
    consistent(store, "/v", ["old"])
    removed = gc(store, grace=0).removed
    assert [r.kind for r in removed] and store.fs.find(store.blob_dir("f2" * 8)) == []
    consistent(store, "/v", ["old"])
