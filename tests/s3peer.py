"""An S3 peer on loopback for tests: moto's server mode as a separate process (S3's
HTTP protocol and request signing), with one bucket. Not an in-process stub."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.conftest import free_port

BUCKET = "pyconvex-test"


@contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """The environment that points boto3 at a fresh moto server holding ``BUCKET``."""
    import boto3

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    try:
        for _ in range(600):
            try:
                httpx.get(env["AWS_ENDPOINT_URL"], timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, "moto server exited"
                time.sleep(0.05)
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield env
    finally:
        proc.terminate()
        proc.wait(20)
