"""Human review end to end, against the embedded S3 server and a real Dagster instance: a version's
pages exported as Label Studio tasks, a Label Studio JSON export built with label-studio-sdk's own
types (no server), imported into a new version whose rows carry the review; the reviews survive
reprocessing the same object version and leave with a changed object."""

from __future__ import annotations

import json
import urllib.request

import pymupdf
import pytest
from label_studio_sdk.label_interface import LabelInterface
from label_studio_sdk.label_interface.objects import AnnotationValue, TaskValue

from pii_assets.dataset import latest_version, read_card, read_manifest, read_version
from pii_assets.definitions import build_definitions
from pii_assets.models import Entity
from pii_assets.review.export import ExportFilters, ExportOptions, export_tasks, selected_pages
from pii_assets.review.importer import UnknownEntityTypes, import_reviews, reviews_from_export
from pii_assets.review.merge import judge_page
from pii_assets.review.model import Label, MachineRef, PageReview
from pii_assets.review.store import reviews_prefix
from pii_pipeline.review_cli import import_and_publish
from pii_pipeline.runner import process, reprocess
from resources.extractors import LocalExtractor
from resources.settings import PipelineSettings
from tests.five_values import EMAIL, LINES, NAME, PHONE, SSN

LETTER, NOTES = "documents/letter.pdf", "documents/notes.txt"


def letter_pdf(second_page: str = "Contact: John Carter, john.carter@example.com") -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    for index, line in enumerate(LINES):
        page.insert_text((72, 90 + 28 * index), line, fontsize=12)
    doc.new_page().insert_text((72, 90), second_page, fontsize=12)
    return doc.tobytes()


def notes_txt() -> bytes:
    return ("Meeting notes\n" + "\n".join(LINES) + "\n").encode()


def read_json(client, bucket: str, key: str):
    return json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def _region(task: dict, entity_type: str) -> dict:
    (region,) = [
        r
        for r in task["predictions"][0]["result"]
        if r["value"].get("rectanglelabels", r["value"].get("labels")) == [entity_type]
    ]
    return json.loads(json.dumps(region))


def label_studio_export(
    image_config: str, image_task: dict, text_task: dict, unreviewed: dict
) -> list[dict]:
    """What Label Studio's JSON export holds after a reviewer worked on the tasks: the page-1
    task with one label kept, one retyped, one removed and one drawn; the text task with a span
    removed and one added; the page-2 task skipped (cancelled)."""
    image = LabelInterface(image_config)
    kept = _region(image_task, "PERSON")
    retyped = _region(image_task, "US_SSN")
    retyped["value"]["rectanglelabels"] = ["BANK_ACCOUNT_NUMBER"]
    phone, birth = _region(image_task, "PHONE_NUMBER"), _region(image_task, "DATE_OF_BIRTH")
    drawn = image.get_control("label").label(
        ["DRIVER_LICENSE"], x=60.0, y=80.0, width=20.0, height=3.0
    )
    drawn.id = "reviewer-1"
    image_annotation = AnnotationValue(
        completed_by=7, result=[kept, retyped, phone, birth, drawn]
    ).model_dump()

    text_regions = [
        json.loads(json.dumps(r))
        for r in text_task["predictions"][0]["result"]
        if r["value"]["labels"] != ["PHONE_NUMBER"]
    ]
    text_regions.append(
        {
            "id": "reviewer-2",
            "from_name": "label",
            "to_name": "text",
            "type": "labels",
            "value": {"start": 0, "end": 7, "labels": ["PERSON"]},
        }
    )
    text_annotation = AnnotationValue(completed_by=7, result=text_regions).model_dump()
    skipped = AnnotationValue(completed_by=7, was_cancelled=True, result=[]).model_dump()

    export = []
    for task_id, (task, annotation) in enumerate(
        [(image_task, image_annotation), (text_task, text_annotation), (unreviewed, skipped)],
        start=1,
    ):
        exported = TaskValue(
            data=task["data"], annotations=[annotation], predictions=task["predictions"]
        ).model_dump()
        exported["id"] = task_id
        exported["annotations"][0].update(id=100 + task_id, updated_at="2026-06-01T10:00:00Z")
        export.append(exported)
    return export


