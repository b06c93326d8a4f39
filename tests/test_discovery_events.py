"""Event-driven discovery end to end: S3 Event Notifications to an SQS queue on the embedded AWS
server (moto over HTTP; it delivers S3 notifications to its SQS queues), the real sensor and a real
Dagster instance."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import dagster as dg
import pytest

from pii_assets.definitions import build_definitions
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings, PipelineSettings
from sensors.discovery import DISCOVERY_SENSOR, Discovery
from tests.s3_faults import Fault, S3FaultProxy
from tests.test_discovery_sensor import put, requested_keys


@pytest.fixture
def sqs(s3_endpoint: str):
    return boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")


@pytest.fixture
def queue_url(sqs, store: DocumentStore, s3_client) -> str:
    """A queue receiving the test bucket's ObjectCreated/ObjectRemoved events under documents/."""
    url = sqs.create_queue(QueueName=f"{store.bucket}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3_client.put_bucket_notification_configuration(
        Bucket=store.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "documents/"}]}},
                }
            ]
        },
    )
    sqs.purge_queue(QueueUrl=url)  # moto's s3:TestEvent, as S3 sends one on configuration
    return url


@pytest.fixture
def events_env(monkeypatch, s3_endpoint: str) -> None:
    # What an operator sets: boto3 finds the SQS endpoint itself.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", s3_endpoint)


def events_settings(queue_url: str, **overrides) -> DiscoverySettings:
    values = {"mode": "events", "queue_url": queue_url, "events_wait_s": 0}
    return DiscoverySettings(**{**values, **overrides})


def tick(instance, store, settings: DiscoverySettings) -> dg.SensorResult:
    defs = build_definitions(PipelineSettings(batch_size=100), discovery=settings)
    sensor = defs.resolve_sensor_def(DISCOVERY_SENSOR)
    return sensor(dg.build_sensor_context(instance=instance, resources={"store": store}))


def visible(sqs, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_objects_created_and_removed_reach_the_sensor_through_sqs(
    instance, store, queue_url, sqs, events_env
) -> None:
    settings = events_settings(queue_url)
    first = tick(instance, store, settings)  # the initial reconciliation pass: an empty bucket
    assert first.run_requests == []
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(store, name)
    assert visible(sqs, queue_url)[0] == 3

    created = tick(instance, store, settings)
    assert requested_keys(created, instance) == ["a.pdf", "b.pdf", "c.pdf"]
    assert len(created.run_requests) == 1
    assert visible(sqs, queue_url) == (0, 0)  # applied, committed, then deleted

    put(store, "b.pdf", b"%PDF-1.4 changed")
    store.client().delete_object(Bucket=store.bucket, Key="documents/c.pdf")
    # Outside the input prefix: the filter keeps it out (and so would the sensor).
    store.client().put_object(Bucket=store.bucket, Key="other/elsewhere.pdf", Body=b"x")
    changed = tick(instance, store, settings)
    assert requested_keys(changed, instance) == ["b.pdf"]
    assert instance.get_dynamic_partitions("documents") == ["a.pdf", "b.pdf"]
    assert tick(instance, store, settings).run_requests == []


def test_duplicate_late_and_out_of_order_events_are_harmless(
    instance, store, queue_url, sqs, events_env
) -> None:
    settings = events_settings(queue_url)
    tick(instance, store, settings)
    put(store, "a.pdf")
    # Keep a copy of the notification, as SQS may deliver it twice.
    (message,) = sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)["Messages"]
    body = json.loads(message["Body"])
    assert tick(instance, store, settings).run_requests  # requested once

    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(body))  # a duplicate
    assert tick(instance, store, settings).run_requests == []

    # An old "created" event arriving after a newer one (by sequencer), then a removal event
    # from before the object was written: neither changes anything.
    newer = json.loads(json.dumps(body))
    newer["Records"][0]["s3"]["object"].update(eTag="b" * 32, sequencer="00A2")
    older = json.loads(json.dumps(body))
    older["Records"][0]["s3"]["object"].update(eTag="c" * 32, sequencer="009F")
    removed = json.loads(json.dumps(body))
    removed["Records"][0].update(eventName="ObjectRemoved:Delete")
    removed["Records"][0]["s3"]["object"].update(sequencer="0050")
    for message_body in (newer, older, removed):
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message_body))
    discovery = Discovery(instance, store, settings, batch_size=100, max_runs=20)
    result = discovery.tick()
    assert result.report.stale == 2
    assert [b.partition_keys for b in result.batches] == [("a.pdf",)]  # the newer version
    assert instance.get_dynamic_partitions("documents") == ["a.pdf"]
    # Test events and foreign messages are dropped, not retried forever.
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"Event": "s3:TestEvent"}))
    sqs.send_message(QueueUrl=queue_url, MessageBody="not json")
    assert discovery.tick().report.events_ignored == 2
    assert visible(sqs, queue_url) == (0, 0)


