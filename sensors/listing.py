"""One page of a listing of the input prefix, resumable across ticks (no Dagster here).

The reconciliation pass lists the prefix a page at a time and stores where it stopped: the page's
`NextContinuationToken` and its last key. ListObjectsV2 returns keys in UTF-8 binary order, at
most 1,000 per call (S3 API Reference, "ListObjectsV2"); should a stored token be refused
(S3 does not document how long one stays valid), the pass resumes with `StartAfter` its last key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from pii_assets.bucket import ObjectInfo, error_code, strip_etag


@dataclass(frozen=True)
class Page:
    objects: list[ObjectInfo]
    next_token: str | None  # None: the listing is complete
    last_key: str | None  # the last key S3 returned on this page (documents or not)


def object_info(item: dict[str, Any], prefix: str) -> ObjectInfo | None:
    """A listing entry as an object to discover, or None for what `bucket.list_objects` leaves
    out (the object whose key is the prefix itself: the folder). Keys ending in "/" are objects
    like any other (a zero-byte one becomes a `skipped/folder_marker` row when processed)."""
    key = item["Key"]
    if key == prefix:
        return None
    return ObjectInfo(
        key=key,
        etag=strip_etag(item["ETag"]),
        size=int(item["Size"]),
        storage_class=item.get("StorageClass") or "STANDARD",
    )


def list_objects_page(
    client: Any, bucket: str, prefix: str, token: str | None, after: str | None
) -> Page:
    """The page after `token` (or after key `after` when the token is refused; from the start
    when both are None)."""
    args: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if token:
        args["ContinuationToken"] = token
    elif after:
        args["StartAfter"] = after
    try:
        answer = client.list_objects_v2(**args)
    except ClientError as exc:
        if not token or error_code(exc) != "InvalidArgument":
            raise
        return list_objects_page(client, bucket, prefix, None, after)
    contents = answer.get("Contents", ())
    objects = [info for item in contents if (info := object_info(item, prefix)) is not None]
    next_token = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None
    return Page(objects, next_token, contents[-1]["Key"] if contents else after)


def head_object_info(client: Any, bucket: str, key: str) -> ObjectInfo | None:
    """The object's current version from a HEAD, or None when it is gone."""
    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return ObjectInfo(
        key=key,
        etag=strip_etag(head["ETag"]),
        size=int(head.get("ContentLength", 0)),
        storage_class=head.get("StorageClass") or "STANDARD",
    )
