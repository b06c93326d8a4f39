"""Reading the dataset's published versions: the `_latest.json` pointer, manifests and cards
(JSON and Markdown objects; no pyarrow or deltalake, so `pii-pipeline dataset list` starts fast).
pii_assets/dataset.py writes them and re-exports these names.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pii_assets.bucket import BucketLayout, error_code, get_json, list_objects, read_object

LATEST_POINTER = "_latest.json"
VERSIONS_FOLDER = "versions/"


def version_name(number: int) -> str:
    return f"v{number:06d}"


def version_number(name: str) -> int:
    return int(name.lstrip("v"))


def _key(layout: BucketLayout, name: str) -> str:
    return f"{layout.dataset_prefix}{name}"


def _manifest_key(layout: BucketLayout, version: str) -> str:
    return _key(layout, f"{VERSIONS_FOLDER}{version}.json")


def _card_key(layout: BucketLayout, version: str) -> str:
    return _key(layout, f"{VERSIONS_FOLDER}{version}.md")


def read_manifest(client: Any, layout: BucketLayout, version: str) -> dict[str, Any] | None:
    return get_json(client, layout.bucket, _manifest_key(layout, version))


def _read_if_present(client: Any, layout: BucketLayout, key: str) -> tuple[bytes, str] | None:
    """(body, ETag) of the object at `key`, or None when there is none."""
    try:
        body = read_object(client, layout.bucket, key)
    except ClientError as exc:
        if error_code(exc) in ("NoSuchKey", "404"):
            return None
        raise
    return body.data or b"", body.etag


def read_card(client: Any, layout: BucketLayout, version: str) -> str | None:
    found = _read_if_present(client, layout, _card_key(layout, version))
    return None if found is None else found[0].decode("utf-8")


def _pointer(client: Any, layout: BucketLayout) -> tuple[dict[str, Any] | None, str | None]:
    """`_latest.json` and its ETag (None, None when absent)."""
    found = _read_if_present(client, layout, _key(layout, LATEST_POINTER))
    if found is None:
        return None, None
    return json.loads(found[0]), found[1]


def _is_delta_pointer(pointer: dict[str, Any] | None) -> bool:
    # A pointer of the folder-per-version layout (format 2) names no table version; it is left
    # for `dataset convert` and replaced by the first Delta version.
    return pointer is not None and "documents_version" in pointer


def latest_version(client: Any, layout: BucketLayout) -> str | None:
    """The newest published version, as `_latest.json` names it."""
    pointer, _ = _pointer(client, layout)
    return pointer["version"] if _is_delta_pointer(pointer) else None


def existing_versions(client: Any, layout: BucketLayout) -> list[str]:
    """Versions with a manifest, oldest first (retention removes those it made unreadable)."""
    prefix = _key(layout, VERSIONS_FOLDER)
    names = [
        info.key[len(prefix) : -len(".json")]
        for info in list_objects(client, layout.bucket, prefix)
        if info.key.endswith(".json")
    ]
    return sorted(names, key=version_number)