def test_export_import_and_reviewed_rows(store, instance, tmp_path) -> None:
    client, layout = store.client(), store.layout()
    client.put_object(Bucket=store.bucket, Key=LETTER, Body=letter_pdf())
    client.put_object(Bucket=store.bucket, Key=NOTES, Body=notes_txt())
    settings = PipelineSettings(batch_size=10)
    defs = build_definitions(settings, resources={"store": store})
    assert process(defs, instance, batch_size=10, max_runs=5).dataset_version == "v000001"
    documents, entities = read_version(client, layout, "v000001")

    # Export: one image task per page, one text task; pre-annotations in percent / spans.
    summary = export_tasks(client, layout)
    assert summary.tasks == {"image": 2, "text": 1} and summary.documents == 2
    image_tasks = read_json(client, store.bucket, summary.files["image_tasks"])
    (text_task,) = read_json(client, store.bucket, summary.files["text_tasks"])
    first, second = sorted(image_tasks, key=lambda t: t["data"]["page"])
    assert first["data"]["image"].startswith(f"s3://{store.bucket}/")
    image_key = first["data"]["image"].split("/", 3)[3]
    png = client.get_object(Bucket=store.bucket, Key=image_key)["Body"].read()
    assert png.startswith(b"\x89PNG")
    letter_rows = [r for r in entities.to_pylist() if r["document_key"] == LETTER]
    on_first = {r["entity_id"]: r for r in letter_rows if r["page"] == 1}
    regions = first["predictions"][0]["result"]
    assert {r["id"] for r in regions} == set(on_first)
    for region in regions:
        row = on_first[region["id"]]
        assert region["value"]["x"] == pytest.approx(row["x0"] * 100, abs=1e-3)
        assert region["value"]["width"] == pytest.approx((row["x1"] - row["x0"]) * 100, abs=1e-3)
        assert region["value"]["rectanglelabels"] == [row["entity_type"]]
        assert 0 < region["score"] <= 1
    spans = {tuple(r["value"]["labels"]): r["value"] for r in text_task["predictions"][0]["result"]}
    text = text_task["data"]["text"]
    assert text[spans[("US_SSN",)]["start"] : spans[("US_SSN",)]["end"]] == SSN
    # No value in pre-annotations or the machine labels shown, whatever the policy.
    dumped = json.dumps([t["predictions"] for t in (*image_tasks, text_task)])
    dumped += json.dumps([t["data"]["pii_entities"] for t in (*image_tasks, text_task)])
    assert not [v for v in (NAME, SSN, EMAIL, PHONE) if v in dumped]
    config = client.get_object(Bucket=store.bucket, Key=summary.files["image_config"])
    image_config = config["Body"].read().decode()
    assert "<RectangleLabels" in image_config and '<Label value="DRIVER_LICENSE"/>' in image_config

    # Presigned HTTPS URLs for a project without the bucket as storage.
    presigned = export_tasks(
        client,
        layout,
        filters=ExportFilters(document_keys=(LETTER,), entity_types=("US_SSN",)),
        options=ExportOptions(url_mode="presigned", url_expires_s=600),
    )
    (signed,) = read_json(client, store.bucket, presigned.files["image_tasks"])
    assert signed["data"]["page"] == 1 and "X-Amz-Signature=" in signed["data"]["image"]
    with urllib.request.urlopen(signed["data"]["image"]) as response:
        assert response.read().startswith(b"\x89PNG")

    # A reviewer's work, as Label Studio exports it; imported into a new version.
    export = label_studio_export(image_config, first, text_task, second)
    report = import_and_publish(defs, instance, export)
    assert report["pages_reviewed"] == 2 and report["tasks_not_reviewed"] == 1
    assert report["publish"]["dataset_version"] == "v000002"
    documents, entities = read_version(client, layout, "v000002")
    rows = entities.to_pylist()
    letter = {
        (r["page"], r["reviewed_entity_type"] or r["entity_type"]): r
        for r in rows
        if r["document_key"] == LETTER
    }
    assert letter[(1, "PERSON")]["review_status"] == "confirmed"
    corrected = letter[(1, "BANK_ACCOUNT_NUMBER")]
    assert corrected["review_status"] == "corrected" and corrected["entity_type"] == "US_SSN"
    assert letter[(1, "EMAIL_ADDRESS")]["review_status"] == "rejected"
    assert letter[(1, "EMAIL_ADDRESS")]["reviewed_x0"] is None
    added = letter[(1, "DRIVER_LICENSE")]
    assert added["review_status"] == "added" and added["source"] == "review"
    assert (added["x0"], added["y0"]) == pytest.approx((0.6, 0.8))
    assert added["reviewed_x1"] == pytest.approx(0.8) and added["text"] is None
    # The unreviewed page keeps its machine labels.
    assert {r["review_status"] for r in rows if r["document_key"] == LETTER and r["page"] == 2} == {
        None
    }
    notes = [r for r in rows if r["document_key"] == NOTES]
    assert {r["review_status"] for r in notes} == {"confirmed", "rejected", "added"}
    by_key = {r["document_key"]: r for r in documents.to_pylist()}
    assert by_key[LETTER]["reviewed_pages"] == 1 and by_key[NOTES]["reviewed_pages"] == 1

    facts = read_manifest(client, layout, "v000002")["facts"]
    assert facts["reviewed_pages"] == 2
    assert facts["review_by_type"]["US_SSN"] == {"machine": 2, "reviewed": 1, "matched": 1}
    assert facts["review_by_type"]["EMAIL_ADDRESS"] == {"machine": 2, "matched": 1, "reviewed": 1}
    # Per extractor: one extractor made every machine label, so its counts are the types' sums.
    (by_extractor,) = facts["review_by_extractor"].values()
    kinds = ("machine", "reviewed", "matched")
    totals = {k: sum(c.get(k, 0) for c in facts["review_by_type"].values()) for k in kinds}
    assert by_extractor == totals and 0 < totals["matched"] < totals["machine"]
    card = read_card(client, layout, "v000002")
    assert "## Human review" in card and "| US_SSN | 2 | 1 | 1 | 0.500 | 1.000 |" in card
    assert "By extractor:" in card, card

    # Reprocessing the same object version keeps the review.
    changed = build_definitions(
        settings, resources={"store": store, "extractor": LocalExtractor(min_confidence=0.55)}
    )
    assert reprocess(changed, instance, ["letter.pdf"], batch_size=10).ok
    _, entities = read_version(client, layout, latest_version(client, layout))
    statuses = {r["review_status"] for r in entities.to_pylist() if r["document_key"] == LETTER}
    assert statuses == {"confirmed", "corrected", "rejected", "added", None}

    # A changed object drops it.
    client.put_object(Bucket=store.bucket, Key=LETTER, Body=letter_pdf("Contact: Ann Lee"))
    assert process(changed, instance, batch_size=10, max_runs=5).ok
    documents, entities = read_version(client, layout, latest_version(client, layout))
    rows = [r for r in entities.to_pylist() if r["document_key"] == LETTER]
    assert rows and {r["review_status"] for r in rows} == {None}
    assert {r["document_key"]: r for r in documents.to_pylist()}[LETTER]["reviewed_pages"] == 0


