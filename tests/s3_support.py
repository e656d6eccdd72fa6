"""An S3 API on 127.0.0.1 for the S3 blob store tests: moto's server mode, started once.

No S3 server can be installed on these machines, so moto's stand-in speaks the S3 wire protocol
over a real socket; the store under test uses boto3 exactly as it would against a bucket. Each
test gets its own bucket. Without moto installed the S3 tests skip (a failure with CI=true).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from archive.backends.storage import S3Options, Storage
from tests.backend_support import unavailable


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        unavailable("moto[server] is not installed (pip install -e '.[test]')")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Storage:
    """Storage naming a fresh bucket on the local S3 stand-in (credentials by environment,
    as a deployment gives them)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    import boto3

    bucket = f"morgue-{uuid.uuid4().hex[:12]}"
    client: Any = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return Storage(
        blobs=f"s3://{bucket}/archive",
        s3=S3Options(endpoint_url=moto_endpoint, region="us-east-1"),
    )
