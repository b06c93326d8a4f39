"""Batching due partitions into runs, fingerprints and run keys (plain functions)."""

from __future__ import annotations

import pytest

from pii_assets.discovery_state import Due
from sensors.discovery_plan import (
    batches_by_position,
    consecutive_runs,
    fingerprint,
    is_archived,
    run_key,
)


def due(*ordinals: int | None, storage_class: str = "STANDARD") -> list[Due]:
    return [Due(f"K{o}", 0, f"k{o}", o, "e", storage_class) for o in ordinals]


def keys(runs: list[list[Due]]) -> list[tuple[str, ...]]:
    return [tuple(item.partition_key for item in run) for run in runs]


def test_consecutive_positions_share_a_run_up_to_the_batch_size() -> None:
    assert keys(batches_by_position(due(0, 1, 2, 3, 4, 5, 6), 3)) == [
        ("K0", "K1", "K2"),
        ("K3", "K4", "K5"),
        ("K6",),
    ]


def test_a_gap_in_positions_ends_a_run() -> None:
    # K4 and K5 are registered but not due (or deleted): a range K3..K6 would cover them.
    assert keys(batches_by_position(due(1, 2, 3, 6, 9), 100)) == [
        ("K1", "K2", "K3"),
        ("K6",),
        ("K9",),
    ]


def test_a_run_stays_within_one_shard() -> None:
    items = [Due("A", 0, "a", 4, "e", "STANDARD"), Due("B", 1, "b", 5, "e", "STANDARD")]
    assert keys(batches_by_position(items, 100)) == [("A",), ("B",)]


def test_partitions_without_a_position_run_alone() -> None:
    assert keys(batches_by_position(due(None, None, 1), 100)) == [("KNone",), ("KNone",), ("K1",)]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError):
        batches_by_position(due(1), 0)


def test_run_key_changes_with_etag_and_salt() -> None:
    assert run_key(["a"], {"a": "1"}) != run_key(["a"], {"a": "2"})
    assert run_key(["a"], {"a": "1"}, "t1") != run_key(["a"], {"a": "1"}, "t2")
    assert run_key(["a"], {"a": "1"}, "t1") == run_key(["a"], {"a": "1"}, "t1")


def test_only_moves_into_or_out_of_an_archived_class_change_the_fingerprint() -> None:
    etag = "0123456789abcdef0123456789abcdef"
    assert fingerprint(etag) == fingerprint(etag, "STANDARD_IA") == etag
    assert fingerprint(etag, "GLACIER") == f"{etag}@GLACIER"
    assert is_archived(due(1, storage_class="DEEP_ARCHIVE")[0])
    assert not is_archived(due(1, storage_class="GLACIER_IR")[0])


def test_consecutive_runs_over_an_explicit_order() -> None:
    order = [f"k{i}" for i in range(6)]
    assert consecutive_runs(order, {"k0", "k1", "k3", "k4", "k5"}, 2) == [
        ["k0", "k1"],
        ["k3", "k4"],
        ["k5"],
    ]