def test_filters_choose_pages_and_sample_documents() -> None:
    from pii_assets.dataset_schema import build_tables
    from pii_assets.models import Coverage, DocumentResult, Status

    def result(key: str, confidences: list[float]) -> DocumentResult:
        entities = [
            Entity("US_SSN" if i else "PERSON", "x", i + 1, 0.1, 0.1, 0.2, 0.2, c, "text")
            for i, c in enumerate(confidences)
        ]
        return DocumentResult(key, "e", Status.OK, pages=3, entities=entities, coverage=Coverage())

    documents, entities = build_tables(
        [(f"d{i}", result(f"d{i}", [0.9, 0.6, 0.95])) for i in range(6)]
    )
    every = selected_pages(documents, entities, ExportFilters())
    assert every == {f"d{i}": {"*"} for i in range(6)}
    unsure = selected_pages(documents, entities, ExportFilters(max_confidence=0.7))
    assert unsure == {f"d{i}": {"2"} for i in range(6)}
    typed = selected_pages(documents, entities, ExportFilters(entity_types=("PERSON",)))
    assert typed == {f"d{i}": {"1"} for i in range(6)}
    sample = selected_pages(documents, entities, ExportFilters(sample=2, seed=4))
    assert len(sample) == 2
    assert sample == selected_pages(documents, entities, ExportFilters(sample=2, seed=4))
    only = selected_pages(documents, entities, ExportFilters(document_keys=("d3",)))
    assert list(only) == ["d3"]


def test_a_review_follows_renumbered_entities_and_judges_by_place() -> None:
    box = (0.1, 0.1, 0.3, 0.12)
    shown = MachineRef("old-id", "PERSON", box)
    review = PageReview(
        "1", labels=(Label("old-id", "PERSON", box, from_entity="old-id"),), machine=(shown,)
    )
    # Reprocessing renumbered the entity: its new id stands for the one shown.
    entity = Entity("PERSON", "x", 1, *box, 0.9, "text")
    outcome = judge_page([("new-id", entity)], review)
    assert outcome.judged["new-id"].status == "confirmed" and not outcome.added
    # A label drawn by the reviewer over a machine label of another type corrects it.
    drawn = PageReview("1", labels=(Label("r1", "US_SSN", (0.1, 0.1, 0.29, 0.12)),))
    assert judge_page([("e", entity)], drawn).judged["e"].status == "corrected"


