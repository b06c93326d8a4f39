"""`pii-pipeline process` end to end: the real CLI, S3 server, Dagster instance and OCR."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from pii_assets.documents import open_document
from pii_pipeline.corpus import generate_corpus


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def cli_env(store, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        "PII_S3_BUCKET": store.bucket,
        "PII_MAX_FILE_MB": "1",
        "PII_BATCH_SIZE": "3",
    }


def test_process_end_to_end(store, cli_env) -> None:
    (tmp := Path(cli_env["DAGSTER_HOME"])).mkdir()
    client = store.client()
    corpus = generate_corpus(4, seed=11)
    for doc in corpus:
        client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    client.put_object(Bucket=store.bucket, Key="documents/odd/zero bytes.pdf", Body=b"")
    client.put_object(Bucket=store.bucket, Key="documents/big.pdf", Body=b"%PDF" + b"0" * 2**21)
    client.put_object(Bucket=store.bucket, Key="documents/notes.bin", Body=bytes(range(256)))
    objects = len(corpus) + 3

    first = run_cli("process", "--json", env=cli_env)
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["ok"] is True
    assert report["documents_processed"] == objects
    assert report["listed"] == objects  # each object once, however many passes the call made
    assert report["runs"] == 3  # batches of 3, not one run per document
    assert report["dataset_version"] == "v000001"
    summary = report["summary"]
    assert summary["documents"] == objects
    assert summary["documents_by_status"]["ok"] == len(corpus)
    assert summary["error_classes"] == {"empty": 1, "too_large": 1, "unsupported_format": 1}
    assert summary["entities"] > 0
    assert {"EMAIL_ADDRESS", "PERSON"} <= set(summary["entities_by_type"])
    assert tmp.exists()

    again = run_cli("process", "--json", env=cli_env)
    assert again.returncode == 0, again.stderr[-3000:]
    second = json.loads(again.stdout)
    assert second["documents_processed"] == 0 and second["runs"] == 0
    # Nothing changed, so no new version: the report names the unchanged latest one.
    assert second["dataset_version"] == "v000001"
    assert second["summary"]["documents"] == objects

    # An object deleted from the bucket leaves the next version: `process` alone does it, no
    # reconciling publish needed.
    gone = f"documents/{corpus[0].name}"
    client.delete_object(Bucket=store.bucket, Key=gone)
    third = run_cli("process", "--json", env=cli_env)
    assert third.returncode == 0, third.stderr[-3000:]
    after_delete = json.loads(third.stdout)
    assert after_delete["deleted_partitions"] == 1
    assert after_delete["dataset_version"] == "v000002"
    assert after_delete["summary"]["documents"] == objects - 1
    diff = run_cli("dataset", "diff", "v000001", "v000002", "--json", env=cli_env)
    assert json.loads(diff.stdout)["removed"] == [gone], diff.stderr

    # No extracted value reaches the command's output.
    values = {t.text for doc in corpus for t in doc.truth}
    output = first.stdout + first.stderr + again.stdout + again.stderr + third.stdout + third.stderr
    assert not [v for v in values if v in output]


def test_process_fails_loudly_when_the_pipeline_cannot_run(cli_env) -> None:
    env = {**cli_env, "PII_S3_BUCKET": "no-such-bucket-anywhere"}
    result = run_cli("process", "--json", env=env)
    assert result.returncode != 0


def chatty_png() -> bytes:
    """ "Hi" in Pillow's default font at the top of a strip, scaled up and saved at 300 dpi:
    Tesseract finds a text line too narrow to scale and says so on its stderr."""
    image = Image.new("L", (200, 30), 255)
    ImageDraw.Draw(image).text((0, 0), "Hi", fill=0)
    buffer = io.BytesIO()
    image.resize((833, 125), Image.NEAREST).save(buffer, format="PNG", dpi=(300, 300))
    return buffer.getvalue()


def test_tesseract_chatter_never_reaches_the_terminal(store, cli_env, caplog) -> None:
    data = chatty_png()
    # Control: reading this image does make Tesseract complain (into our debug log).
    with (
        caplog.at_level(logging.DEBUG, logger="pii_assets.documents.ocr"),
        open_document(data, name="strip.png") as doc,
    ):
        list(doc.pages())
    assert any("Image too small to scale" in r.getMessage() for r in caplog.records)

    store.client().put_object(Bucket=store.bucket, Key="documents/strip.png", Body=data)
    done = run_cli("process", "--json", env=cli_env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["summary"]["documents_by_status"]["ok"] == 1
    assert report["summary"]["pages_by_source"]["ocr"] == 1
    for chatter in ("Image too small", "Line cannot be recognized", "Invalid resolution"):
        assert chatter not in done.stderr and chatter not in done.stdout
