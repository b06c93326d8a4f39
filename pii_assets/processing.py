"""One partition, end to end: fetch the object, extract, write its result and audit marker.

An S3 error on one object becomes that object's row, never a failed run (`bucket.classify_s3_error`
says which), whether it comes from reading the object or from writing its result and marker
(`record_result`); objects the listing shows as archived get their row without a GET
(`record_archived`, called by the discovery tick). The value policy is applied to each result
before it is written.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from botocore.exceptions import BotoCoreError, ClientError

from pii_assets.bucket import (
    BucketLayout,
    ObjectInfo,
    classify_s3_error,
    describe_s3_error,
    get_json,
    put_json,
    read_object,
    require_private_bucket,
    resolve_object_key,
    strip_etag,
)
from pii_assets.deadline import extract_within_limit
from pii_assets.documents import DocumentLimits
from pii_assets.extraction import PageExtractor
from pii_assets.models import DocumentResult, ErrorClass, Status


@dataclass(frozen=True)
class ProcessingOptions:
    extractor: PageExtractor
    passwords: tuple[str, ...] = ()
    limits: DocumentLimits = DocumentLimits()
    max_file_bytes: int = 50 * 1024 * 1024
    code_version: str = ""
    workers: int = 1  # documents extracted at once, on threads; 1 extracts in the caller's thread
    budget_usd: float | None = None  # the run budget; None for no limit


@runtime_checkable
class CostEstimator(Protocol):
    """An extractor that can say what a document will cost before it is started."""

    def estimate_document_usd(
        self, data: bytes, *, passwords: Sequence[str], limits: DocumentLimits
    ) -> float: ...


@dataclass(frozen=True)
class FetchedObject:
    object_key: str
    etag: str
    data: bytes


def unread_result(
    key: str,
    etag: str,
    status: Status,
    error_class: ErrorClass,
    message: str,
    *,
    extractor: str = "",
    model: str | None = None,
    code_version: str = "",
) -> DocumentResult:
    """The row of an object that was not read (gone, too large, archived, S3 said no)."""
    return DocumentResult(
        document_key=key,
        etag=etag,
        status=status,
        error_class=str(error_class),
        error_message=message,
        extractor=extractor,
        model=model,
        code_version=code_version,
        processed_at=datetime.now(UTC).isoformat(),
    )


def _unread(
    key: str,
    etag: str,
    status: Status,
    error_class: ErrorClass,
    message: str,
    opts: ProcessingOptions,
) -> DocumentResult:
    return unread_result(
        key,
        etag,
        status,
        error_class,
        message,
        extractor=opts.extractor.name,
        model=opts.extractor.model,
        code_version=opts.code_version,
    )


_WHY = {
    ErrorClass.ARCHIVED: "the object is archived; restore it or change its storage class",
    ErrorClass.S3_THROTTLED: "after botocore's retries; requested again on a later discovery tick",
}


def _etag_of(client: Any, layout: BucketLayout, object_key: str) -> str:
    """The object's ETag from a HEAD, for the row of an object a GET refused; "" if S3 will not
    say (the row then reads as not yet processed in a full rebuild, never as read)."""
    try:
        return strip_etag(client.head_object(Bucket=layout.bucket, Key=object_key)["ETag"])
    except (ClientError, BotoCoreError):
        return ""


def _s3_failure(
    client: Any,
    layout: BucketLayout,
    object_key: str,
    exc: ClientError | BotoCoreError,
    opts: ProcessingOptions,
) -> DocumentResult:
    status, error_class = classify_s3_error(exc)
    if error_class == ErrorClass.NOT_FOUND:
        return _unread(
            object_key, "", status, error_class, f"{object_key}: object no longer exists", opts
        )
    message = f"{object_key}: {describe_s3_error(exc, 'GetObject')}"
    if error_class in _WHY:
        message += f" ({_WHY[error_class]})"
    # A throttled prefix gets no extra request; it is asked again on a later tick anyway.
    etag = "" if error_class == ErrorClass.S3_THROTTLED else _etag_of(client, layout, object_key)
    return _unread(object_key, etag, status, error_class, message, opts)


def fetch_object(
    client: Any, layout: BucketLayout, partition_key: str, opts: ProcessingOptions
) -> FetchedObject | DocumentResult:
    """The object behind a partition, or its row when it cannot be read: `skipped` when it is
    gone, too large, archived or a zero-byte folder marker, `failed` when S3 refuses it
    (`bucket.classify_s3_error`). A connection fault mid-body is resumed (`bucket.read_object`)
    before it becomes the object's row."""
    object_key = partition_key
    try:
        resolved = resolve_object_key(client, layout, partition_key)
        if resolved is None:
            message = "object no longer exists"
            return _unread(partition_key, "", Status.SKIPPED, ErrorClass.NOT_FOUND, message, opts)
        object_key = resolved
        read = read_object(client, layout.bucket, object_key, max_bytes=opts.max_file_bytes)
    except (ClientError, BotoCoreError) as exc:
        return _s3_failure(client, layout, object_key, exc, opts)
    if read.data is None:
        limit_mb = opts.max_file_bytes / 1024 / 1024
        message = (
            f"{object_key}: {read.size / 1024 / 1024:.1f} MB exceeds the {limit_mb:g} MB limit"
        )
        return _unread(object_key, read.etag, Status.SKIPPED, ErrorClass.TOO_LARGE, message, opts)
    if object_key.endswith("/") and read.size == 0:
        message = f"{object_key}: a zero-byte folder marker (its key ends in /), not a document"
        return _unread(
            object_key, read.etag, Status.SKIPPED, ErrorClass.FOLDER_MARKER, message, opts
        )
    return FetchedObject(object_key, read.etag, read.data)


