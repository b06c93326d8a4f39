"""The discovery sensor against the real S3 server and a real Dagster instance."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pytest

from pii_assets import partition_keys
from pii_assets.definitions import build_definitions
from resources.s3 import DocumentStore
from resources.settings import DiscoverySettings, PipelineSettings
from sensors.discovery import DISCOVERY_SENSOR, RANGE_END_TAG, RANGE_START_TAG, Discovery


def tick(
    instance: dg.DagsterInstance, store: DocumentStore, batch_size: int = 100
) -> dg.SensorResult:
    """One evaluation of the real sensor; it registers and deletes partitions itself."""
    defs = build_definitions(PipelineSettings(batch_size=batch_size), discovery=DiscoverySettings())
    sensor = defs.resolve_sensor_def(DISCOVERY_SENSOR)
    context = dg.build_sensor_context(instance=instance, resources={"store": store})
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def put(store: DocumentStore, relative: str, body: bytes = b"%PDF-1.4 demo") -> str:
    key = store.input_prefix + relative
    store.client().put_object(Bucket=store.bucket, Key=key, Body=body)
    return key


def requested_keys(result: dg.SensorResult, instance: dg.DagsterInstance) -> list[str]:
    order = instance.get_dynamic_partitions("documents")
    keys: list[str] = []
    for request in result.run_requests or []:
        if request.partition_key:
            keys.append(request.partition_key)
            continue
        start = order.index(request.tags[RANGE_START_TAG])
        end = order.index(request.tags[RANGE_END_TAG])
        keys.extend(order[start : end + 1])
    return keys


def test_new_changed_and_unchanged_objects(instance, store) -> None:
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(store, name)
    # A console's folder placeholder is an object too: its run gives it a folder_marker row.
    put(store, "folder/", b"")
    first = tick(instance, store)
    assert requested_keys(first, instance) == ["a.pdf", "b.pdf", "c.pdf", "folder%2F"]
    assert len(first.run_requests) == 1  # one batched run, not one per document
    assert instance.get_dynamic_partitions("documents") == ["a.pdf", "b.pdf", "c.pdf", "folder%2F"]

    again = tick(instance, store)
    assert again.run_requests == []
    assert "nothing to request" in again.skip_reason.skip_message

    put(store, "b.pdf", b"%PDF-1.4 changed")
    changed = tick(instance, store)
    assert requested_keys(changed, instance) == ["b.pdf"]
    assert instance.get_dynamic_partitions("documents") == ["a.pdf", "b.pdf", "c.pdf", "folder%2F"]
    assert changed.run_requests[0].run_key not in {r.run_key for r in first.run_requests}


def test_more_than_one_listing_page_and_batches(instance, store) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: put(store, f"bulk/{i:05d}.txt", b"x"), range(1_100)))
    result = tick(instance, store, batch_size=500)
    assert len(instance.get_dynamic_partitions("documents")) == 1_100
    assert [int(r.tags["pii/documents"]) for r in result.run_requests] == [500, 500, 100]
    assert sorted(requested_keys(result, instance)) == sorted(
        instance.get_dynamic_partitions("documents")
    )


def test_listing_never_heads_objects(instance, store) -> None:
    for i in range(30):
        put(store, f"{i}.pdf")
    calls: Counter[str] = Counter()
    store.client().meta.events.register(
        "before-call.s3", lambda model, **_: calls.update([model.name])
    )
    Discovery(instance, store, DiscoverySettings(), batch_size=100, max_runs=20).tick()
    assert calls == Counter({"ListObjectsV2": 1})


@pytest.mark.parametrize(
    "relative",
    [
        "with space, and comma.pdf",
        "unicode/Ünïcødé 文書.pdf",
        "dots.../file.pdf",
        "long/" + "x" * 1_000 + ".pdf",
    ],
)
def test_awkward_keys_resolve_back_to_their_object(instance, store, relative: str) -> None:
    key = put(store, relative)
    result = tick(instance, store)
    (partition_key,) = requested_keys(result, instance)
    assert "," not in partition_key and "/" not in partition_key
    assert len(partition_key.encode()) <= partition_keys.MAX_KEY_BYTES
    from pii_assets.bucket import resolve_object_key

    assert resolve_object_key(store.client(), store.layout(), partition_key) == key


def test_deleted_object_removes_its_partition(instance, store) -> None:
    put(store, "keep.pdf")
    key = put(store, "gone.pdf")
    tick(instance, store)
    store.client().delete_object(Bucket=store.bucket, Key=key)
    tick(instance, store)
    assert instance.get_dynamic_partitions("documents") == ["keep.pdf"]


def test_documents_a_run_budget_left_unstarted_are_requested_again(instance, store) -> None:
    from pii_assets.asset_names import DOCUMENT_ASSET_KEY
    from pii_assets.document_asset import NOT_STARTED

    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(store, name)
    tick(instance, store)
    instance.report_runless_asset_event(
        dg.AssetObservation(
            asset_key=DOCUMENT_ASSET_KEY, partition="b.pdf", metadata={"status": NOT_STARTED}
        )
    )
    retry = tick(instance, store)
    assert requested_keys(retry, instance) == ["b.pdf"]
    again = tick(instance, store)
    assert again.run_requests == []


def test_a_listing_pass_spreads_over_ticks_from_its_continuation_token(instance, store) -> None:
    client = store.client()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: put(store, f"p/{i:05d}.txt", b"x"), range(2_050)))
    # No time budget: each tick lists exactly one page (1,000 keys), then stops.
    settings = DiscoverySettings(tick_budget_s=0)
    discovery = Discovery(instance, store, settings, batch_size=1_000, max_runs=1)
    listed = []
    for _ in range(3):
        tick = discovery.tick()
        listed.append((tick.report.listed, tick.report.pass_complete))
    assert listed == [(1_000, False), (1_000, False), (50, True)]
    assert len(instance.get_dynamic_partitions("documents")) == 2_050
    # Objects gone from the middle and the end of the listing are found by the next pass.
    client.delete_object(Bucket=store.bucket, Key="documents/p/01500.txt")
    client.delete_object(Bucket=store.bucket, Key="documents/p/02049.txt")
    put(store, "p/00999 new.txt", b"x")
    deleted = sum(discovery.tick().report.deleted for _ in range(3))
    assert deleted == 2
    keys = set(instance.get_dynamic_partitions("documents"))
    assert "p%2F01500.txt" not in keys and "p%2F00999 new.txt" in keys
    assert len(keys) == 2_049


def test_partitions_discovered_before_the_state_existed_are_not_extracted_again(
    instance, store
) -> None:
    """An instance upgraded from the cursor-keeping sensor: its partitions and the ETags they were
    extracted for are imported once, in Dagster's order."""
    from pii_assets.asset_names import DOCUMENT_ASSET_KEY

    client = store.client()
    etags = {}
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        put(store, name)
        etags[name] = client.head_object(Bucket=store.bucket, Key=f"documents/{name}")["ETag"]
    instance.add_dynamic_partitions("documents", ["a.pdf", "b.pdf", "c.pdf"])
    for name in ("a.pdf", "b.pdf"):  # c.pdf was registered but never extracted
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                DOCUMENT_ASSET_KEY, partition=name, metadata={"etag": etags[name].strip('"')}
            )
        )
    first = tick(instance, store)
    assert requested_keys(first, instance) == ["c.pdf"]
    put(store, "b.pdf", b"%PDF-1.4 changed")
    put(store, "d.pdf")
    second = tick(instance, store)
    assert requested_keys(second, instance) == ["b.pdf", "d.pdf"]
    assert instance.get_dynamic_partitions("documents") == ["a.pdf", "b.pdf", "c.pdf", "d.pdf"]
