"""The discovery state store on a real SQLite database (the Postgres path: bench and
tests/test_partition_scale.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pii_assets.discovery_state import (
    RUN_FAILED,
    DiscoveryStore,
    Observation,
    Outcome,
    RetryPolicy,
    sequencer_newer,
)


@pytest.fixture
def state(tmp_path: Path) -> DiscoveryStore:
    return DiscoveryStore(f"sqlite:///{tmp_path / 'state.db'}", RetryPolicy(3, 10.0))


def seen(key: str, etag: str | None, **kw) -> Observation:
    return Observation(object_key=f"documents/{key}", partition_key=key, etag=etag, **kw)


def register(state: DiscoveryStore) -> list[str]:
    added: list[str] = []
    state.register_due(100, lambda shard, keys: added.extend(keys))
    return added


def due_keys(state: DiscoveryStore, now: float) -> list[str]:
    return [d.partition_key for d in state.due(now, 100)]


def test_new_changed_unchanged_and_removed(state: DiscoveryStore) -> None:
    report = state.observe([seen("a", "1"), seen("b", "1")], now=100)
    assert (report.new, report.changed) == (2, 0)
    assert register(state) == ["a", "b"]
    assert due_keys(state, 100) == ["a", "b"]
    assert state.claim(["a", "b"], "batch-1", 100) == {"a", "b"}
    assert due_keys(state, 200) == []
    # The same versions again (a listing, a duplicate event): nothing to do.
    again = state.observe([seen("a", "1", listed=True), seen("b", "1")], now=200)
    assert (again.new, again.changed) == (0, 0)
    assert due_keys(state, 200) == []
    changed = state.observe([seen("b", "2")], now=300)
    assert changed.changed == 1 and due_keys(state, 300) == ["b"]
    removed = state.observe([seen("a", None)], now=400)
    assert removed.deleted == ["a"]
    assert state.counts()["tombstones"] == 1


def test_partitions_get_consecutive_positions_in_registration_order(state) -> None:
    state.observe([seen(k, "1") for k in ("c", "a", "b")], now=1)
    assert register(state) == ["a", "b", "c"]
    state.observe([seen("d", "1")], now=2)
    assert register(state) == ["d"]
    assert [d.ordinal for d in state.due(2, 10)] == [0, 1, 2, 3]
    # A removed and re-created object goes to the end, at a new position.
    state.observe([seen("a", None)], now=3)
    state.observe([seen("a", "2")], now=4)
    assert register(state) == ["a"]
    assert [(d.partition_key, d.ordinal) for d in state.due(4, 10)] == [
        ("b", 1),
        ("c", 2),
        ("d", 3),
        ("a", 4),
    ]


def test_sequencers_compare_after_left_padding() -> None:
    assert sequencer_newer("0A", "9")
    assert sequencer_newer("100", "FF")
    assert not sequencer_newer("00FF", "100")
    assert sequencer_newer("1", None)


def test_late_and_out_of_order_events_change_nothing(state: DiscoveryStore) -> None:
    state.observe([seen("a", "2", sequencer="0062")], now=10)
    late = state.observe([seen("a", "1", sequencer="0061")], now=11)
    assert late.stale == 1
    # A removal that happened before the object was written again is stale too.
    assert state.observe([seen("a", None, sequencer="0060")], now=12).deleted == []
    # Without sequencers, S3's times decide.
    state.observe([seen("b", "2", changed_at=50.0)], now=13)
    assert state.observe([seen("b", "1", changed_at=40.0)], now=14).stale == 1
    # A removal event for an object never seen leaves a tombstone that a late creation event
    # cannot get past.
    state.observe([seen("c", None, sequencer="0090")], now=15)
    assert state.observe([seen("c", "1", sequencer="0080")], now=16).stale == 1
    register(state)
    assert due_keys(state, 20) == ["a", "b"]
    # A listing is never stale: it shows the object as it is now.
    assert state.observe([seen("c", "1", listed=True)], now=21).new == 1


def test_only_one_claimer_gets_a_version(state: DiscoveryStore, tmp_path: Path) -> None:
    other = DiscoveryStore(state.url)
    state.observe([seen(k, "1") for k in "abc"], now=1)
    register(state)
    assert state.claim(["a", "b"], "sensor", now=1) == {"a", "b"}
    assert other.claim(["a", "b", "c"], "process", now=1) == {"c"}


def test_transient_failures_back_off_and_give_up(state: DiscoveryStore) -> None:
    state.observe([seen("a", "1"), seen("b", "1")], now=0)
    register(state)
    state.claim(["a", "b"], "batch", now=0)
    state.settle([Outcome("a", "1", "llm_unavailable"), Outcome("b", "1", "corrupt")], now=100)
    assert due_keys(state, 109) == []
    assert due_keys(state, 110) == ["a"]  # base 10 s; the permanent failure is not retried
    assert state.retry_status(["a", "b"]) == {"a": ("llm_unavailable", 1, 110.0)}
    state.claim(["a"], "retry-1", now=110)
    state.settle([Outcome("a", "1", "timeout")], now=200)
    assert due_keys(state, 219) == [] and due_keys(state, 220) == ["a"]  # 10 × 2
    state.claim(["a"], "retry-2", now=220)
    state.settle([Outcome("a", "1", "s3_throttled")], now=300)
    assert state.retry_status(["a"]) == {"a": ("s3_throttled", 3, None)}  # the cap: given up
    assert due_keys(state, 10_000) == []
    # A new version starts over.
    state.observe([seen("a", "2")], now=400)
    assert due_keys(state, 400) == ["a"] and state.retry_status(["a"]) == {}


def test_success_clears_the_retry_and_unstarted_documents_are_due_again(state) -> None:
    state.observe([seen("a", "1"), seen("b", "1")], now=0)
    register(state)
    state.claim(["a", "b"], "batch", now=0)
    state.settle([Outcome("a", "1", "llm_rate_limited")], now=1)
    state.claim(["a"], "retry", now=11)
    state.settle([Outcome("a", "1", None), Outcome("b", not_started=True)], now=12)
    assert state.retry_status(["a", "b"]) == {}
    assert due_keys(state, 12) == ["b"]


def test_requests_of_a_failed_run_are_retried_unless_already_settled(state) -> None:
    state.observe([seen(k, "1") for k in "abc"], now=0)
    register(state)
    state.claim(["a", "b", "c"], "batch-x", now=0)
    assert state.in_flight() == {"batch-x": 0.0}
    state.settle([Outcome("a", "1", None)], now=5)  # done before the run was killed
    assert state.fail_batches({"batch-x": RUN_FAILED}, now=10) == 2
    assert state.in_flight() == {}
    assert due_keys(state, 20) == ["b", "c"]
    assert state.retry_status("abc")["b"] == (RUN_FAILED, 1, 20.0)


def test_known_in_range_compares_bytes_like_s3(state: DiscoveryStore) -> None:
    names = ["a.pdf", "b.pdf", "Z.pdf", "é.pdf", "日本.pdf"]
    state.observe([seen(n, "1") for n in names], now=0)
    state.observe([seen("b.pdf", None)], now=1)  # a tombstone is known too
    middle = state.known_in_range("documents/a.pdf", "documents/é.pdf", "documents/")
    # "Z" sorts before "a" in bytes, as S3 lists keys.
    assert middle == {"documents/b.pdf": ("b.pdf", None), "documents/é.pdf": ("é.pdf", "1")}
    tail = state.known_in_range("documents/é.pdf", None, "documents/")
    assert list(tail) == ["documents/日本.pdf"]
    head = state.known_in_range(None, "documents/a.pdf", "documents/")
    assert sorted(head) == ["documents/Z.pdf", "documents/a.pdf"]
    assert state.known_in_range(None, None, "other/") == {}
