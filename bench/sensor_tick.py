"""Discovery ticks: at 5,000 keys versus one raw paginated listing of the same prefix, and at
20,000 keys against Dagster's 60 s sensor timeout."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dagster as dg

from bench.common import median_time, s3_store
from pii_assets.definitions import build_definitions
from resources.settings import PipelineSettings
from sensors.discovery import DISCOVERY_SENSOR

RATIO_KEYS = 5_000
TIMEOUT_KEYS = 20_000
TARGET = 1.5
SENSOR_TIMEOUT_S = 60.0


def _measure(keys: int, repeats: int) -> dict[str, float]:
    with s3_store(f"bench-sensor-{keys}") as store, dg.instance_for_test() as instance:
        client = store.client()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda i: client.put_object(
                        Bucket=store.bucket, Key=f"documents/batch/{i:06d}.pdf", Body=b"x"
                    ),
                    range(keys),
                )
            )

        def raw_listing() -> None:
            paginator = client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=store.bucket, Prefix="documents/"):
                for item in page.get("Contents", ()):
                    item["Key"]

        sensor = build_definitions(PipelineSettings()).resolve_sensor_def(DISCOVERY_SENSOR)

        def tick() -> dg.SensorResult:
            return sensor(dg.build_sensor_context(instance=instance, resources={"store": store}))

        # Tick until everything has been requested once (the first tick also registers the
        # partitions); steady-state ticks (nothing new) are what the daemon runs most of the time.
        first_tick = None
        for _ in range(1_000):
            start = time.perf_counter()
            result = tick()
            first_tick = first_tick or time.perf_counter() - start
            if not result.run_requests:
                break

        def steady_tick() -> None:
            tick()

        return {
            "raw_listing_s": median_time(raw_listing, repeats),
            "first_tick_s": first_tick or 0.0,
            "steady_tick_s": median_time(steady_tick, repeats),
        }


def run(console: Any) -> dict[str, Any]:
    small = _measure(RATIO_KEYS, repeats=5)
    console.print(f"  {TIMEOUT_KEYS:,} keys…")
    large = _measure(TIMEOUT_KEYS, repeats=3)
    ratio = small["steady_tick_s"] / small["raw_listing_s"]
    worst = max(large["first_tick_s"], large["steady_tick_s"])
    return {
        str(RATIO_KEYS): small,
        str(TIMEOUT_KEYS): large,
        "ratio": ratio,
        "rows": [
            {
                "figure": f"raw listing, {RATIO_KEYS:,} keys",
                "value": f"{small['raw_listing_s']:.3f} s",
            },
            {
                "figure": f"steady tick, {RATIO_KEYS:,} keys",
                "value": f"{small['steady_tick_s']:.3f} s",
            },
            {
                "figure": "tick / raw listing",
                "value": f"{ratio:.2f}x",
                "target": f"<= {TARGET}x",
                "met": ratio <= TARGET,
            },
            {
                "figure": f"slowest tick, {TIMEOUT_KEYS:,} keys (first or steady)",
                "value": f"{worst:.1f} s",
                "target": f"well inside {SENSOR_TIMEOUT_S:.0f} s",
                "met": worst <= SENSOR_TIMEOUT_S / 2,
            },
        ],
    }
