"""Listing reconciliation over 1,000,000 keys (`make bench-scale`): every tick under 30 s, the
ticks a pass needs, and the size of the discovery state.

The embedded S3 server cannot hold a million objects in reasonable time or memory (moto keeps
every object in the server's memory and takes a few ms per PUT: about an hour to fill), so the
listing comes from `FakeLister`: ListObjectsV2's pagination contract (keys in binary order, at
most 1,000 per page, `IsTruncated`, an opaque `NextContinuationToken`, `StartAfter`) over a
generated key space, answering a page in about the time S3 does (`PAGE_LATENCY_S`). The
discovery state and the Dagster instance are real (SQLite, as `pii-pipeline process` makes).

Two passes: the first finds every key new (each tick also registers up to 10,000 partitions);
the second is the steady state, where nothing changed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import dagster as dg

from pii_assets.bucket import BucketLayout
from resources.settings import DiscoverySettings
from sensors.discovery import Discovery, state_url

KEYS = 1_000_000
PAGE = 1_000
# A ListObjectsV2 page of 1,000 keys from S3 in the same region: about 0.1 s (measured by many;
# the figure only sets the pace of the fake).
PAGE_LATENCY_S = 0.1
TICK_LIMIT_S = 30.0
TICK_BUDGET_S = 20


class FakeLister:
    """A boto3-shaped S3 client answering `list_objects_v2` over `count` generated keys."""

    def __init__(self, prefix: str, count: int, latency_s: float = PAGE_LATENCY_S) -> None:
        self.prefix = prefix
        self.count = count
        self.latency_s = latency_s
        self.calls = 0

    def key(self, index: int) -> str:
        return f"{self.prefix}dept-{index // 10_000:03d}/document-{index:07d}.pdf"

    def _index_after(self, key: str) -> int:
        low, high = 0, self.count  # first index whose key sorts after `key`
        while low < high:
            mid = (low + high) // 2
            if self.key(mid) <= key:
                low = mid + 1
            else:
                high = mid
        return low

    def list_objects_v2(self, **args: Any) -> dict[str, Any]:
        self.calls += 1
        time.sleep(self.latency_s)
        if "ContinuationToken" in args:
            start = int(args["ContinuationToken"], 16)
        elif "StartAfter" in args:
            start = self._index_after(args["StartAfter"])
        else:
            start = 0
        stop = min(self.count, start + min(PAGE, int(args.get("MaxKeys", PAGE))))
        answer: dict[str, Any] = {
            "Contents": [
                {
                    "Key": self.key(i),
                    "ETag": f'"{i:032x}"',
                    "Size": 1024,
                    "StorageClass": "STANDARD",
                }
                for i in range(start, stop)
            ],
            "IsTruncated": stop < self.count,
        }
        if stop < self.count:
            answer["NextContinuationToken"] = f"{stop:x}"
        return answer


class FakeStore:
    """What `Discovery` uses of a DocumentStore: its client and its layout."""

    def __init__(self, lister: FakeLister) -> None:
        self.lister = lister

    def client(self) -> FakeLister:
        return self.lister

    def layout(self) -> BucketLayout:
        return BucketLayout(bucket="bench")


def _pass(discovery: Discovery) -> dict[str, float]:
    ticks: list[float] = []
    listed = 0
    while True:
        start = time.perf_counter()
        tick = discovery.tick(launch=False)
        ticks.append(time.perf_counter() - start)
        listed += tick.report.listed
        if tick.report.pass_complete:
            return {
                "ticks": len(ticks),
                "max_tick_s": max(ticks),
                "mean_tick_s": sum(ticks) / len(ticks),
                "listed": listed,
            }


def measure(count: int = KEYS) -> dict[str, Any]:
    with dg.instance_for_test() as instance:
        lister = FakeLister("documents/", count)
        settings = DiscoverySettings(tick_budget_s=TICK_BUDGET_S)
        discovery = Discovery(instance, FakeStore(lister), settings, batch_size=100, max_runs=20)  # type: ignore[arg-type]
        first = _pass(discovery)
        steady = _pass(discovery)
        path = state_url(instance).removeprefix("sqlite:///")
        return {
            "keys": count,
            "first_pass": first,
            "steady_pass": steady,
            "state_bytes": sum(
                os.path.getsize(p) for p in Path(path).parent.glob(Path(path).name + "*")
            ),
            "state_rows": discovery.state.counts()["objects"],
            "list_calls": lister.calls,
        }


def run(console: Any) -> dict[str, Any]:
    f = measure()
    worst = max(f["first_pass"]["max_tick_s"], f["steady_pass"]["max_tick_s"])
    return {
        **f,
        "rows": [
            {
                "figure": f"first pass over {f['keys']:,} keys (all new)",
                "value": f"{f['first_pass']['ticks']} ticks, slowest "
                f"{f['first_pass']['max_tick_s']:.1f} s",
            },
            {
                "figure": "steady pass (nothing changed)",
                "value": f"{f['steady_pass']['ticks']} ticks, slowest "
                f"{f['steady_pass']['max_tick_s']:.1f} s",
            },
            {
                "figure": "slowest tick",
                "value": f"{worst:.1f} s",
                "target": f"< {TICK_LIMIT_S:.0f} s",
                "met": worst < TICK_LIMIT_S,
            },
            {
                "figure": "discovery state (SQLite file)",
                "value": f"{f['state_bytes'] / 2**20:.0f} MiB, {f['state_rows']:,} rows",
            },
        ],
    }
