"""A document whose rows would break a dataset check is quarantined; the version is published.

The real dataset asset on a real Dagster instance and S3 server, with results as extraction
writes them (values invented).
"""

from __future__ import annotations

import json

from pii_assets.dataset import latest_version, read_card, read_manifest, read_version
from pii_assets.dataset_validation import validate
from pii_assets.models import DocumentResult, Entity, Status
from pii_assets.rollup import checked_tables
from tests.test_dataset_versions import materialized, metadata, publish, write_result


def email(text: str, page: int = 1, box=(0.1, 0.1, 0.3, 0.2)) -> Entity:
    return Entity("EMAIL_ADDRESS", text, page, *box, 0.9, "text")


def result(key: str, *entities: Entity, pages: int = 2) -> tuple[str, DocumentResult]:
    return key, DocumentResult(
        document_key=f"documents/{key}",
        etag="e",
        status=Status.OK,
        pages=pages,
        entities=list(entities),
    )


def test_each_bad_document_is_quarantined_by_the_checks_it_would_fail() -> None:
    rows = [
        result("good.pdf", email("ok@example.com"), email("ok@example.com", page=2)),
        # Text drawn twice at the same position: two identical rows.
        result("overprint.pdf", email("twice@example.com"), email("twice@example.com")),
        result("pages.pdf", email("far@example.com", page=7)),
        result("boxes.pdf", email("wide@example.com", box=(0.1, 0.1, 1.4, 0.2))),
    ]
    documents, entities, problems = checked_tables(rows)
    assert problems == {
        "documents/overprint.pdf": ["entities_unique"],
        "documents/pages.pdf": ["pages_within_document"],
        "documents/boxes.pdf": ["boxes_normalised"],
    }
    assert entities.column("document_key").to_pylist() == ["documents/good.pdf"] * 2
    by_key = {row["document_key"]: row for row in documents.to_pylist()}
    assert by_key["documents/good.pdf"]["status"] == "ok"
    for key, checks in problems.items():
        row = by_key[key]
        assert (row["status"], row["error_class"], row["entity_count"]) == (
            "failed",
            "quarantined",
            0,
        )
        assert checks[0] in row["error_message"] and "@" not in row["error_message"]
        assert row["pages"] == 2  # the rest of the row is as extracted
    assert all(outcome.passed for outcome in validate(documents, entities))


def test_a_document_with_duplicate_rows_no_longer_blocks_the_version(store, instance) -> None:
    client, layout = store.client(), store.layout()
    keys = [write_result(store, f"doc{i}.pdf", "v1", emails=2) for i in range(3)]
    instance.add_dynamic_partitions("documents", keys)
    materialized(instance, *keys)
    first = metadata(publish(store, instance))
    assert first["published"] is True and first["documents_quarantined"] == 0

    # doc1 is re-extracted with every entity twice (overprint), doc3 is new with a page beyond
    # its two pages: both quarantined, the version is published with the rest.
    bad = write_result(store, "doc1.pdf", "v2", emails=2)
    data = json.loads(
        client.get_object(Bucket=store.bucket, Key=layout.result_key(bad))["Body"].read()
    )
    data["entities"] = data["entities"] * 2
    client.put_object(Bucket=store.bucket, Key=layout.result_key(bad), Body=json.dumps(data))
    far = write_result(store, "doc3.pdf", "v1", emails=1, page=7)
    instance.add_dynamic_partitions("documents", [far])
    materialized(instance, bad, far)

    run = publish(store, instance)
    assert run.success
    second = metadata(run)
    assert second["published"] is True and second["build"] == "incremental"
    assert second["documents_quarantined"] == 2
    assert second["quarantined_by_check"] == {"entities_unique": 1, "pages_within_document": 1}
    assert all(e.passed for e in run.get_asset_check_evaluations())
    assert latest_version(client, layout) == second["version"]

    documents, entities = read_version(client, layout, second["version"])
    rows = {row["partition_key"]: row for row in documents.to_pylist()}
    for key, check in ((bad, "entities_unique"), (far, "pages_within_document")):
        assert (rows[key]["status"], rows[key]["error_class"]) == ("failed", "quarantined")
        assert check in rows[key]["error_message"]
        assert rows[key]["document_key"] not in entities.column("document_key").to_pylist()
    assert rows["doc0.pdf"]["status"] == rows["doc2.pdf"]["status"] == "ok"
    assert entities.num_rows == 4  # doc0 and doc2, two each

    manifest = read_manifest(client, layout, second["version"])
    assert manifest["facts"]["documents_by_error_class"] == {"quarantined": 2}
    assert manifest["quarantined_by_check"] == {"entities_unique": 1, "pages_within_document": 1}
    card = read_card(client, layout, second["version"])
    assert "| quarantined | 2 |" in card
    assert "@example.com" not in json.dumps(manifest) + card

    # A full rebuild quarantines the same documents.
    full = metadata(publish(store, instance, full=True))
    assert full["build"] == "full" and full["documents_quarantined"] == 2
