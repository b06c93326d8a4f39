"""Events-mode discovery ticks on the embedded AWS server (S3 notifications into SQS, over HTTP):
a tick with 10,000 pending events against one with 100 (target: at most 100×), and a tick with
none against a bare empty SQS receive with the same long-poll wait (target: at most 1.5×)."""

from __future__ import annotations

import statistics
import time
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


def _queue(sqs: Any, s3: Any, bucket: str, name: str) -> str:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}
            ]
        },
    )
    sqs.purge_queue(QueueUrl=url)
    return url


def _pending(s3: Any, bucket: str, first: int, count: int) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: s3.put_object(Bucket=bucket, Key=f"documents/b/{i:07d}.pdf", Body=b"x"),
                range(first, first + count),
            )
        )


def measure() -> dict[str, float]:
    with s3_store("bench-discovery-events") as store, dg.instance_for_test() as instance:
        s3 = store.client()
        sqs = boto3.client("sqs", endpoint_url=store.endpoint_url, region_name="us-east-1")
        queue = _queue(sqs, s3, store.bucket, "bench-discovery-events")
        settings = DiscoverySettings(
            mode="events",
            queue_url=queue,
            events_wait_s=WAIT_S,
            reconcile_interval_s=10**9,
            max_events_per_tick=LARGE,
            tick_budget_s=60,
        )
        # 20 runs of 100 documents per tick, as the defaults (the claims are part of a tick).
        discovery = Discovery(
            instance, store, settings, batch_size=100, max_runs=20, sqs_client=sqs
        )
        discovery.tick()  # the initial reconciliation pass of an empty bucket

        def empty_receive() -> None:
            sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=WAIT_S)

        receive_s = median_time(empty_receive, 3)
        empty_tick_s = median_time(discovery.tick, 3)
        first = 0
        small: list[float] = []
        for _ in range(3):
            _pending(s3, store.bucket, first, SMALL)
            first += SMALL
            start = time.perf_counter()
            tick = discovery.tick()
            small.append(time.perf_counter() - start)
            assert tick.report.events == SMALL, tick.report
        _pending(s3, store.bucket, first, LARGE)
        start = time.perf_counter()
        tick = discovery.tick()
        large_s = time.perf_counter() - start
        assert tick.report.events == LARGE, tick.report
        return {
            "empty_receive_s": receive_s,
            "empty_tick_s": empty_tick_s,
            "tick_100_s": statistics.median(small),
            "tick_10000_s": large_s,
            "state_rows": float(discovery.state.counts()["objects"]),
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
