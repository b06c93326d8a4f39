"""The embedded S3: moto's S3 server over real HTTP on loopback, for demos, dev and tests."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

# moto accepts any credentials; boto3 refuses to sign without some.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-demo",
    "AWS_SECRET_ACCESS_KEY": "local-demo",
    "AWS_REGION": "us-east-1",
}


class LocalS3Server:
    """A moto S3 server in a background thread of this process, serving HTTP on loopback."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the embedded S3 server only listens on loopback")
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint_url = ""

    def start(self) -> LocalS3Server:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()


def use_local_credentials() -> None:
    """Fill in the AWS variables moto needs, leaving any the user set alone."""
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)


def ensure_bucket(endpoint_url: str | None, bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError:
        client.create_bucket(Bucket=bucket)


@contextmanager
def running_s3(port: int = 0) -> Iterator[LocalS3Server]:
    server = LocalS3Server(port=port).start()
    try:
        yield server
    finally:
        server.stop()