def extract_fetched(fetched: FetchedObject, opts: ProcessingOptions) -> DocumentResult:
    """The document's result, read under the per-document time limit (`deadline`)."""
    return extract_within_limit(
        fetched.data,
        document_key=fetched.object_key,
        etag=fetched.etag,
        extractor=opts.extractor,
        passwords=opts.passwords,
        limits=opts.limits,
        code_version=opts.code_version,
    )


def audit_marker(result: DocumentResult, partition_key: str, run_id: str) -> dict[str, Any]:
    """What was done to one object, for auditors: counts and classes, never values."""
    return {
        "document_key": result.document_key,
        "partition_key": partition_key,
        "etag": result.etag,
        "status": str(result.status),
        "error_class": result.error_class,
        "pages": result.pages,
        "truncated": result.truncated,
        "entity_counts": result.entity_counts(),
        "extractor": result.extractor,
        "model": result.model,
        "code_version": result.code_version,
        "cost_usd": result.cost_usd,
        "run_id": run_id,
        "processed_at": result.processed_at,
    }


def _write_result(
    client: Any, layout: BucketLayout, partition_key: str, result: DocumentResult, run_id: str
) -> None:
    put_json(client, layout, layout.result_key(partition_key), result.to_json_dict())
    put_json(
        client,
        layout,
        layout.marker_key(partition_key),
        audit_marker(result, partition_key, run_id),
    )


def record_result(
    client: Any, layout: BucketLayout, partition_key: str, result: DocumentResult, run_id: str
) -> DocumentResult:
    """Write a document's result (under the layout's value policy) and its audit marker, and
    return the row as recorded; never raises for S3.

    When S3 refuses a write after botocore's retries, the document becomes `failed` with the
    write error's class (`s3_throttled`, `access_denied` or `s3_error`; its entities dropped,
    its ETag kept) and that row is written in place of the result, once, as far as S3 lets
    it: the dataset then shows the failure, or, if that write fails too, whatever result was
    stored before (a placeholder when it was for another ETag). The returned row is the failed
    one in either case, so the run's metadata and the next discovery tick see the failure.
    """
    recorded = layout.value_policy.apply(result)
    try:
        _write_result(client, layout, partition_key, recorded, run_id)
        return recorded
    except (ClientError, BotoCoreError) as exc:
        _, error_class = classify_s3_error(exc)
        if error_class not in (ErrorClass.S3_THROTTLED, ErrorClass.ACCESS_DENIED):
            error_class = ErrorClass.S3_ERROR
        failed = unread_result(
            recorded.document_key,
            recorded.etag,
            Status.FAILED,
            error_class,
            f"{recorded.document_key}: its result could not be written: "
            f"{describe_s3_error(exc, 'PutObject')}",
            extractor=recorded.extractor,
            model=recorded.model,
            code_version=recorded.code_version,
        )
    # What it cost was spent all the same.
    failed.cost_usd = recorded.cost_usd
    failed.input_tokens, failed.output_tokens = recorded.input_tokens, recorded.output_tokens
    failed.entity_values = recorded.entity_values
    with contextlib.suppress(ClientError, BotoCoreError):
        _write_result(client, layout, partition_key, failed, run_id)  # as far as S3 lets it
    return failed


