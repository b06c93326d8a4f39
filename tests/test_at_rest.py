"""PII at rest on the Delta Lake dataset: every object the pipeline writes, delta-rs's own writes
included (data files, change data files, log entries, checkpoints), is encrypted as configured
and never gets an ACL; every S3 and KMS call the pipeline makes, delta-rs's included, is allowed
by deploy/iam/pipeline-role.json, and a dataset reader's (boto3, deltalake, Polars, DuckDB) by
deploy/iam/dataset-consumer.json; a bucket that does not block public access is refused before
anything is written when PII_REQUIRE_PRIVATE_OUTPUT=true.

Real moto server for S3 and KMS (it records SSE headers, ACLs and public access blocks), every
client's HTTP requests recorded by the proxy of tests/s3_faults.py (no faults injected: delta-rs
does not use boto3, so botocore's hooks would miss its calls), real Dagster instance, real
extraction through `pii_pipeline.runner.process`.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest
from deltalake import DeltaTable

from pii_assets.bucket import BucketLayout, OutputEncryption, PublicOutputError, list_objects
from pii_assets.dataset import (
    Change,
    apply_retention,
    build_tables,
    latest_version,
    publish,
    read_manifest,
    read_version,
)
from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
from pii_assets.dataset_tables import DOCUMENTS, ENTITIES, location, table_configuration
from pii_assets.definitions import build_definitions
from pii_assets.extraction import OfflineExtractor
from pii_assets.processing import ProcessingOptions, process_partitions
from pii_assets.rollup import full_rollup
from pii_pipeline.runner import process
from pii_pipeline.summary import download_version
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings
from tests.iam_policy import Request, decide, from_exchanges
from tests.s3_faults import Exchange, S3FaultProxy
from tests.test_dataset import result
from tests.test_s3_errors import letter_pdf, put

ROOT = Path(__file__).resolve().parents[1]
PLACEHOLDER_BUCKET = "pii-documents"
PLACEHOLDER_KEY = "arn:aws:kms:us-east-1:111122223333:key/REPLACE-WITH-KEY-ID"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
# Every kind of object under the dataset prefix; each must show up (and be encrypted).
DATASET_KINDS = {
    "log entry",
    "checkpoint",
    "last checkpoint",
    "data file",
    "change data file",
    "manifest",
    "card",
    "pointer",
}


@pytest.fixture
def kms(s3_endpoint: str):
    return boto3.client("kms", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def key_arn(kms) -> str:
    return kms.create_key(Description="pii-pipeline test output key")["KeyMetadata"]["Arn"]


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[S3FaultProxy]:
    """Records every HTTP request to S3 made through it, by boto3 or delta-rs alike."""
    running = S3FaultProxy(s3_endpoint).start()
    yield running
    running.stop()


def through(proxy: S3FaultProxy, store: DocumentStore, **settings: Any) -> DocumentStore:
    """The test's bucket with these settings, every S3 request (delta-rs's too: its endpoint is
    the boto3 client's, `dataset_tables.storage_options`) through the recording proxy."""
    return DocumentStore(bucket=store.bucket, endpoint_url=proxy.endpoint_url, **settings)


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


def dataset_kind(key: str, layout: BucketLayout) -> str:
    """What an object under the dataset prefix is (Delta protocol names for delta-rs's)."""
    name = key.removeprefix(layout.dataset_prefix)
    file = name.rsplit("/", 1)[-1]
    if name == "_latest.json":
        return "pointer"
    if name.startswith("versions/"):
        return "manifest" if file.endswith(".json") else "card"
    if "/_delta_log/" in name:
        if file == "_last_checkpoint":
            return "last checkpoint"
        return "checkpoint" if ".checkpoint." in file else "log entry"
    if "/_change_data/" in name:
        return "change data file"
    return "data file" if file.endswith(".parquet") else "other"


def checkpoint_every_commit(store: DocumentStore) -> None:
    """Create both tables as `dataset_tables.ensure_table` does (same schema, configuration and
    storage options, so encrypted alike), plus `delta.checkpointInterval` 1: delta-rs then writes
    a checkpoint after each of the pipeline's commits (its default is every 100 commits)."""
    where = location(store.client(), store.layout())
    for table, schema in ((DOCUMENTS, DOCUMENTS_SCHEMA), (ENTITIES, ENTITIES_SCHEMA)):
        DeltaTable.create(
            where.uri(table),
            schema,
            configuration={**table_configuration(table), "delta.checkpointInterval": "1"},
            storage_options=where.storage_options,
        )


