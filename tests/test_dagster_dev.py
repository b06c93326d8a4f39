"""The real `dagster dev` (webserver + daemon) against the embedded S3: the sensors fire on their
own and a dataset version appears."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pii_assets.dataset import latest_version
from pii_pipeline.corpus import generate_corpus

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 420


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_dagster_dev_publishes_a_version_on_its_own(store, tmp_path: Path) -> None:
    client = store.client()
    corpus = generate_corpus(3, seed=5)
    for doc in corpus:
        client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PII_S3_BUCKET": store.bucket,
        "PII_DISCOVERY_INTERVAL_S": "5",
        "PII_PUBLISH_MIN_INTERVAL_S": "0",
    }
    dagster = Path(sys.executable).with_name("dagster")
    log = (tmp_path / "dagster-dev.log").open("w")
    proc = subprocess.Popen(
        [str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(free_port())],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + DEADLINE_S
        version = None
        while time.monotonic() < deadline and proc.poll() is None:
            version = latest_version(client, store.layout())
            if version:
                break
            time.sleep(2)
        output = (tmp_path / "dagster-dev.log").read_text()
        assert proc.poll() is None, f"dagster dev exited early:\n{output[-4000:]}"
        assert version == "v000001", f"no dataset version within {DEADLINE_S}s:\n{output[-4000:]}"
        markers = list(client.list_objects_v2(Bucket=store.bucket, Prefix="processed/")["Contents"])
        assert len(markers) == len(corpus)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        log.close()
