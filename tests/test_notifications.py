"""Notifications: a local HTTP server standing in for Slack's incoming webhook, and Amazon SNS on
the embedded moto server with an SQS queue subscribed, read back. The sensors are evaluated on a
real instance after real runs (`pii_pipeline.runner.process`)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import dagster as dg
import pytest

from pii_assets import notifications as notify
from pii_assets.definitions import build_definitions
from pii_pipeline.corpus import generate_corpus
from pii_pipeline.runner import process
from resources.s3 import DocumentStore
from resources.settings import PipelineSettings, notify_settings
from sensors.notify import (
    RunOutcome,
    build_run_failure_notifier,
    build_run_outcome_notifier,
    outcome_notifications,
)

# Stands in for the secret part of a real webhook URL: it must never show in a log.
WEBHOOK_SECRET = "T000/B000/not-a-real-token-5f3c"


class FakeSlack:
    """An HTTP server recording the JSON bodies POSTed to it, answering `status`."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok" if outer.status == 200 else b"invalid_token")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/{WEBHOOK_SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def texts(self) -> list[str]:
        return [body["blocks"][0]["text"]["text"] for body in self.bodies]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def sns_queue(s3_endpoint: str, monkeypatch) -> Iterator[tuple[str, Any, str]]:
    """(topic ARN, SQS client, queue URL): a topic on the embedded server, a queue subscribed."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", s3_endpoint)
    sns = boto3.client("sns", endpoint_url=s3_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=s3_endpoint, region_name="us-east-1")
    name = f"pii-{threading.get_ident()}-{id(sns)}"
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    yield topic, sqs, queue
    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=queue)


def received(sqs: Any, queue: str) -> list[dict[str, Any]]:
    """The SNS envelopes delivered to the queue so far."""
    out = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not batch.get("Messages"):
            return out
        for message in batch["Messages"]:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


def test_slack_and_sns_receive_the_message(slack: FakeSlack, sns_queue) -> None:
    topic, sqs, queue = sns_queue
    config = notify.NotifyConfig(slack_webhook_url=slack.url, sns_topic_arn=topic)
    message = notify.documents_failed(
        "http://ui.example:3000",
        run_id="run-1",
        failed={f"documents/bad-{i:02d}.pdf": "corrupt" for i in range(25)}
        | {"documents/a<b>&c.pdf": "encrypted"},
        documents=40,
    )
    deliveries = notify.deliver(message, config)
    assert [(d.channel, d.delivered) for d in deliveries] == [("slack", True), ("sns", True)]

    (body,) = slack.bodies
    assert body["text"] == "pii-pipeline: 26 of 40 documents failed in one run"
    text = body["blocks"][0]["text"]["text"]
    assert "corrupt=25, encrypted=1" in text
    assert "`documents/a&lt;b&gt;&amp;c.pdf`" in text  # Slack's three control characters
    assert "`documents/bad-18.pdf`" in text and "bad-19.pdf" not in text  # MAX_KEYS shown
    assert "… and 6 more" in text
    assert "<http://ui.example:3000/runs/run-1|open the run>" in text

    (envelope,) = received(sqs, queue)
    assert envelope["TopicArn"] == topic
    assert envelope["Subject"] == "pii-pipeline: 26 of 40 documents failed in one run"
    assert envelope["MessageAttributes"]["event"]["Value"] == "documents_failed"
    assert "documents/a<b>&c.pdf" in envelope["Message"]
    assert "open the run: http://ui.example:3000/runs/run-1" in envelope["Message"]


def test_a_failed_delivery_is_logged_without_the_webhook_and_never_raises(
    slack: FakeSlack, s3_endpoint: str, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_SNS", s3_endpoint)
    slack.status = 403
    missing_topic = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    config = notify.NotifyConfig(slack_webhook_url=slack.url, sns_topic_arn=missing_topic)
    message = notify.checks_failed("http://ui", run_id="r", checks=["documents_unique"])
    with caplog.at_level(logging.WARNING):
        deliveries = notify.deliver(message, config)
    assert [(d.channel, d.delivered, d.cause) for d in deliveries] == [
        ("slack", False, "HTTP 403"),
        ("sns", False, "NotFoundException NotFound"),
    ]
    unreachable = notify.NotifyConfig(slack_webhook_url="http://127.0.0.1:9/" + WEBHOOK_SECRET)
    with caplog.at_level(logging.WARNING):
        (delivery,) = notify.deliver(message, unreachable)
    assert not delivery.delivered and delivery.cause == "URLError"
    assert "not delivered to slack: HTTP 403" in caplog.text
    assert WEBHOOK_SECRET not in caplog.text
    assert WEBHOOK_SECRET not in repr(config)


def test_settings_validate_without_quoting_the_webhook() -> None:
    config = notify_settings(
        {
            "PII_SLACK_WEBHOOK_URL": "https://hooks.slack.example/services/x",
            "PII_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:ops",
            "PII_NOTIFY_FAILED_DOCUMENTS": "5",
            "PII_UI_URL": "https://dagster.example/",
        }
    )
    assert config.channels == ["slack", "sns"]
    assert (config.failed_documents, config.ui_url) == (5, "https://dagster.example")
    assert notify.sns_region(config.sns_topic_arn) == "eu-west-1"
    assert notify_settings({}).channels == []
    with pytest.raises(ValueError) as bad_url:
        notify_settings({"PII_SLACK_WEBHOOK_URL": "hooks.slack.example/secret-part"})
    assert "secret-part" not in str(bad_url.value)
    assert "PII_SLACK_WEBHOOK_URL" in str(bad_url.value)
    with pytest.raises(ValueError, match="PII_SNS_TOPIC_ARN"):
        notify_settings({"PII_SNS_TOPIC_ARN": "arn:aws:sqs:us-east-1:1:q"})
    with pytest.raises(ValueError, match="PII_NOTIFY_FAILED_DOCUMENTS"):
        PipelineSettings.from_env({"PII_NOTIFY_FAILED_DOCUMENTS": "-1"})


def test_blocking_checks_and_threshold_decide_the_messages() -> None:
    config = notify.NotifyConfig(slack_webhook_url="http://x", failed_documents=3)
    two_failed = RunOutcome("r1", "extract_documents", documents=9, failed={"a": "x", "b": "y"})
    assert outcome_notifications(two_failed, config) == []
    refused = RunOutcome(
        "r2",
        "publish_dataset",
        dataset={"publish_status": "rejected", "version": "v000003"},
        failed_checks=["documents_unique", "schema_as_documented"],
    )
    (message,) = outcome_notifications(refused, config)
    assert message.event == notify.CHECK_FAILED
    assert dict(message.facts)["latest version"] == "v000003"
    assert "documents_unique, schema_as_documented" in message.title


def tick(sensor: dg.SensorDefinition, instance, store: DocumentStore, cursor: str | None):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"store": store})
    return sensor(context)


def test_runs_are_notified_with_keys_counts_and_links(
    store: DocumentStore, instance, slack: FakeSlack, sns_queue, monkeypatch
) -> None:
    topic, sqs, queue = sns_queue
    monkeypatch.setenv("PII_SLACK_WEBHOOK_URL", slack.url)
    monkeypatch.setenv("PII_SNS_TOPIC_ARN", topic)
    monkeypatch.setenv("PII_UI_URL", "http://ui.example:3000")
    monkeypatch.setenv("PII_NOTIFY_FAILED_DOCUMENTS", "2")
    client = store.client()
    corpus = generate_corpus(2, seed=3)
    for doc in corpus:
        client.put_object(Bucket=store.bucket, Key=f"documents/{doc.name}", Body=doc.data)
    client.put_object(Bucket=store.bucket, Key="documents/cut.pdf", Body=b"%PDF-1.7\n1 0 obj <<")
    client.put_object(Bucket=store.bucket, Key="documents/empty.pdf", Body=b"")
    defs = build_definitions(PipelineSettings(batch_size=10), resources={"store": store})
    sensor = build_run_outcome_notifier()

    first = tick(sensor, instance, store, None)  # starts watching: nothing before is notified
    report = process(defs, instance, batch_size=10, max_runs=5)
    assert report.ok and report.dataset_version == "v000001"
    second = tick(sensor, instance, store, first.cursor)

    failed, published = slack.bodies
    assert failed["text"] == "pii-pipeline: 2 of 4 documents failed in one run"
    assert "`documents/cut.pdf`" in failed["blocks"][0]["text"]["text"]
    assert "`documents/empty.pdf`" in failed["blocks"][0]["text"]["text"]
    assert published["text"] == "pii-pipeline: dataset version v000001 published"
    text = published["blocks"][0]["text"]["text"]
    assert "*documents:* 4" in text and "added=4" in text
    runs = instance.get_run_records(dg.RunsFilter(job_name="publish_dataset"))
    assert f"<http://ui.example:3000/runs/{runs[0].dagster_run.run_id}|open the run>" in text
    # Counts, keys and classes only: no extracted value reaches a message.
    for doc in corpus:
        for truth in doc.truth:
            assert truth.text not in json.dumps(slack.bodies)
    envelopes = received(sqs, queue)
    assert [e["MessageAttributes"]["event"]["Value"] for e in envelopes] == [
        "documents_failed",
        "version_published",
    ]
    # The next tick finds nothing new.
    assert tick(sensor, instance, store, second.cursor).skip_reason is not None
    assert len(slack.bodies) == 2


def test_failed_run_is_notified(store: DocumentStore, instance, slack: FakeSlack, monkeypatch):
    monkeypatch.setenv("PII_SLACK_WEBHOOK_URL", slack.url)
    gone = DocumentStore(bucket="no-such-bucket-for-notify", endpoint_url=store.endpoint_url)
    defs = build_definitions(PipelineSettings(), resources={"store": gone})
    result = defs.resolve_job_def("publish_dataset").execute_in_process(
        instance=instance, raise_on_error=False
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_notifier",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()
    build_run_failure_notifier()(context)
    (body,) = slack.bodies
    assert body["text"] == "pii-pipeline: run of publish_dataset failed"
    text = body["blocks"][0]["text"]["text"]
    assert "pii_labeled_dataset (NoSuchBucket)" in text
    assert f"/runs/{result.run_id}|open the run>" in text


def test_a_key_cannot_break_out_of_its_code_span() -> None:
    """mrkdwn has no escape for a backtick: a key holding one would end its code span and let
    `*bold*` or a `<!channel>` in the rest be read as formatting."""
    key = "documents/a` *bold* <!channel> & `b.pdf"
    failed = notify.documents_failed("", run_id="run-1", failed={key: "corrupt"}, documents=3)
    body = notify.slack_payload(failed)
    text = body["blocks"][0]["text"]["text"]
    (shown,) = [line for line in text.splitlines() if line.startswith("*objects:*")]
    span = shown.removeprefix("*objects:* ")
    assert span.count("`") == 2 and span.startswith("`") and span.endswith("`")
    assert "&lt;!channel&gt;" in span and "&amp;" in span