def test_a_missed_event_is_caught_by_the_reconciliation_pass(
    instance, store, queue_url, sqs, s3_client, events_env
) -> None:
    settings = events_settings(queue_url, reconcile_interval_s=3600)
    tick(instance, store, settings)
    s3_client.put_bucket_notification_configuration(
        Bucket=store.bucket, NotificationConfiguration={}
    )
    put(store, "missed.pdf")  # no notification for this one
    assert tick(instance, store, settings).run_requests == []  # the next pass is an hour away
    discovery = Discovery(instance, store, settings, batch_size=100, max_runs=20)
    result = discovery.tick(now=discovery.last_pass_started_at() + 3601)
    assert [b.partition_keys for b in result.batches] == [("missed.pdf",)]
    assert result.report.pass_complete and result.report.listed == 1


def test_messages_stay_in_the_queue_when_a_tick_fails_before_committing(
    instance, store, queue_url, sqs, s3_endpoint, events_env
) -> None:
    proxy = S3FaultProxy(s3_endpoint).start()
    try:
        proxied = DocumentStore(
            bucket=store.bucket, endpoint_url=proxy.endpoint_url, max_attempts=1
        )
        settings = events_settings(queue_url)
        Discovery(instance, proxied, settings, batch_size=100, max_runs=20).tick()
        put(store, "a.pdf")
        # A lifecycle transition is looked up with a HEAD, which fails here.
        transition = {
            "Records": [
                {
                    "eventName": "LifecycleTransition",
                    "eventTime": "2030-01-01T00:00:00.000Z",
                    "s3": {"bucket": {"name": store.bucket}, "object": {"key": "documents/a.pdf"}},
                }
            ]
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(transition))
        proxy.faults[("HEAD", "documents/a.pdf")] = Fault(500, "InternalError")
        with pytest.raises(Exception):  # noqa: B017 - any S3 error; the point is what is kept
            Discovery(instance, proxied, settings, batch_size=100, max_runs=20).tick()
        assert visible(sqs, queue_url) == (0, 2)  # received, not deleted: they come back
        assert instance.get_dynamic_partitions("documents") == []
    finally:
        proxy.stop()


@pytest.fixture
def two_ticks_apart(instance, store) -> Iterator[tuple[Discovery, Discovery]]:
    settings = DiscoverySettings()
    yield (
        Discovery(instance, store, settings, batch_size=100, max_runs=20),
        Discovery(instance, store, settings, batch_size=100, max_runs=20, recorded_by="process"),
    )


def test_the_sensor_and_process_never_request_one_version_twice(
    instance, store, two_ticks_apart
) -> None:
    sensor_side, process_side = two_ticks_apart
    for name in ("a.pdf", "b.pdf"):
        put(store, name)
    first = sensor_side.tick()
    second = process_side.tick()
    assert [b.partition_keys for b in first.batches] == [("a.pdf", "b.pdf")]
    assert second.batches == []
