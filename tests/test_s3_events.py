"""Reading S3 event notifications (plain functions): shapes S3 sends to SQS directly and through
an SNS topic, key decoding, and what is ignored."""

from __future__ import annotations

import json

from sensors.s3_events import ParsedEvents, parse_message


def record(name: str, key: str, **obj: str) -> dict:
    return {
        "eventName": name,
        "eventTime": "2030-01-02T03:04:05.678Z",
        "s3": {"bucket": {"name": "bucket"}, "object": {"key": key, **obj}},
    }


def parse(*bodies: str) -> ParsedEvents:
    parsed = ParsedEvents()
    for body in bodies:
        parse_message(
            body, "bucket", "documents/", lambda k: k.upper(), lambda e, c: f"{e}/{c}", parsed
        )
    return parsed


def test_created_and_removed_with_form_encoded_keys() -> None:
    body = json.dumps(
        {
            "Records": [
                record(
                    "ObjectCreated:Put", "documents/a+b%2Bc%C3%A9.pdf", eTag="e1", sequencer="0A"
                ),
                record("ObjectRemoved:Delete", "documents/gone.pdf", sequencer="0B"),
            ]
        }
    )
    parsed = parse(body)
    created, removed = parsed.observations
    assert created.object_key == "documents/a b+cé.pdf"
    assert (created.partition_key, created.etag, created.sequencer) == (
        "DOCUMENTS/A B+CÉ.PDF",
        "e1/STANDARD",
        "0A",
    )
    assert created.changed_at == 1893553445.678
    assert removed.etag is None and removed.object_key == "documents/gone.pdf"


def test_through_an_sns_topic() -> None:
    inner = json.dumps({"Records": [record("ObjectCreated:Copy", "documents/x.pdf", eTag="e")]})
    envelope = json.dumps({"Type": "Notification", "Message": inner})
    assert [o.object_key for o in parse(envelope).observations] == ["documents/x.pdf"]


def test_storage_class_changes_are_looked_up_and_the_rest_ignored() -> None:
    parsed = parse(
        json.dumps({"Records": [record("LifecycleTransition", "documents/cold.pdf")]}),
        json.dumps({"Records": [record("ObjectCreated:Put", "other/x.pdf", eTag="e")]}),
        json.dumps({"Records": [record("ObjectCreated:Put", "documents/", eTag="e")]}),
        json.dumps({"Records": [record("ObjectTagging:Put", "documents/t.pdf")]}),
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "bucket"}),
        "not json",
    )
    assert parsed.look_up == ["documents/cold.pdf"]
    assert parsed.observations == [] and parsed.ignored == 5