def revise(s3_client, bucket: str, name: str) -> None:
    """New content for an existing object: its rows are replaced (change data files)."""
    s3_client.put_object(
        Bucket=bucket, Key=f"documents/{name}", Body=letter_pdf(f"{name}, revised")
    )


def run_three_times(store: DocumentStore, instance, s3_client) -> None:
    """Through `pii-pipeline process`'s runner: three documents (v000001); a fourth and one
    revised (v000002); another revised (v000003); then retention vacuums both tables. (A deleted
    object would leave the dataset only at a reconciling publish, which `process` does not run.)"""
    checkpoint_every_commit(store)
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(s3_client, store.bucket, name)
    defs = build_definitions(PipelineSettings(batch_size=2), resources={"store": store})
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000001"
    put(s3_client, store.bucket, "d.pdf")
    revise(s3_client, store.bucket, "b.pdf")
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000002"
    revise(s3_client, store.bucket, "c.pdf")
    assert process(defs, instance, batch_size=2, max_runs=5).dataset_version == "v000003"
    # Every older version out of retention: both tables vacuumed, their manifests deleted.
    dropped = apply_retention(store.client(), store.layout(), retention_days=1e-9)
    assert dropped == ["v000001", "v000002"]


def write_without_dagster(store: DocumentStore, s3_client) -> None:
    """The same kinds of writes without Dagster (faster): results and markers of four
    documents, two versions (the second revises one document), then retention."""
    client, layout = store.client(), store.layout()
    names = ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
    for name in names:
        put(s3_client, store.bucket, name)
    opts = ProcessingOptions(extractor=OfflineExtractor())
    assert len(list(process_partitions(client, layout, names, opts, "run-1"))) == 4
    checkpoint_every_commit(store)
    published, _, _ = publish(client, layout, full_rollup(client, layout).change, code_version="t")
    assert published.version == "v000001"
    revise(s3_client, store.bucket, "b.pdf")
    assert len(list(process_partitions(client, layout, ["b.pdf"], opts, "run-2"))) == 1
    published, _, _ = publish(client, layout, full_rollup(client, layout).change, code_version="t")
    assert published.version == "v000002"
    assert apply_retention(client, layout, retention_days=1e-9) == ["v000001"]


def assert_encrypted(
    s3_client, layout: BucketLayout, algorithm: str, key_arn: str | None, documents: int
) -> None:
    """Every object written (results, markers, and under the dataset prefix every kind in
    `DATASET_KINDS`) has the encryption asked for, and no ACL but the owner's."""
    written = written_keys(s3_client, layout.bucket)
    kinds = {dataset_kind(k, layout) for k in written if k.startswith(layout.dataset_prefix)}
    assert kinds == DATASET_KINDS
    assert sum(key.startswith(layout.results_prefix) for key in written) == documents
    assert sum(key.startswith(layout.processed_prefix) for key in written) == documents
    for key in written:
        head = s3_client.head_object(Bucket=layout.bucket, Key=key)
        assert head.get("ServerSideEncryption") == algorithm, key
        assert head.get("SSEKMSKeyId") == key_arn, key
        # Never an ACL of ours: the owner alone, as the bucket's default gives it.
        grants = s3_client.get_object_acl(Bucket=layout.bucket, Key=key)["Grants"]
        assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], key
        assert grants[0]["Grantee"]["Type"] == "CanonicalUser"


def writes(exchanges: list[Exchange]) -> list[Exchange]:
    return [e for e in exchanges if e.method in ("PUT", "POST") and e.key]


def assert_no_acl_requested(exchanges: list[Exchange]) -> None:
    """No request of boto3's or delta-rs's carried an ACL or a grant, or set one."""
    for exchange in exchanges:
        headers = {name.lower() for name in exchange.headers}
        assert not {h for h in headers if h == "x-amz-acl" or h.startswith("x-amz-grant-")}
        assert "acl" not in exchange.query, exchange.key


def assert_delta_rs_wrote(exchanges: list[Exchange], layout: BucketLayout) -> None:
    """The recording holds delta-rs's own writes (a check that the proxy saw them)."""
    kinds = {dataset_kind(e.key, layout) for e in writes(exchanges)}
    assert {"log entry", "checkpoint", "data file", "change data file"} <= kinds
    # object_store names itself in its user agent; its commits are put-if-absent.
    commits = [e for e in writes(exchanges) if dataset_kind(e.key, layout) == "log entry"]
    assert all("object_store" in (e.header("User-Agent") or "") for e in commits)
    assert all(e.header("If-None-Match") == "*" for e in commits)


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


