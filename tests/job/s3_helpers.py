"""A real S3 for the tests: a moto server on 127.0.0.1 (random port), its ``storage_options`` and a
boto3 client.  Used by ``test_s3.py`` and ``test_s3_retrain.py``.

The workers of a multi-process cluster are separate processes, so the endpoint and credentials
travel in ``storage_options``; the dummy credentials are also set in this process's environment
while the server runs.  s3fs, boto3 and moto are declared test dependencies: imported plainly, so
that a missing one fails loudly instead of skipping.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import s3fs  # noqa: F401  (dreg reads s3:// through it)
from moto import server as moto_server

CREDENTIALS = {"key": "testing", "secret": "testing"}


@contextlib.contextmanager
def moto_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1; yields its ``http://host:port`` endpoint."""
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1",
        }.items():
            mp.setenv(k, v)
        server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def storage_options(endpoint: str) -> dict[str, Any]:
    """fsspec/s3fs options for the server (what a config's ``storage_options`` holds)."""
    return {**CREDENTIALS, "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"}}


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