# Rows that say only what S3 did with the object, not what it holds: a stored result of this kind
# is replaced by an archived row; any other result for the same ETag (the object was read before
# it was archived) stays, since archiving changes nothing in the content.
_S3_OUTCOMES = frozenset(
    {
        ErrorClass.NOT_FOUND,
        ErrorClass.NOT_YET_PROCESSED,
        ErrorClass.ACCESS_DENIED,
        ErrorClass.S3_THROTTLED,
        ErrorClass.S3_ERROR,
    }
)
# botocore pools 10 connections per client; more threads would only queue for them.
_RECORD_THREADS = 8


def archived_result(info: ObjectInfo, *, code_version: str = "") -> DocumentResult:
    """The `skipped/archived` row of an object the listing shows in an archived storage class."""
    message = (
        f"{info.key}: stored as {info.storage_class}, which must be restored before it can be "
        "read; it is read once its storage class or ETag changes"
    )
    return unread_result(
        info.key,
        info.etag,
        Status.SKIPPED,
        ErrorClass.ARCHIVED,
        message,
        code_version=code_version,
    )


def _record_one_archived(
    client: Any,
    layout: BucketLayout,
    partition_key: str,
    info: ObjectInfo,
    code_version: str,
    run_id: str,
) -> DocumentResult | None:
    stored = get_json(client, layout.bucket, layout.result_key(partition_key))
    if (
        stored is not None
        and stored.get("etag") == info.etag
        and stored.get("error_class") not in _S3_OUTCOMES
    ):
        return None
    return record_result(
        client, layout, partition_key, archived_result(info, code_version=code_version), run_id
    )


def record_archived(
    client: Any,
    layout: BucketLayout,
    objects: Sequence[tuple[str, ObjectInfo]],
    *,
    code_version: str,
    run_id: str,
) -> list[tuple[str, DocumentResult]]:
    """Write the `skipped/archived` result and marker of each `(partition key, object)` whose
    listing shows an archived storage class, without a GET of the object (which would only answer
    InvalidObjectState). Returns the rows written; an object whose stored result for this ETag
    came from reading it before it was archived keeps that result and is not returned.

    `run_id` names what recorded them in the marker (e.g. the discovery sensor). Costs one small
    GET of the stored result and two PUTs per object, eight at a time.
    """
    if not objects:
        return []
    with ThreadPoolExecutor(max_workers=min(_RECORD_THREADS, len(objects))) as pool:
        written = pool.map(
            lambda item: _record_one_archived(client, layout, *item, code_version, run_id),
            objects,
        )
        return [
            (key, result)
            for (key, _), result in zip(objects, written, strict=True)
            if result is not None
        ]


class RunBudget:
    """USD a run may spend, shared by the threads of a run. A document reserves its estimate
    before it starts and settles on what it really spent when it ends; a document that could take
    spending past the limit waits for the documents in flight to settle, and is not started if it
    still does not fit once nothing is in flight."""

    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self._reserved_usd = 0.0
        self._in_flight = 0
        self._changed = threading.Condition()

    def reserve(self, estimate_usd: float) -> bool:
        with self._changed:
            while (
                self.limit_usd is not None
                and self.spent_usd + self._reserved_usd + estimate_usd > self.limit_usd
            ):
                if not self._in_flight:
                    return False
                self._changed.wait()
            self._in_flight += 1
            self._reserved_usd += estimate_usd
            return True

    def settle(self, estimate_usd: float, spent_usd: float) -> None:
        with self._changed:
            self._in_flight -= 1
            self._reserved_usd -= estimate_usd
            self.spent_usd += spent_usd
            self._changed.notify_all()


def _extract_and_record(
    client: Any,
    layout: BucketLayout,
    partition_key: str,
    fetched: FetchedObject,
    opts: ProcessingOptions,
    run_id: str,
) -> DocumentResult:
    return record_result(client, layout, partition_key, extract_fetched(fetched, opts), run_id)


Outcome = tuple[str, DocumentResult | None]


