"""dds.File on S3 (a real moto server on 127.0.0.1): objects are identified by their ETag.

Replacing an object re-runs its readers; uploading the same bytes again gives the same ETag and re-runs
nothing; an object added under a prefix re-runs the step that reads the prefix. The runs are fresh
processes, the objects are written with boto3, as another tool would.
"""

from __future__ import annotations

import pytest

try:
    from .rerun_harness import RerunHarness
except ImportError:  # tests/ is not a package
    from rerun_harness import RerunHarness

pytestmark = pytest.mark.rerun

MAIN = '''
    import dds
    import pandas as pd
    from pipe._trace import trace

    OPTIONS = {options!r}
    TABLE = dds.File({table!r}, storage_options=OPTIONS)
    PREFIX = dds.File({prefix!r}, storage_options=OPTIONS)


    def total():
        trace("total")
        return int(pd.read_csv(TABLE, storage_options=OPTIONS)["v"].sum())


    def names(d):
        trace("names")
        import fsspec

        fs, path = fsspec.core.url_to_fs(d.path, **OPTIONS)
        return sorted(p.rsplit("/", 1)[1] for p in fs.find(path))


    def run():
        return {{"total": dds.keep("/total", total), "names": dds.keep("/names", names, PREFIX)}}
'''


@pytest.fixture
def client(s3):
    import boto3

    from s3_server import KEY, REGION, SECRET

    return boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                        region_name=REGION)


def test_replaced_object_reruns_same_bytes_do_not(s3, client, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    put = lambda key, body: client.put_object(Bucket=s3.bucket, Key=key, Body=body)  # noqa: E731
    put("in/table.csv", b"k,v\na,1\nb,2\n")
    put("drop/one.csv", b"1")
    source = MAIN.format(options=s3.storage_options, table=s3.url("in/table.csv"), prefix=s3.url("drop"))
    h = RerunHarness(tmp_path / "project", files={"pipe/main.py": source})
    assert h.run().ran == {"total", "names"}
    assert h.run().ran == set()

    put("in/table.csv", b"k,v\na,1\nb,2\nc,30\n")
    replaced = h.run(label="after replacing in/table.csv")
    assert replaced.ran == {"total"} and replaced.value["total"] == 33
    assert h.run().ran == set()
    h.assert_matches_uncached(replaced)

    put("in/table.csv", b"k,v\na,1\nb,2\nc,30\n")  # uploaded again, same bytes: same ETag
    assert h.run(label="same bytes uploaded again").ran == set()

    put("drop/two.csv", b"2")
    added = h.run(label="object added under drop/")
    assert added.ran == {"names"} and added.value["names"] == ["one.csv", "two.csv"]
    put("drop/.hidden", b"x")
    assert h.run(label="dot-object added").ran == set()

    client.delete_object(Bucket=s3.bucket, Key="in/table.csv")
    with pytest.raises(AssertionError, match=r"MissingInputError.*in/table\.csv"):
        h.run(label="object deleted")


def test_in_process_replace_is_seen_despite_the_listing_cache(s3, client, tmp_path, monkeypatch):
    """s3fs caches listings per file system instance: a File must not hash a listing older than the write."""
    import dds
    from dds.signature import SignatureBuilder

    token = SignatureBuilder().value_digest
    client.put_object(Bucket=s3.bucket, Key="p/a.csv", Body=b"1")
    f = dds.File(s3.url("p"), storage_options=s3.storage_options)
    first = token(f)
    s3.fs().ls(s3.url("p"))  # fills the listing cache
    client.put_object(Bucket=s3.bucket, Key="p/a.csv", Body=b"2")
    second = token(f)
    assert second != first
    client.put_object(Bucket=s3.bucket, Key="p/b.csv", Body=b"3")
    assert token(f) != second
    one = dds.File(s3.url("p/a.csv"), storage_options=s3.storage_options)
    before = token(one)
    assert one.__dds_preview__().startswith(f"dds.File {s3.url('p/a.csv')}: 1 B, ETag "), one.__dds_preview__()
    s3.fs().ls(s3.url("p"))  # the listing, with a.csv's ETag, cached by the shared s3fs instance
    client.put_object(Bucket=s3.bucket, Key="p/a.csv", Body=b"4")
    assert token(one) != before