def test_aes256_encrypts_every_object_written(
    store: DocumentStore, s3_client, proxy: S3FaultProxy
) -> None:
    sse_s3 = through(proxy, store, output_sse="AES256")
    write_without_dagster(sse_s3, s3_client)
    assert_encrypted(s3_client, sse_s3.layout(), "AES256", None, documents=4)
    exchanges = proxy.recorded()
    assert_delta_rs_wrote(exchanges, sse_s3.layout())
    assert all(e.header("x-amz-server-side-encryption") == "AES256" for e in writes(exchanges))
    assert_no_acl_requested(exchanges)


def test_unset_encryption_follows_the_buckets_default(
    store: DocumentStore, s3_client, key_arn: str, proxy: S3FaultProxy
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
    default = through(proxy, store)
    write_without_dagster(default, s3_client)
    exchanges = proxy.recorded()
    assert_delta_rs_wrote(exchanges, default.layout())
    # No write of boto3's or delta-rs's names an encryption: the bucket's default applies.
    assert not [
        e.key
        for e in writes(exchanges)
        if any(h.lower().startswith("x-amz-server-side-encryption") for h in e.headers)
    ]
    assert_no_acl_requested(exchanges)
    assert_encrypted(s3_client, default.layout(), "aws:kms", key_arn, documents=4)


def test_sse_kms_everywhere_and_every_call_allowed_by_the_role_policy(
    instance, store: DocumentStore, s3_client, key_arn: str, proxy: S3FaultProxy
) -> None:
    s3_client.put_public_access_block(Bucket=store.bucket, PublicAccessBlockConfiguration=BLOCK_ALL)
    pipeline = through(
        proxy,
        store,
        output_sse="aws:kms",
        output_kms_key_id=key_arn,
        require_private_output=True,
    )
    run_three_times(pipeline, instance, s3_client)
    layout = pipeline.layout()
    assert_encrypted(s3_client, layout, "aws:kms", key_arn, documents=4)
    exchanges = proxy.recorded()
    assert_delta_rs_wrote(exchanges, layout)
    assert_no_acl_requested(exchanges)
    # Retention deleted through both clients: boto3 (manifests, cards) and delta-rs (files).
    assert [e for e in exchanges if e.method == "POST" and "delete" in e.query]

    role = policy("pipeline-role.json", store.bucket, key_arn)
    requests = from_exchanges(exchanges)
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
    dataset = f"{bucket_arn}/{layout.dataset_prefix}"
    with_key = {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}
    for request, expected in (
        (Request("s3:PutObject", f"{bucket_arn}/documents/x.pdf", with_key), "ImplicitDeny"),
        (Request("s3:DeleteObject", f"{bucket_arn}/documents/x.pdf"), "ImplicitDeny"),
        (Request("s3:DeleteObject", f"{bucket_arn}/extracted/x.json"), "ImplicitDeny"),
        (Request("s3:PutObject", f"{bucket_arn}/extracted/x.json"), "Deny"),  # not our key
        (
            Request("s3:PutObject", f"{bucket_arn}/labeled-datasets/other/x", with_key),
            "ImplicitDeny",
        ),
        (Request("s3:ListBucket", bucket_arn, {"s3:prefix": ""}), "ImplicitDeny"),
        (Request("s3:ListBucket", bucket_arn, {"s3:prefix": "extracted/"}), "ImplicitDeny"),
        (Request("s3:ListBucket", bucket_arn), "ImplicitDeny"),  # no prefix: the whole bucket
        (Request("s3:PutObjectAcl", f"{bucket_arn}/extracted/x.json"), "ImplicitDeny"),
        (Request("kms:Decrypt", key_arn), "ImplicitDeny"),  # not via S3
        # A Delta commit must be put-if-absent: an unconditional PUT could overwrite one.
        (Request("s3:PutObject", f"{dataset}entities/_delta_log/{7:020d}.json", with_key), "Deny"),
        (
            Request(
                "s3:PutObject",
                f"{dataset}entities/_delta_log/{7:020d}.json",
                {**with_key, "s3:if-none-match": "*"},
            ),
            "Allow",
        ),
        # Checkpoints and `_last_checkpoint` are written without a condition, as Delta does.
        (
            Request("s3:PutObject", f"{dataset}entities/_delta_log/_last_checkpoint", with_key),
            "Allow",
        ),
    ):
        assert decide(role, request) == expected, request


def test_a_dataset_readers_calls_are_allowed_by_the_consumer_policy(
    store: DocumentStore, s3_client, key_arn: str, proxy: S3FaultProxy, tmp_path: Path
) -> None:
    writer = DocumentStore(
        bucket=store.bucket,
        endpoint_url=store.endpoint_url,
        output_sse="aws:kms",
        output_kms_key_id=key_arn,
    )
    write_without_dagster(writer, s3_client)
    assert not proxy.recorded()  # the writer did not go through the proxy: only readers do

    # Readers need no encryption setting for SSE-KMS objects: S3 decrypts for whoever may use
    # the key. Their options are the endpoint, region and credentials only.
    reader = boto3.client("s3", endpoint_url=proxy.endpoint_url)
    plain = BucketLayout(bucket=store.bucket)
    options = location(reader, plain).storage_options
    assert not [name for name in options if "server_side" in name or "kms" in name]
    version = latest_version(reader, plain)
    assert read_manifest(reader, plain, version)["row_counts"]["documents"] == 4
    documents, entities = read_version(reader, plain, version)
    download_version(reader, plain, version, tmp_path)
    assert documents.num_rows == 4 and entities.num_rows > 0

    root = f"s3://{store.bucket}/{plain.dataset_prefix}"
    assert len(DeltaTable(root + "documents", storage_options=options).to_pandas()) == 4
    import polars as pl

    assert pl.read_delta(root + "entities", storage_options=options).height == entities.num_rows
    assert duckdb_count(root + "entities", options) == entities.num_rows

    consumer = policy("dataset-consumer.json", store.bucket, key_arn)
    requests = from_exchanges(proxy.recorded())
    assert {"s3:GetObject", "s3:ListBucket", "kms:Decrypt"} <= {r.action for r in requests}
    assert (
        sorted({(r.action, r.resource) for r in requests if decide(consumer, r) != "Allow"}) == []
    )
    bucket_arn = f"arn:aws:s3:::{store.bucket}"
    for denied in (
        Request("s3:GetObject", f"{bucket_arn}/extracted/a.pdf.json"),
        Request("s3:GetObject", f"{bucket_arn}/documents/a.pdf"),
        Request("s3:PutObject", f"{bucket_arn}/labeled-datasets/pii_labeled_dataset/x"),
        Request("s3:DeleteObject", f"{bucket_arn}/labeled-datasets/pii_labeled_dataset/x"),
        Request("s3:ListBucket", bucket_arn, {"s3:prefix": "extracted/"}),
    ):
        assert decide(consumer, denied) == "ImplicitDeny", denied


def duckdb_count(uri: str, options: dict[str, str]) -> int:
    """Rows of a Delta table read by DuckDB's `delta` extension, as the README shows."""
    import duckdb
    import duckdb_extension_delta
    import duckdb_extension_httpfs

    con = duckdb.connect()
    for package in (duckdb_extension_httpfs, duckdb_extension_delta):
        (path,) = glob.glob(
            os.path.join(os.path.dirname(package.__file__), "extensions", "*", "*.duckdb_extension")
        )
        con.execute(f"LOAD '{path}'")
    con.execute(
        "CREATE SECRET reader (TYPE S3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
        "URL_STYLE 'path', USE_SSL false)",
        [
            options["AWS_ACCESS_KEY_ID"],
            options["AWS_SECRET_ACCESS_KEY"],
            options["AWS_REGION"],
            urlparse(options["AWS_ENDPOINT_URL"]).netloc,
        ],
    )
    (count,) = con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone()
    return int(count)


def test_a_bucket_that_does_not_block_public_access_is_refused(
    store: DocumentStore, s3_client, proxy: S3FaultProxy, tmp_path: Path
) -> None:
    put(s3_client, store.bucket, "a.pdf")
    private = through(proxy, store, require_private_output=True)
    opts = ProcessingOptions(extractor=OfflineExtractor())
    with pytest.raises(PublicOutputError, match="BlockPublicAcls, IgnorePublicAcls"):
        process_partitions(private.client(), private.layout(), ["a.pdf"], opts, "run-1")
    change = Change(*build_tables([("documents/a.pdf", result("a", 2))]), full=True)
    with pytest.raises(PublicOutputError):
        publish(private.client(), private.layout(), change, code_version="test")
    # Nothing was written, by boto3 or delta-rs: no object, not even a Delta table's first
    # commit; the one request each made was the public access block's.
    assert written_keys(s3_client, store.bucket) == []
    assert [(e.method, e.key, e.query) for e in proxy.recorded()] == [
        ("GET", "", {"publicAccessBlock": ""})
    ] * 2

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
