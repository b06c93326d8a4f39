"""The document partitions: one dynamic partition per object under the input prefix, spread over
`PII_DOCUMENT_SHARDS` dynamically partitioned assets when one asset would hold too many.

Dagster recommends at most 100,000 partitions per asset ("Partitioning assets"), and measured
here (bench/partition_scale.py, README "Past 100,000 documents") the cost of a run resolving its
partition range and of the asset's partition page grows with the partitions of the asset. With
N shards, an object's partition belongs to shard `sha256(partition key) mod N` (stable: a key
never moves), shard s being the asset `document_pii_sNN` over the partitions `documents_sNN`,
run by the job `extract_documents_sNN`. One shard (the default) keeps the plain names.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import dagster as dg

from pii_assets.asset_names import DOCUMENT_ASSET

PARTITIONS_NAME = "documents"
EXTRACT_JOB = "extract_documents"
MAX_SHARDS = 64


def shard_of(partition_key: str, shards: int) -> int:
    """The shard holding a partition: the first 8 bytes of SHA-256 of its key, modulo `shards`
    (uniform, and the same in every process and version)."""
    if shards == 1:
        return 0
    digest = hashlib.sha256(partition_key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True)
class DocumentShards:
    """The names of each shard's partitions, asset and job."""

    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_SHARDS:
            raise ValueError(f"PII_DOCUMENT_SHARDS must be 1 to {MAX_SHARDS}, got {self.count}")

    def _suffix(self, shard: int) -> str:
        return "" if self.count == 1 else f"_s{shard:02d}"

    def partitions_name(self, shard: int) -> str:
        return PARTITIONS_NAME + self._suffix(shard)

    def asset_key(self, shard: int) -> dg.AssetKey:
        return dg.AssetKey(DOCUMENT_ASSET + self._suffix(shard))

    def job_name(self, shard: int) -> str:
        return EXTRACT_JOB + self._suffix(shard)

    def shard_of(self, partition_key: str) -> int:
        return shard_of(partition_key, self.count)

    @cached_property
    def partitions_defs(self) -> tuple[dg.DynamicPartitionsDefinition, ...]:
        return tuple(
            dg.DynamicPartitionsDefinition(name=self.partitions_name(s)) for s in range(self.count)
        )

    @property
    def asset_keys(self) -> list[dg.AssetKey]:
        return [self.asset_key(s) for s in range(self.count)]

    @property
    def job_names(self) -> list[str]:
        return [self.job_name(s) for s in range(self.count)]

    def registered(self, instance: dg.DagsterInstance) -> list[str]:
        """Every registered partition key, shard by shard, each in the order it was added (a full
        read of Dagster's partitions table: for commands, not for ticks)."""
        return [k for s in range(self.count) for k in self.in_shard(instance, s)]

    def in_shard(self, instance: dg.DagsterInstance, shard: int) -> list[str]:
        return list(instance.get_dynamic_partitions(self.partitions_name(shard)))


ONE_SHARD = DocumentShards()
documents_partitions = ONE_SHARD.partitions_defs[0]
