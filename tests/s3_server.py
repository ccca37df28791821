"""A real S3-compatible HTTP server on 127.0.0.1 for the tests (moto's standalone server, in a thread).

The store talks to it through s3fs exactly as it would to AWS: no mocks inside the process. Credentials are
dummies, and every request goes to the local endpoint, so the tests never reach the network.
"""

from __future__ import annotations

import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

KEY, SECRET, REGION = "dds-test-key", "dds-test-secret", "us-east-1"

# Applied while the server runs, so nothing (s3fs, botocore, a subprocess) looks for real credentials.
_ENV = {
    "AWS_ACCESS_KEY_ID": KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    env: dict = field(default_factory=lambda: dict(_ENV))

    @property
    def storage_options(self) -> dict:
        """What ``create_store("fsspec", url=..., **storage_options)`` needs to reach this server."""
        return {"key": KEY, "secret": SECRET, "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION}}

    def url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def listing(self) -> list[str]:
        """Every object in the bucket (fresh, not from s3fs's listing cache)."""
        fs = self.fs()
        fs.invalidate_cache()
        return sorted(fs.find(self.bucket))


@contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start the server on a free port of 127.0.0.1 with one empty bucket; stop it afterwards."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request in the test output
    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = S3Server(endpoint=f"http://{host}:{port}", bucket=f"dds-test-{uuid.uuid4().hex[:12]}")
        _create_bucket(s3)
        yield s3
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _create_bucket(s3: S3Server) -> None:
    import boto3  # installed with moto; s3fs's mkdir sends a location constraint us-east-1 refuses

    client = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                          region_name=REGION)
    client.create_bucket(Bucket=s3.bucket)
