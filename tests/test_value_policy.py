"""The value policy (PII_ENTITY_VALUES): what results and the entities table keep of each value.

Masks and hashes on invented values; then the real pipeline (generated corpus with fake PII,
real extraction, real Dagster instance and S3 server) under raw, masked and hashed in turn.
"""

from __future__ import annotations

import json

import pytest

from pii_assets.bucket import list_objects
from pii_assets.dataset import latest_version, read_manifest, read_version
from pii_assets.dataset_validation import validate
from pii_assets.definitions import build_definitions
from pii_assets.models import DocumentResult, Entity, Status
from pii_assets.rollup import checked_tables
from pii_assets.value_policy import ValuePolicy, mask
from pii_pipeline.corpus import generate_corpus
from pii_pipeline.runner import process
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings

KEY = "an-invented-hmac-key-of-more-than-32-bytes"
OTHER_KEY = "another-invented-hmac-key-of-32-bytes-or-more"


@pytest.mark.parametrize(
    ("entity_type", "value", "masked"),
    [
        ("CREDIT_CARD", "4111 1111 1111 1234", "**** **** **** 1234"),
        ("US_SSN", "123-45-6789", "***-**-6789"),
        ("PHONE_NUMBER", "+1 (555) 010-2345", "+* (***) ***-2345"),
        ("IBAN_CODE", "DE89 3704 0044 0532 0130 00", "DE** **** **** **** **30 00"),
        ("EMAIL_ADDRESS", "jane.roe@example.com", "***@example.com"),
        ("PERSON", "Jane Q Roe", "J. Q. R."),
        ("IP_ADDRESS", "203.0.113.45", "203.0.113.*"),
        ("IP_ADDRESS", "2001:db8:4f21::9c0:1b:22e5", "2001:db8:4f21::*"),
        ("DATE_OF_BIRTH", "03/14/1985", "**/**/1985"),
        ("DATE_OF_BIRTH", "14.03.85", "**.**.**"),
        ("SOME_NEW_TYPE", "anything", "***"),
    ],
)
def test_masks_are_type_aware(entity_type: str, value: str, masked: str) -> None:
    assert mask(entity_type, value) == masked


def test_hashes_join_equal_values_and_never_show_the_key() -> None:
    policy = ValuePolicy("hashed", KEY.encode())
    card = policy.value("CREDIT_CARD", "4111 1111 1111 1234")
    assert len(card) == 64 and int(card, 16) >= 0
    # The same value written another way hashes the same; another value or key does not.
    assert policy.value("CREDIT_CARD", "4111-1111-1111-1234") == card
    assert policy.value("EMAIL_ADDRESS", " Jane.Roe@Example.com") == policy.value(
        "EMAIL_ADDRESS", "jane.roe@example.com"
    )
    assert policy.value("CREDIT_CARD", "4111 1111 1111 1235") != card
    assert (
        ValuePolicy("hashed", OTHER_KEY.encode()).value("CREDIT_CARD", "4111111111111234") != card
    )
    assert KEY not in repr(policy) and KEY not in json.dumps(policy.manifest_entry())
    assert policy.manifest_entry() == {
        "policy": "hashed",
        "hash": "HMAC-SHA-256",
        "key_id": policy.key_id,
    }
    with pytest.raises(ValueError, match="at least 32 bytes") as caught:
        ValuePolicy("hashed", b"short")
    assert "short" not in str(caught.value)


def _result(values: str, *texts: str) -> DocumentResult:
    return DocumentResult(
        document_key="documents/a.pdf",
        etag="e",
        status=Status.OK,
        pages=1,
        entity_values=values,
        entities=[
            Entity("EMAIL_ADDRESS", text, 1, 0.1, 0.1, 0.3, 0.2, 0.9, "text") for text in texts
        ],
    )


def test_a_stricter_policy_never_gets_values_back() -> None:
    raw = _result("raw", "jane.roe@example.com")
    masked = ValuePolicy("masked").apply(raw)
    assert (masked.entity_values, masked.entities[0].text) == ("masked", "***@example.com")
    hashed = ValuePolicy("hashed", KEY.encode())
    assert hashed.apply(raw).entities[0].text == hashed.value(
        "EMAIL_ADDRESS", "jane.roe@example.com"
    )
    # A masked value cannot be hashed: it keeps nothing.
    assert (hashed.apply(masked).entity_values, hashed.apply(masked).entities[0].text) == (
        "none",
        None,
    )
    # raw keeps what a result holds; none keeps positions and types only.
    assert ValuePolicy("raw").apply(masked) == masked
    none = ValuePolicy("none").apply(raw)
    assert none.entities[0].text is None and none.entities[0].x0 == 0.1
    assert ValuePolicy("none").apply(none) is none


