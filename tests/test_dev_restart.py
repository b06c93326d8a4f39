"""`make dev` across restarts: the embedded S3 keeps its objects in a folder, a taken port is a
one-line error, and an instance ahead of its bucket is detected (real moto server, real Dagster
instance, real extraction through `pii_pipeline.runner.process`)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from pii_assets.dataset import latest_version
from pii_assets.definitions import build_definitions
from pii_pipeline.corpus import generate_corpus
from pii_pipeline.dev_state import instance_mismatch
from pii_pipeline.local_s3 import LocalS3Server, PortTaken
from pii_pipeline.runner import process
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings

# moto's backends are global to a process: every server started in one process (this session's
# own included) shares the same buckets, so each restart here is a process of its own.
_SERVER_SCRIPT = """
import json, sys
from pathlib import Path
from pii_pipeline.local_s3 import LocalS3Server

server = LocalS3Server(state_dir=Path(sys.argv[1])).start()
client = server.client()
for line in sys.argv[2:]:
    action, key, body, content_type = json.loads(line)
    if action == "bucket":
        client.create_bucket(Bucket=key)
    elif action == "put":
        extra = {"ContentType": content_type} if content_type else {}
        client.put_object(Bucket="kept", Key=key, Body=body.encode("latin-1"), **extra)
    else:
        client.delete_object(Bucket="kept", Key=key)
listed = {}
if "kept" in [b["Name"] for b in client.list_buckets()["Buckets"]]:
    for item in client.list_objects_v2(Bucket="kept").get("Contents", []):
        got = client.get_object(Bucket="kept", Key=item["Key"])
        body = got["Body"].read().decode("latin-1")
        listed[item["Key"]] = [item["ETag"], got["ContentType"], body]
server.stop()
print(json.dumps({"restored": server.restored, "objects": listed}))
"""


def serve_once(state: Path, *actions: list[str]) -> dict:
    """Start a server on `state` in a fresh process, apply `actions`, list bucket `kept`, stop."""
    out = subprocess.run(
        [sys.executable, "-c", _SERVER_SCRIPT, str(state), *map(json.dumps, actions)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout)


def test_objects_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "s3"
    first = serve_once(
        state,
        ["bucket", "kept", "", ""],
        ["put", "documents/a b.pdf", "%PDF-1.7 \x00\xff", ""],
        ["put", "x/y.json", "{}", "application/json"],
        ["put", "gone.txt", "bye", ""],
        ["delete", "gone.txt", "", ""],
    )
    assert first["restored"] == 0 and len(first["objects"]) == 2

    second = serve_once(state)  # a new process: only the saved state can hold these
    assert second["restored"] == 2
    assert second["objects"] == first["objects"]  # same bytes, ETags and content types

    third = serve_once(state, ["delete", "x/y.json", "", ""])
    assert list(third["objects"]) == ["documents/a b.pdf"]
    fourth = serve_once(state)
    assert fourth["restored"] == 1 and list(fourth["objects"]) == ["documents/a b.pdf"]
    assert len(list((state / "objects").iterdir())) == 1  # the deleted object's file went


def test_a_taken_port_is_an_error_not_a_hang(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(PortTaken, match=f"port {port} .embedded S3. is already in use"):
            LocalS3Server(port=port).start()
        env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home")}
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            other = free.getsockname()[1]
        for option, what, other_option in (
            ("--ui-port", "Dagster UI", "--s3-port"),
            ("--s3-port", "embedded S3", "--ui-port"),
        ):
            args = ["dev", option, str(port), other_option, str(other)]
            cli = subprocess.run(
                [sys.executable, "-m", "pii_pipeline.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                cwd=tmp_path,
            )
            assert cli.returncode == 2
            (line,) = cli.stderr.strip().splitlines()
            assert f"port {port} ({what}" in line and option in line
        assert time.monotonic() - started < 120


def test_an_instance_ahead_of_its_bucket_is_detected(store: DocumentStore, instance) -> None:
    client = store.client()
    for doc in generate_corpus(2, seed=4):
        client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    defs = build_definitions(PipelineSettings(), resources={"store": store})
    assert process(defs, instance, batch_size=10, max_runs=5).dataset_version == "v000001"
    assert instance_mismatch(instance, client, store.layout()) == ""

    # The same documents in a bucket that lost everything else (a restart without its state):
    # the instance remembers both extractions and the version.
    emptied = boto3.resource("s3", endpoint_url=store.endpoint_url).Bucket(store.bucket)
    emptied.objects.filter(Prefix="extracted/").delete()
    emptied.objects.filter(Prefix="labeled-datasets/").delete()
    assert latest_version(client, store.layout()) is None
    assert instance_mismatch(instance, client, store.layout()) == (
        "2 of 2 extracted documents and dataset version v000001"
    )


def test_the_cli_module_imports_no_heavy_package() -> None:
    """`pii-pipeline --help` and `dataset list` start fast: each command imports what it uses
    (start-up times: bench row `cli_startup`)."""
    code = (
        "import json, sys; import pii_pipeline.cli; "
        "print(json.dumps(sorted(m for m in ('dagster', 'pyarrow', 'pandas', 'deltalake', "
        "'moto', 'boto3') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
