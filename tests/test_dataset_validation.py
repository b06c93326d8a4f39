from __future__ import annotations

import pyarrow as pa
import pytest

from pii_assets.dataset import build_tables
from pii_assets.dataset_validation import coverage, validate
from pii_assets.models import DocumentResult, Entity, Status


def doc(key: str, *entities: Entity, status: Status = Status.OK, pages: int = 2) -> tuple:
    return key, DocumentResult(
        document_key=key, etag="e", status=status, pages=pages, entities=list(entities)
    )


def entity(page: int = 1, box=(0.1, 0.1, 0.2, 0.2), text: str = "a@example.com") -> Entity:
    return Entity("EMAIL_ADDRESS", text, page, *box, 0.9, "text")


def failures(*rows) -> dict[str, int]:
    documents, entities = build_tables(rows)
    return {o.name: o.metadata["failures"] for o in validate(documents, entities)}


def test_clean_tables_pass_every_check() -> None:
    result = failures(doc("a", entity(), entity(2, (None, None, None, None))), doc("b"))
    assert set(result.values()) == {0}


@pytest.mark.parametrize(
    ("bad", "check"),
    [
        (entity(page=3), "pages_within_document"),
        (entity(page=0), "pages_within_document"),
        (entity(box=(0.1, 0.1, 1.2, 0.2)), "boxes_normalised"),
        (entity(box=(0.5, 0.1, 0.2, 0.2)), "boxes_normalised"),
        (entity(box=(0.1, None, 0.2, 0.2)), "boxes_normalised"),
    ],
)
def test_each_bad_entity_fails_its_check(bad: Entity, check: str) -> None:
    result = failures(doc("a", entity(), bad))
    assert result[check] == 1
    assert sum(result.values()) == 1


def test_duplicates_and_orphans_are_counted() -> None:
    documents, entities = build_tables([doc("a", entity(), entity()), doc("a")])
    result = {o.name: o.metadata["failures"] for o in validate(documents, entities)}
    assert result["documents_unique"] == 1
    assert result["entities_unique"] == 1
    failed_docs, failed_entities = build_tables([doc("x", status=Status.FAILED)])
    # build_tables drops entities of failed documents; an orphan needs a hand-made table.
    orphan_entities = pa.concat_tables([failed_entities, build_tables([doc("x", entity())])[1]])
    result = {o.name: o.metadata["failures"] for o in validate(failed_docs, orphan_entities)}
    assert result["entities_reference_ok_documents"] == 1


def test_coverage_counts_missing_and_extra_objects() -> None:
    documents, _ = build_tables([doc("a"), doc("gone")])
    outcome = coverage(documents, ["a", "new"])
    assert not outcome.passed and not outcome.blocking
    assert outcome.metadata["missing_from_dataset"] == 1
    assert outcome.metadata["no_longer_in_bucket"] == 1
