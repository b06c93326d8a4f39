"""PII at rest: every object the pipeline writes is encrypted as configured and never public;
the pipeline's real S3 and KMS calls are all allowed by deploy/iam/pipeline-role.json, a dataset
reader's by deploy/iam/dataset-consumer.json; a bucket that does not block public access is
refused when PII_REQUIRE_PRIVATE_OUTPUT=true.

Real moto server for S3 and KMS (it records SSE headers and public access blocks), real Dagster
instance, real extraction through `pii_pipeline.runner.process`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from pii_assets.bucket import OutputEncryption, PublicOutputError, list_objects
from pii_assets.dataset import (
    latest_version,
    prune_versions,
    publish_version,
    read_manifest,
    read_version,
)
from pii_assets.definitions import build_definitions
from pii_assets.extraction import OfflineExtractor
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_assets.rollup import full_rollup
from pii_pipeline.runner import process
from pii_pipeline.summary import download_version
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from tests.iam_policy import CallRecorder, Request, decide
from tests.test_s3_errors import put

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_BUCKET = "pii-documents"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:111122223333:key/REPLACE-WITH-KEY-ID"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# One recorder per test, reached by the resource copies Dagster makes for each run.
_RECORDER: list[CallRecorder] = []


class RecordingStore(DocumentStore):
    """The real resource, its client's calls recorded (botocore event hooks)."""

    def get_client(self) -> Any:
        return _RECORDER[-1].attach(super().get_client())


@pytest.fixture
def kms(s3_endpoint: str):
    return boto3.client("kms", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def key_arn(kms) -> str:
    return kms.create_key(Description="pii-pipeline test output key")["KeyMetadata"]["Arn"]


def policy(name: str, bucket: str, key_arn: str) -> dict[str, Any]:
    text = (ROOT / "deploy" / "iam" / name).read_text()
    return json.loads(text.replace(PLACEHOLDER_BUCKET, bucket).replace(PLACEHOLDER_KEY, key_arn))


def written_keys(client, bucket: str) -> list[str]:
    """Every object the pipeline wrote: all but the input documents."""
    return [
        info.key
        for info in list_objects(client, bucket, "")
        if not info.key.startswith("documents/")
    ]


def run_twice(store: DocumentStore, instance, s3_client) -> None:
    """Through `pii-pipeline process`'s runner: three documents, a first version, a fourth
    document and a second version."""
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(s3_client, store.bucket, name)
    defs = build_definitions(PipelineSettings(batch_size=2), resources={"store": store})
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000001"
    put(s3_client, store.bucket, "d.pdf")
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000002"


def write_twice(store: DocumentStore, s3_client) -> None:
    """The same writes without Dagster (faster): results and markers of four documents and two
    versions, the first pruned."""
    client, layout = store.client(), store.layout()
    names = ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    for name in names:
        put(s3_client, store.bucket, name)
    opts = ProcessingOptions(extractor=OfflineExtractor())
    assert len(list(process_partitions(client, layout, names, opts, "run-1"))) == 4
    for _ in range(2):
        rollup = full_rollup(client, layout, None)
        publish_version(client, layout, rollup.documents, rollup.entities, code_version="t")
    assert prune_versions(client, layout, keep=1) == ["v000001"]


def assert_encrypted(s3_client, bucket: str, algorithm: str, key_arn: str | None) -> None:
    """Every object written (results, markers, Parquet files, card, manifest, claim, pointer)
    has the encryption asked for, and no ACL but the owner's."""
    written = written_keys(s3_client, bucket)
    names = {key.rsplit("/", 1)[-1] for key in written}
    assert {"_latest.json", "_claim.json", "manifest.json", "README.md"} <= names
    assert "part-00000.parquet" in names
    assert sum(key.startswith("extracted/") for key in written) == 4
    assert sum(key.startswith("processed/") for key in written) == 4
    for key in written:
        head = s3_client.head_object(Bucket=bucket, Key=key)
        assert head.get("ServerSideEncryption") == algorithm, key
        assert head.get("SSEKMSKeyId") == key_arn, key
        # Never an ACL of ours: the owner alone, as the bucket's default gives it.
        grants = s3_client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], key
        assert grants[0]["Grantee"]["Type"] == "CanonicalUser"


def test_aes256_encrypts_every_object_written(store: DocumentStore, s3_client) -> None:
    sse_s3 = DocumentStore(
        bucket=store.bucket, endpoint_url=store.endpoint_url, output_sse="AES256"
    )
    write_twice(sse_s3, s3_client)
    assert_encrypted(s3_client, store.bucket, "AES256", None)


def test_unset_encryption_follows_the_buckets_default(
    store: DocumentStore, s3_client, key_arn: str
) -> None:
    s3_client.put_bucket_encryption(
        Bucket=store.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    }
                }
            ]
        },
    )
    recorder = CallRecorder()
    _RECORDER.append(recorder)
    write_twice(RecordingStore(bucket=store.bucket, endpoint_url=store.endpoint_url), s3_client)
    puts = [c["params"] for c in recorder.calls if c["operation"] == "PutObject"]
    assert puts and not [p for p in puts if "ServerSideEncryption" in p or "ACL" in p]
    assert_encrypted(s3_client, store.bucket, "aws:kms", key_arn)


def test_object_store_options_name_the_same_encryption() -> None:
    """For delta-rs: object_store's AmazonS3ConfigKey names (src/aws/builder.rs)."""
    kms = OutputEncryption("aws:kms", "arn:aws:kms:eu-west-1:111122223333:key/k")
    assert kms.object_store_options() == {
        "aws_server_side_encryption": "aws:kms",
        "aws_sse_kms_key_id": "arn:aws:kms:eu-west-1:111122223333:key/k",
    }
    assert OutputEncryption("AES256").object_store_options() == {
        "aws_server_side_encryption": "AES256"
    }
    assert OutputEncryption().object_store_options() == {}