class _Run:
    """The dispatcher and workers of one `process_partitions` call.

    A dispatcher thread walks the keys in order: it fetches the next object, estimates it,
    reserves its cost (waiting for in-flight documents to settle if needed) and hands it to a
    worker once a slot is free. Outcomes go through a queue to the caller's thread, so slow
    bookkeeping there (Dagster metadata) never delays the next start.
    """

    def __init__(
        self,
        client: Any,
        layout: BucketLayout,
        keys: Sequence[str],
        opts: ProcessingOptions,
        run_id: str,
    ) -> None:
        self.client, self.layout, self.keys, self.opts, self.run_id = (
            client,
            layout,
            keys,
            opts,
            run_id,
        )
        self.budget = RunBudget(opts.budget_usd)
        extractor = opts.extractor
        self.estimator = (
            extractor if opts.budget_usd and isinstance(extractor, CostEstimator) else None
        )
        self.workers = max(1, opts.workers)
        self.slots = threading.Semaphore(self.workers)
        self.outcomes: queue.Queue[Outcome | BaseException] = queue.Queue()
        self.cancelled = threading.Event()

    def estimate(self, fetched: FetchedObject) -> float:
        if self.estimator is None:
            return 0.0
        return self.estimator.estimate_document_usd(
            fetched.data, passwords=self.opts.passwords, limits=self.opts.limits
        )

    def work(self, key: str, fetched: FetchedObject, estimate: float) -> None:
        spent = 0.0
        try:
            result = _extract_and_record(
                self.client, self.layout, key, fetched, self.opts, self.run_id
            )
            spent = result.cost_usd
            self.outcomes.put((key, result))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.outcomes.put(exc)
        finally:
            self.budget.settle(estimate, spent)
            self.slots.release()

    def dispatch(self, pool: ThreadPoolExecutor) -> None:
        try:
            for index, key in enumerate(self.keys):
                while not self.slots.acquire(timeout=0.1):
                    if self.cancelled.is_set():
                        return
                if self.cancelled.is_set():
                    return
                fetched = fetch_object(self.client, self.layout, key, self.opts)
                if isinstance(fetched, DocumentResult):  # gone or too large: costs nothing
                    self.slots.release()
                    recorded = record_result(self.client, self.layout, key, fetched, self.run_id)
                    self.outcomes.put((key, recorded))
                    continue
                estimate = self.estimate(fetched)
                if not self.budget.reserve(estimate):
                    self.slots.release()
                    for unstarted in self.keys[index:]:
                        self.outcomes.put((unstarted, None))
                    return
                if self.cancelled.is_set():  # the caller stopped listening while we waited
                    self.budget.settle(estimate, 0.0)
                    self.slots.release()
                    return
                pool.submit(self.work, key, fetched, estimate)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            self.outcomes.put(exc)

    def __iter__(self) -> Iterator[Outcome]:
        with ThreadPoolExecutor(self.workers, "extract") as pool:
            dispatcher = threading.Thread(target=self.dispatch, args=(pool,), name="dispatch")
            dispatcher.start()
            try:
                for _ in self.keys:
                    outcome = self.outcomes.get()
                    if isinstance(outcome, BaseException):
                        raise outcome
                    yield outcome
            finally:
                self.cancelled.set()
                dispatcher.join()


def _sequential(
    client: Any,
    layout: BucketLayout,
    keys: Sequence[str],
    opts: ProcessingOptions,
    run_id: str,
) -> Iterator[Outcome]:
    budget = RunBudget(opts.budget_usd)
    extractor = opts.extractor
    estimator = extractor if opts.budget_usd and isinstance(extractor, CostEstimator) else None
    for index, key in enumerate(keys):
        fetched = fetch_object(client, layout, key, opts)
        if isinstance(fetched, DocumentResult):
            yield key, record_result(client, layout, key, fetched, run_id)
            continue
        estimate = 0.0
        if estimator is not None:
            estimate = estimator.estimate_document_usd(
                fetched.data, passwords=opts.passwords, limits=opts.limits
            )
        if not budget.reserve(estimate):
            yield from ((unstarted, None) for unstarted in keys[index:])
            return
        result = _extract_and_record(client, layout, key, fetched, opts, run_id)
        budget.settle(estimate, result.cost_usd)
        yield key, result


def process_partitions(
    client: Any,
    layout: BucketLayout,
    partition_keys: Sequence[str],
    opts: ProcessingOptions,
    run_id: str,
) -> Iterator[Outcome]:
    """Process partitions, up to `opts.workers` documents at once, yielding `(key, result)` in the
    caller's thread as each finishes, and `(key, None)` for each one not started because the run
    budget could not cover it.

    Documents start in order. Before one starts, its estimated cost is reserved against the
    budget; if it does not fit, the documents in flight are awaited (their real cost replaces
    their estimate) and it is tried again; if it still does not fit with nothing in flight, it and
    every later document are left unstarted: no result, no marker.

    Raises `bucket.PublicOutputError` before anything is read or written when the layout
    requires a private bucket and this one does not block public access.
    """
    require_private_bucket(client, layout)
    if max(1, opts.workers) == 1:
        return _sequential(client, layout, partition_keys, opts, run_id)
    return iter(_Run(client, layout, partition_keys, opts, run_id))
