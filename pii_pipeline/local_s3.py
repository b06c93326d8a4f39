"""The embedded S3: moto's S3 server over real HTTP on loopback, for demos, dev and tests.

moto keeps objects in memory only (it has no storage backend; its request recorder replays every
request, reads included, and cannot replay multipart uploads). With a `state_dir`, the server's
objects are mirrored to that folder (`S3Snapshot`): restored when it starts, saved every few
seconds and when it stops, so `make dev` finds its bucket again after a restart.

moto's buckets are global to a process: every server of one process serves (and saves) the same
buckets, which is why `dev` runs one. boto3 and moto are imported where used: the CLI imports
this module to parse its arguments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# moto accepts any credentials; boto3 refuses to sign without some.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local-demo",
    "AWS_SECRET_ACCESS_KEY": "local-demo",
    "AWS_REGION": "us-east-1",
}
_SNAPSHOT_FORMAT = 1
_INDEX = "index.json"
# Objects written between two saves are lost if the process is killed (SIGKILL, a crash); `dev`
# then finds the instance ahead of the bucket and starts a fresh one (pii_pipeline/dev_state.py).
SAVE_INTERVAL_S = 5.0

logger = logging.getLogger(__name__)


class PortTaken(OSError):
    """The port asked for is in use; the message names it."""


def require_free_port(host: str, port: int, what: str) -> None:
    """Raise PortTaken when nothing could listen on host:port now. SO_REUSEADDR as the servers
    set it (werkzeug, uvicorn), so a port left in TIME_WAIT by a previous run counts as free."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise PortTaken(f"port {port} ({what}) is already in use on {host}") from None


class S3Snapshot:
    """The objects of every bucket of an S3 endpoint, as files in `directory`.

    Layout: `index.json` ({"format", "buckets": {bucket: {key: {etag, content_type,
    storage_class, file}}}}) and `objects/<sha256 of bucket, key and ETag>`. A save writes new
    object files first, then the index (atomically, by rename), then deletes files the index no
    longer names, so a save cut short leaves the previous snapshot readable. Only current object
    versions are kept; bucket settings (versioning, policies, public access block) are not.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._objects = directory / "objects"
        self._index: dict[str, dict[str, dict[str, str]]] = self._read_index()

    def _read_index(self) -> dict[str, dict[str, dict[str, str]]]:
        path = self.directory / _INDEX
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        if data.get("format") != _SNAPSHOT_FORMAT:
            raise ValueError(f"{path} is not a snapshot this version wrote")
        return data["buckets"]

    @property
    def objects(self) -> int:
        return sum(len(keys) for keys in self._index.values())

    def restore(self, client: Any) -> int:
        """Create the buckets and put the objects back; returns the objects restored."""
        from botocore.exceptions import ClientError

        for bucket, keys in self._index.items():
            try:
                client.head_bucket(Bucket=bucket)
            except ClientError:
                client.create_bucket(Bucket=bucket)
            for key, entry in keys.items():
                extra = {"ContentType": entry["content_type"]} if entry["content_type"] else {}
                if entry["storage_class"] not in ("", "STANDARD"):
                    extra["StorageClass"] = entry["storage_class"]
                body = (self._objects / entry["file"]).read_bytes()
                client.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return self.objects

    def save(self, client: Any) -> int:
        """Mirror the endpoint's objects; only new or changed ones are read. Returns the objects
        written."""
        from botocore.exceptions import ClientError

        self._objects.mkdir(parents=True, exist_ok=True)
        index: dict[str, dict[str, dict[str, str]]] = {}
        written = 0
        for bucket in (b["Name"] for b in client.list_buckets().get("Buckets", [])):
            index[bucket] = {}
            old = self._index.get(bucket, {})
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                for item in page.get("Contents", []):
                    key, etag = item["Key"], item["ETag"].strip('"')
                    kept = old.get(key)
                    if kept is not None and kept["etag"] == etag:
                        index[bucket][key] = kept
                        continue
                    try:
                        response = client.get_object(Bucket=bucket, Key=key)
                    except ClientError:
                        continue  # deleted since the listing
                    name = hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode()).hexdigest()
                    tmp = self._objects / f"{name}.tmp"
                    tmp.write_bytes(response["Body"].read())
                    tmp.replace(self._objects / name)
                    index[bucket][key] = {
                        "etag": etag,
                        "content_type": response.get("ContentType") or "",
                        "storage_class": item.get("StorageClass") or "STANDARD",
                        "file": name,
                    }
                    written += 1
        if written or index != self._index:
            tmp = self.directory / f"{_INDEX}.tmp"
            tmp.write_text(json.dumps({"format": _SNAPSHOT_FORMAT, "buckets": index}))
            tmp.replace(self.directory / _INDEX)
            named = {entry["file"] for keys in index.values() for entry in keys.values()}
            for path in self._objects.iterdir():
                if path.name not in named:
                    path.unlink(missing_ok=True)
        self._index = index
        return written


class LocalS3Server:
    """A moto S3 server in a background thread of this process, serving HTTP on loopback.

    With `state_dir`, its objects persist there between runs (see the module docstring).
    `start` raises PortTaken when `port` is in use (moto's thread would otherwise wait forever).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state_dir: Path | None = None,
        save_interval_s: float = SAVE_INTERVAL_S,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the embedded S3 server only listens on loopback")
        from moto.server import ThreadedMotoServer  # seconds to import: only where served

        self._host, self._port = host, port
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint_url = ""
        self.snapshot = S3Snapshot(state_dir) if state_dir is not None else None
        self.restored = 0
        self._save_interval_s = save_interval_s
        self._stop_saving = threading.Event()
        self._saver: threading.Thread | None = None
        self._save_lock = threading.Lock()

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=LOCAL_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def start(self) -> LocalS3Server:
        require_free_port(self._host, self._port, "embedded S3")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        from pii_assets.bucket import IN_PROCESS_ENDPOINTS

        IN_PROCESS_ENDPOINTS.add(self.endpoint_url)
        if self.snapshot is not None:
            self.restored = self.snapshot.restore(self.client())
            self._saver = threading.Thread(target=self._save_periodically, daemon=True)
            self._saver.start()
        return self

    def save(self) -> int:
        """Save the objects now (with a `state_dir`); returns the objects written."""
        if self.snapshot is None:
            return 0
        with self._save_lock:
            return self.snapshot.save(self.client())

    def _save_periodically(self) -> None:
        while not self._stop_saving.wait(self._save_interval_s):
            try:
                self.save()
            except Exception as exc:  # the next save tries again; stop() saves last
                logger.warning("embedded S3 state not saved: %s", type(exc).__name__)

    def stop(self) -> None:
        if self._saver is not None:
            self._stop_saving.set()
            self._saver.join()
            self.save()
        self._server.stop()


def use_local_credentials() -> None:
    """Fill in the AWS variables moto needs, leaving any the user set alone."""
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)


def ensure_bucket(endpoint_url: str | None, bucket: str) -> None:
    import boto3
    from botocore.exceptions import ClientError

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