def test_the_duplicate_check_does_not_take_masked_lookalikes_for_duplicates() -> None:
    def unlocated(text: str) -> Entity:
        return Entity("EMAIL_ADDRESS", text, 1, None, None, None, None, 0.9, "llm")

    raw = DocumentResult(
        document_key="documents/llm.pdf",
        etag="e",
        status=Status.OK,
        pages=1,
        entities=[unlocated("jane@example.com"), unlocated("john@example.com")],
    )
    for policy in (ValuePolicy("masked"), ValuePolicy("none")):
        rows = [("llm.pdf", policy.apply(raw))]
        documents, entities, problems = checked_tables(rows)
        # Two different values that read the same once masked are not duplicate rows.
        assert problems == {} and entities.num_rows == 2
        assert all(o.passed for o in validate(documents, entities))
    # Control: rows with a location are still compared, text or not.
    located = DocumentResult(
        document_key="documents/twice.pdf",
        etag="e",
        status=Status.OK,
        pages=1,
        entities=[Entity("EMAIL_ADDRESS", "a@b.example", 1, 0.1, 0.1, 0.3, 0.2, 0.9, "text")] * 2,
    )
    _, _, problems = checked_tables([("twice.pdf", ValuePolicy("none").apply(located))])
    assert problems == {"documents/twice.pdf": ["entities_unique"]}


def _bucket_text(store: DocumentStore, prefix: str) -> str:
    client = store.client()
    return "\n".join(
        client.get_object(Bucket=store.bucket, Key=info.key)["Body"].read().decode()
        for info in list_objects(client, store.bucket, prefix)
        if info.key.endswith((".json", ".md"))
    )


def test_policies_through_the_pipeline(instance, store: DocumentStore, s3_client) -> None:
    corpus = generate_corpus(3, seed=21)
    for doc in corpus[:2]:
        s3_client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    values = {t.text for doc in corpus for t in doc.truth}

    def run(policy: str, key: str = "") -> tuple[str, dict]:
        configured = DocumentStore(
            bucket=store.bucket,
            endpoint_url=store.endpoint_url,
            entity_values=policy,
            entity_hash_key=key,
        )
        defs = build_definitions(PipelineSettings(batch_size=5), resources={"store": configured})
        report = process(defs, instance, batch_size=5, max_runs=5)
        assert report.ok, report
        layout = configured.layout()
        version = latest_version(configured.client(), layout)
        return version, read_manifest(configured.client(), layout, version)

    version, manifest = run("raw")
    _, raw_entities = read_version(store.client(), store.layout(), version)
    raw_texts = raw_entities.column("text").to_pylist()
    assert manifest["entity_values"] == {"policy": "raw", "documents": {"raw": 2}}
    assert set(raw_texts) & values

    # masked: the next publish rewrites every row (full rebuild); the new document's result is
    # masked before it is written.
    s3_client.put_object(
        Bucket=store.bucket, Key=f"documents/{corpus[2].name}", Body=corpus[2].data
    )
    version, manifest = run("masked")
    assert manifest["build"] == "full"
    assert manifest["entity_values"] == {"policy": "masked", "documents": {"masked": 3}}
    documents, entities = read_version(store.client(), store.layout(), version)
    assert set(documents.column("entity_values").to_pylist()) == {"masked"}
    masked_texts = entities.column("text").to_pylist()
    assert not set(masked_texts) & values
    assert entities.num_rows >= raw_entities.num_rows
    assert all(o for o in manifest["checks"].values())
    new_result = (
        s3_client.get_object(Bucket=store.bucket, Key=store.layout().result_key(corpus[2].name))[
            "Body"
        ]
        .read()
        .decode()
    )
    assert not [v for v in values if v in new_result]
    assert json.loads(new_result)["entity_values"] == "masked"
    card_key = f"{store.layout().dataset_prefix}versions/{version}.md"
    card = s3_client.get_object(Bucket=store.bucket, Key=card_key)["Body"].read().decode()
    assert "Entity values: `masked`, type-aware masked values" in card

    # hashed: rows whose stored result is raw get hashes, the masked one keeps no values.
    version, manifest = run("hashed", KEY)
    assert manifest["entity_values"]["policy"] == "hashed"
    assert manifest["entity_values"]["documents"] == {"hashed": 2, "none": 1}
    documents, entities = read_version(store.client(), store.layout(), version)
    texts = [t for t in entities.column("text").to_pylist() if t is not None]
    assert texts and all(len(t) == 64 for t in texts)
    assert not set(texts) & values
    everything = _bucket_text(store, "")
    assert KEY not in everything
    assert ValuePolicy("hashed", KEY.encode()).key_id in everything  # named, for readers