def test_sse_kms_everywhere_and_every_call_allowed_by_the_role_policy(
    instance, store: DocumentStore, s3_client, key_arn: str
) -> None:
    s3_client.put_public_access_block(Bucket=store.bucket, PublicAccessBlockConfiguration=BLOCK_ALL)
    recorder = CallRecorder()
    _RECORDER.append(recorder)
    recording = RecordingStore(
        bucket=store.bucket,
        endpoint_url=store.endpoint_url,
        output_sse="aws:kms",
        output_kms_key_id=key_arn,
        require_private_output=True,
        keep_versions=1,  # the second publish prunes the first version
    )
    run_twice(recording, instance, s3_client)
    assert_encrypted(s3_client, store.bucket, "aws:kms", key_arn)
    s3_client.delete_object(Bucket=store.bucket, Key="documents/a.pdf")
    defs = build_definitions(PipelineSettings(batch_size=2), resources={"store": recording})
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000003"

    role = policy("pipeline-role.json", store.bucket, key_arn)
    requests = recorder.requests()
    assert {r.action for r in requests} == {
        "s3:ListBucket",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:GetBucketPublicAccessBlock",
        "kms:GenerateDataKey",
        "kms:Decrypt",
    }
    refused = sorted({(r.action, r.resource) for r in requests if decide(role, r) != "Allow"})
    assert refused == []

    # Controls: the evaluator refuses what the policy does not grant.
    bucket_arn = f"arn:aws:s3:::{store.bucket}"
    with_key = {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}
    assert decide(role, Request("s3:PutObject", f"{bucket_arn}/documents/x.pdf", with_key)) == (
        "ImplicitDeny"
    )
    assert decide(role, Request("s3:PutObject", f"{bucket_arn}/extracted/x.json")) == "Deny"
    assert decide(role, Request("s3:ListBucket", bucket_arn, {"s3:prefix": ""})) == "ImplicitDeny"
    assert decide(role, Request("s3:PutObjectAcl", f"{bucket_arn}/extracted/x.json")) == (
        "ImplicitDeny"
    )
    assert decide(role, Request("kms:Decrypt", key_arn)) == "ImplicitDeny"  # not via S3


def test_a_dataset_readers_calls_are_allowed_by_the_consumer_policy(
    store: DocumentStore, s3_client, key_arn: str, tmp_path: Path
) -> None:
    writer = DocumentStore(
        bucket=store.bucket,
        endpoint_url=store.endpoint_url,
        output_sse="aws:kms",
        output_kms_key_id=key_arn,
    )
    write_twice(writer, s3_client)
    recorder = CallRecorder()
    reader = recorder.attach(boto3.client("s3", endpoint_url=store.endpoint_url))
    layout = writer.layout()
    version = latest_version(reader, layout)
    read_manifest(reader, layout, version)
    documents, entities = read_version(reader, layout, version)
    download_version(reader, layout, version, tmp_path)
    assert documents.num_rows == 4 and entities.num_rows > 0

    consumer = policy("dataset-consumer.json", store.bucket, key_arn)
    requests = recorder.requests()
    assert "kms:Decrypt" in {r.action for r in requests}
    assert [r for r in requests if decide(consumer, r) != "Allow"] == []
    bucket_arn = f"arn:aws:s3:::{store.bucket}"
    for denied in (
        Request("s3:GetObject", f"{bucket_arn}/extracted/a.pdf.json"),
        Request("s3:GetObject", f"{bucket_arn}/documents/a.pdf"),
        Request("s3:PutObject", f"{bucket_arn}/labeled-datasets/pii_labeled_dataset/x"),
        Request("s3:ListBucket", bucket_arn, {"s3:prefix": "extracted/"}),
    ):
        assert decide(consumer, denied) == "ImplicitDeny", denied


def test_a_bucket_that_does_not_block_public_access_is_refused(
    store: DocumentStore, s3_client, tmp_path: Path
) -> None:
    put(s3_client, store.bucket, "a.pdf")
    private = DocumentStore(
        bucket=store.bucket, endpoint_url=store.endpoint_url, require_private_output=True
    )
    opts = ProcessingOptions(extractor=OfflineExtractor())
    with pytest.raises(PublicOutputError, match="BlockPublicAcls, IgnorePublicAcls"):
        process_partitions(private.client(), private.layout(), ["a.pdf"], opts, "run-1")
    documents, entities = read_version(private.client(), private.layout(), "v000001")
    with pytest.raises(PublicOutputError):
        publish_version(
            private.client(), private.layout(), documents, entities, code_version="test"
        )
    assert written_keys(s3_client, store.bucket) == []  # nothing was written

    # Three of four settings on is still not private; the CLI says which one is off.
    s3_client.put_public_access_block(
        Bucket=store.bucket,
        PublicAccessBlockConfiguration={**BLOCK_ALL, "RestrictPublicBuckets": False},
    )
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PII_S3_BUCKET": store.bucket,
        "PII_REQUIRE_PRIVATE_OUTPUT": "true",
        "COLUMNS": "40",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pii_pipeline.cli", "process", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: PII_REQUIRE_PRIVATE_OUTPUT=true but bucket {store.bucket} does not block "
        "public access (RestrictPublicBuckets off); turn on its Block Public Access settings"
    ]
    assert written_keys(s3_client, store.bucket) == []