def test_a_label_of_an_unknown_entity_type_refuses_the_import(store) -> None:
    """A label the dataset has no type for (a typo, a label added to the project) stores nothing
    and says which types, never a value."""
    client, layout = store.client(), store.layout()

    def task(page: int, label: str) -> dict:
        span = {"start": 0, "end": 5, "labels": [label], "text": "Jo Ng"}
        return {
            "id": page,
            "data": {"document_key": "documents/a.txt", "partition_key": "a.txt", "etag": "e1"}
            | {"page": page},
            "annotations": [{"id": page, "result": [{"id": "r", "type": "labels", "value": span}]}],
        }

    with pytest.raises(UnknownEntityTypes) as refused:
        import_reviews(client, layout, [task(1, "PERSON"), task(2, "NOT_A_TYPE")])
    assert "'NOT_A_TYPE' (1)" in str(refused.value) and "Jo Ng" not in str(refused.value)
    listed = client.list_objects_v2(Bucket=store.bucket, Prefix=reviews_prefix(layout))
    assert listed["KeyCount"] == 0
    # Every label of a region counts, and a labelled region of a kind the import cannot place
    # (here hypertextlabels) is never dropped silently.
    several = task(1, "PERSON")
    several["annotations"][0]["result"][0]["value"]["labels"] = ["PERSON", "BADGE_NO"]
    hypertext = task(2, "PERSON")
    item = hypertext["annotations"][0]["result"][0]
    item["type"], item["value"] = "hypertextlabels", {"hypertextlabels": ["PERSON"], "start": "/p"}
    for tasks in ([several], [hypertext]):
        with pytest.raises(UnknownEntityTypes):
            import_reviews(client, layout, tasks)
    listed = client.list_objects_v2(Bucket=store.bucket, Prefix=reviews_prefix(layout))
    assert listed["KeyCount"] == 0
    assert import_reviews(client, layout, [task(1, "PERSON")]).pages_reviewed == 1


def test_reviews_from_export_ignore_foreign_tasks() -> None:
    assert reviews_from_export([{"id": 1, "data": {"image": "x"}, "annotations": []}]) == []


def test_review_jobs_run_from_their_typed_config(store, instance) -> None:
    """The UI's path: the export and import jobs with their launchpad config, then the publish
    job picks the reviewed document up from the event log."""
    import dagster as dg

    from pii_assets.asset_names import REVIEWS_ASSET_KEY
    from pii_assets.jobs import PUBLISH_JOB
    from pii_assets.review_jobs import EXPORT_JOB, IMPORT_JOB

    client, layout = store.client(), store.layout()
    client.put_object(Bucket=store.bucket, Key=NOTES, Body=notes_txt())
    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": store})
    assert process(defs, instance, batch_size=10, max_runs=5).ok
    exported = defs.resolve_job_def(EXPORT_JOB).execute_in_process(
        instance=instance,
        run_config={"ops": {"export_review_tasks": {"config": {"entity_types": ["US_SSN"]}}}},
    )
    summary = exported.output_for_node("export_review_tasks")
    assert summary["tasks"] == {"text": 1}
    (task,) = read_json(client, store.bucket, summary["files"]["text_tasks"])
    annotation = AnnotationValue(completed_by=1, result=task["predictions"][0]["result"])
    export = [{**TaskValue(data=task["data"], annotations=[annotation]).model_dump(), "id": 1}]
    key = "uploads/label-studio-export.json"
    client.put_object(Bucket=store.bucket, Key=key, Body=json.dumps(export).encode())
    imported = defs.resolve_job_def(IMPORT_JOB).execute_in_process(
        instance=instance,
        run_config={"ops": {"import_review_export": {"config": {"export_key": key}}}},
    )
    assert imported.output_for_node("import_review_export")["pages_reviewed"] == 1
    records = instance.fetch_materializations(dg.AssetRecordsFilter(REVIEWS_ASSET_KEY), limit=5)
    assert [r.partition_key for r in records.records] == ["notes.txt"]
    assert defs.resolve_job_def(PUBLISH_JOB).execute_in_process(instance=instance).success
    _, entities = read_version(client, layout, latest_version(client, layout))
    assert set(entities.column("review_status").to_pylist()) == {"confirmed"}
