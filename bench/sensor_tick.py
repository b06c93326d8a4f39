"""Discovery tick on 5,000 keys versus one raw paginated listing of the same prefix."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from bench.common import median_time, s3_store
from pii_assets.definitions import build_definitions
from resources.settings import PipelineSettings
from sensors.discovery import DISCOVERY_SENSOR

KEYS = 5_000
TARGET = 1.5


def run(console: Any) -> dict[str, Any]:
    with s3_store("bench-sensor") as store, dg.instance_for_test() as instance:
        client = store.client()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(
                        Bucket=store.bucket, Key=f"documents/batch/{i:06d}.pdf", Body=b"x"
                    ),
                    range(KEYS),
                )
            )

        def raw_listing() -> None:
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=store.bucket, Prefix="documents/"):
                for item in page.get("Contents", ()):
                    item["Key"]

        sensor = build_definitions(PipelineSettings()).resolve_sensor_def(DISCOVERY_SENSOR)
        # Tick until everything has been requested once; steady-state ticks (nothing new) are
        # what the daemon runs most of the time.
        cursor = None
        for _ in range(100):
            result = sensor(
                dg.build_sensor_context(
                    instance=instance, cursor=cursor, resources={"store": store}
                )
            )
            for request in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(
                    request.partitions_def_name, list(request.partition_keys)
                )
            cursor = result.cursor
            if not result.run_requests:
                break

        def steady_tick() -> None:
            sensor(
                dg.build_sensor_context(
                    instance=instance, cursor=cursor, resources={"store": store}
                )
            )

        listing = median_time(raw_listing)
        tick = median_time(steady_tick)
    ratio = tick / listing
    return {
        "keys": KEYS,
        "raw_listing_s": listing,
        "tick_s": tick,
        "ratio": ratio,
        "rows": [
            {"figure": "raw listing (median of 5)", "value": f"{listing:.3f} s"},
            {"figure": "steady sensor tick (median of 5)", "value": f"{tick:.3f} s"},
            {
                "figure": "tick / raw listing",
                "value": f"{ratio:.2f}x",
                "target": f"<= {TARGET}x",
                "met": ratio <= TARGET,
            },
        ],
    }
