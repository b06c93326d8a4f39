"""Events-mode discovery ticks: a tick with 10,000 pending events against one with 100 (target:
at most 100×), and a tick with none against a bare empty SQS receive with the same long-poll wait
(target: at most 1.5×).

The empty case runs against the embedded AWS server's SQS over HTTP. The pending cases use
`FakeQueue`, SQS's receive/delete contract in memory with a fixed latency per call: moto keeps a
queue's messages in a list it scans on every send and receive, so 2,000 messages took 98 s to
send and 253 s to drain on this machine (10,000 would take hours), where SQS answers in about the
same time whatever the queue holds. The messages are S3 notifications as moto writes them, for
objects that exist in the embedded S3 bucket; the Dagster instance and discovery state are real.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import dagster as dg

from bench.common import median_time, s3_store
from resources.settings import DiscoverySettings
from sensors.discovery import Discovery

SMALL, LARGE = 100, 10_000
WAIT_S = 1  # long-poll wait of the first receive of a tick (PII_EVENTS_WAIT_S)
RATIO_TARGET = 100.0
EMPTY_TARGET = 1.5


SQS_LATENCY_S = 0.01  # a ReceiveMessage or DeleteMessageBatch call in the same region


class FakeQueue:
    """SQS's ReceiveMessage / DeleteMessageBatch contract for one queue, in memory."""

    def __init__(self, latency_s: float = SQS_LATENCY_S) -> None:
        self.latency_s = latency_s
        self.visible: deque[tuple[str, str]] = deque()
        self.in_flight: dict[str, str] = {}
        self._handles = itertools.count()

    def send(self, body: str) -> None:
        self.visible.append((f"h{next(self._handles)}", body))

    def receive_message(self, **args: Any) -> dict[str, Any]:
        time.sleep(self.latency_s)
        messages = []
        while self.visible and len(messages) < int(args.get("MaxNumberOfMessages", 1)):
            handle, body = self.visible.popleft()
            self.in_flight[handle] = body
            messages.append({"ReceiptHandle": handle, "Body": body})
        if not messages and args.get("WaitTimeSeconds"):
            time.sleep(float(args["WaitTimeSeconds"]))
        return {"Messages": messages} if messages else {}

    def delete_message_batch(self, **args: Any) -> dict[str, Any]:
        time.sleep(self.latency_s)
        for entry in args["Entries"]:
            self.in_flight.pop(entry["ReceiptHandle"], None)
        return {"Successful": [{"Id": e["Id"]} for e in args["Entries"]]}


def _created_event(bucket: str, key: str, etag: str) -> str:
    """An S3 notification as the embedded server writes it (moto/s3/notifications.py)."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventTime": "2030-01-01T00:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "eTag": etag, "size": 1}},
    }
    return json.dumps({"Records": [record]})


def _pending(s3: Any, bucket: str, queue: FakeQueue, first: int, count: int) -> None:
    """`count` new objects in the bucket, and their notifications in the queue."""

    def one(i: int) -> str:
        key = f"documents/b/{i:07d}.pdf"
        etag = s3.put_object(Bucket=bucket, Key=key, Body=b"x")["ETag"].strip('"')
        return _created_event(bucket, key, etag)

    with ThreadPoolExecutor(8) as pool:
        for body in pool.map(one, range(first, first + count)):
            queue.send(body)


def _settings(queue_url: str, wait_s: int) -> DiscoverySettings:
    return DiscoverySettings(
        mode="events",
        queue_url=queue_url,
        events_wait_s=wait_s,
        reconcile_interval_s=10**9,
        max_events_per_tick=LARGE,
        tick_budget_s=600,
    )


def measure() -> dict[str, float]:
    with s3_store("bench-discovery-events") as store, dg.instance_for_test() as instance:
        s3 = store.client()
        sqs = boto3.client("sqs", endpoint_url=store.endpoint_url, region_name="us-east-1")
        # An empty queue: the bucket sends it nothing (the pending cases use FakeQueue).
        url = sqs.create_queue(QueueName="bench-discovery-events")["QueueUrl"]
        # 20 runs of 100 documents per tick, as the defaults (the claims are part of a tick).
        real = Discovery(
            instance, store, _settings(url, WAIT_S), batch_size=100, max_runs=20, sqs_client=sqs
        )
        real.tick()  # the initial reconciliation pass of an empty bucket

        def empty_receive() -> None:
            sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S)

        receive_s = median_time(empty_receive, 3)
        empty_tick_s = median_time(real.tick, 3)

        queue = FakeQueue()
        fake = Discovery(
            instance, store, _settings("fake", 0), batch_size=100, max_runs=20, sqs_client=queue
        )
        first = 0
        small: list[float] = []
        for _ in range(3):
            _pending(s3, store.bucket, queue, first, SMALL)
            first += SMALL
            start = time.perf_counter()
            tick = fake.tick()
            small.append(time.perf_counter() - start)
            assert tick.report.events == SMALL, tick.report
        _pending(s3, store.bucket, queue, first, LARGE)
        start = time.perf_counter()
        tick = fake.tick()
        large_s = time.perf_counter() - start
        assert tick.report.events == LARGE and not queue.in_flight, tick.report
        return {
            "empty_receive_s": receive_s,
            "empty_tick_s": empty_tick_s,
            "tick_100_s": statistics.median(small),
            "tick_10000_s": large_s,
            "requested_in_10000_tick": float(tick.report.requested),
        }


def run(console: Any) -> dict[str, Any]:
    f = measure()
    ratio = f["tick_10000_s"] / f["tick_100_s"]
    empty = f["empty_tick_s"] / f["empty_receive_s"]
    return {
        **f,
        "ratio_10000_100": ratio,
        "ratio_empty": empty,
        "rows": [
            {"figure": f"events tick, {SMALL} pending", "value": f"{f['tick_100_s']:.3f} s"},
            {"figure": f"events tick, {LARGE:,} pending", "value": f"{f['tick_10000_s']:.2f} s"},
            {
                "figure": f"tick {LARGE:,} / tick {SMALL}",
                "value": f"{ratio:.1f}x",
                "target": f"<= {RATIO_TARGET:.0f}x",
                "met": ratio <= RATIO_TARGET,
            },
            {
                "figure": f"tick with no events / empty SQS receive ({WAIT_S} s long poll)",
                "value": f"{f['empty_tick_s']:.3f} s / {f['empty_receive_s']:.3f} s = {empty:.2f}x",
                "target": f"<= {EMPTY_TARGET}x",
                "met": empty <= EMPTY_TARGET,
            },
        ],
    }
