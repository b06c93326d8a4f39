from __future__ import annotations

import pytest

from pii_assets.bucket import ObjectInfo
from sensors.discovery_plan import DiscoveryState, plan_tick


def objs(*pairs: tuple[str, str]) -> list[ObjectInfo]:
    return [ObjectInfo(key=k, etag=e, size=1) for k, e in pairs]


def plan(objects, known=(), state=None, batch_size=100, max_runs=20):
    return plan_tick(
        objects,
        partition_key_of=lambda key: key.upper(),
        known_partitions=list(known),
        state=state or DiscoveryState(),
        batch_size=batch_size,
        max_runs=max_runs,
    )


def test_new_objects_are_added_in_listing_order_and_batched() -> None:
    p = plan(objs(*[(f"k{i:02d}", "e") for i in range(7)]), batch_size=3)
    assert p.new_partitions == [f"K{i:02d}" for i in range(7)]
    assert [b.partition_keys for b in p.batches] == [
        ("K00", "K01", "K02"),
        ("K03", "K04", "K05"),
        ("K06",),
    ]
    assert p.pending == 0


def test_repeated_tick_requests_nothing() -> None:
    listing = objs(("a", "1"), ("b", "2"))
    first = plan(listing)
    second = plan(listing, known=first.new_partitions, state=first.next_state)
    assert second.batches == [] and second.new_partitions == []
    assert second.next_state == first.next_state


def test_changed_etags_group_into_consecutive_ranges_only() -> None:
    keys = [f"k{i}" for i in range(10)]
    first = plan(objs(*[(k, "v1") for k in keys]))
    changed = {"k1", "k2", "k3", "k6", "k9"}
    listing = objs(*[(k, "v2" if k in changed else "v1") for k in keys])
    p = plan(listing, known=first.new_partitions, state=first.next_state)
    assert [b.partition_keys for b in p.batches] == [("K1", "K2", "K3"), ("K6",), ("K9",)]
    assert p.new_partitions == []


def test_run_key_changes_with_etag() -> None:
    a = plan(objs(("a", "1")))
    b = plan(objs(("a", "2")))
    assert a.batches[0].run_key != b.batches[0].run_key


def test_run_bound_leaves_the_rest_for_the_next_tick() -> None:
    listing = objs(*[(f"k{i}", "e") for i in range(10)])
    first = plan(listing, batch_size=2, max_runs=2)
    assert first.requested == 4 and first.pending == 6
    assert len(first.new_partitions) == 10  # all partitions are registered at once
    second = plan(listing, known=first.new_partitions, state=first.next_state, batch_size=2)
    assert second.requested == 6
    assert {k for b in second.batches for k in b.partition_keys}.isdisjoint(
        {k for b in first.batches for k in b.partition_keys}
    )


def test_deleted_objects_leave_the_state_and_return_as_new_versions() -> None:
    first = plan(objs(("a", "1"), ("b", "1")))
    gone = plan(objs(("a", "1")), known=first.new_partitions, state=first.next_state)
    assert "B" not in gone.next_state.etags and gone.batches == []
    assert gone.deleted_partitions == ["B"]
    back = plan(objs(("a", "1"), ("b", "1")), known=first.new_partitions, state=gone.next_state)
    assert [b.partition_keys for b in back.batches] == [("B",)]


def test_state_after_records_only_completed_batches() -> None:
    p = plan(objs(*[(f"k{i}", "e") for i in range(4)]), batch_size=2)
    partial = p.state_after(p.batches[:1])
    assert set(partial.etags) == {"K0", "K1"}


def test_cursor_round_trip_is_compact_at_20000_keys() -> None:
    etags = {f"folder/sub%2Fdocument-{i:05d}.pdf": f"{i:032x}"[-12:] for i in range(20_000)}
    state = DiscoveryState(etags)
    encoded = state.encode()
    assert DiscoveryState.decode(encoded) == state
    assert len(encoded) < 400_000


@pytest.mark.parametrize("bad", ["not base64!", "aGVsbG8="])
def test_foreign_cursor_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ValueError, match="cursor"):
        DiscoveryState.decode(bad)


def test_archived_objects_are_listed_apart_and_counted_as_handled() -> None:
    listing = [
        ObjectInfo("a", "1", 1),
        ObjectInfo("cold", "2", 1, storage_class="GLACIER"),
        ObjectInfo("deep", "3", 1, storage_class="DEEP_ARCHIVE"),
    ]
    first = plan(listing)
    assert [b.partition_keys for b in first.batches] == [("A",)]
    assert [(key, info.key) for key, info in first.archived] == [("COLD", "cold"), ("DEEP", "deep")]
    assert first.state_after([]).etags == {"COLD": "2@GLACIER", "DEEP": "3@DEEP_ARCHIVE"}
    again = plan(listing, known=first.new_partitions, state=first.next_state)
    assert again.batches == [] and again.archived == []


def test_only_moves_into_or_out_of_an_archived_class_count() -> None:
    first = plan([ObjectInfo("a", "1", 1), ObjectInfo("b", "2", 1)])
    moved = [
        ObjectInfo("a", "1", 1, storage_class="STANDARD_IA"),  # lifecycle: nothing to read anew
        ObjectInfo("b", "2", 1, storage_class="GLACIER"),
    ]
    second = plan(moved, known=first.new_partitions, state=first.next_state)
    assert second.batches == []
    assert [key for key, _ in second.archived] == ["B"]
    back = [ObjectInfo("a", "1", 1), ObjectInfo("b", "2", 1, storage_class="STANDARD")]
    third = plan(back, known=first.new_partitions, state=second.next_state)
    assert [b.partition_keys for b in third.batches] == [("B",)] and third.archived == []


def test_archived_objects_per_tick_are_bounded_like_runs() -> None:
    listing = [ObjectInfo(f"k{i}", "1", 1, storage_class="GLACIER") for i in range(7)]
    first = plan(listing, batch_size=2, max_runs=2)
    assert len(first.archived) == 4 and first.pending == 3
    second = plan(listing, known=first.new_partitions, state=first.next_state, batch_size=2)
    assert len(second.archived) == 3
