"""A small IAM policy evaluator, for checking the calls the pipeline makes against the policies
under deploy/iam/, and the IAM requests behind the HTTP requests S3 received.

Evaluation follows the IAM User Guide, "Policy evaluation logic", for identity policies alone:
an explicit Deny wins, else an Allow, else the implicit deny. Actions and resources match with
`*` and `?` wildcards (actions case-insensitively); conditions support StringEquals,
StringNotEquals, StringLike and StringNotLike (each also with IfExists), and Null: the keys of a
block are ANDed, the values of a key ORed; a key missing from the request matches only the
negated operators and IfExists ("Condition operators": "If the key ... is not present ... the
condition returns false", and true for the negated operators); `Null: true` matches a missing
key, `Null: false` a present one.

`from_exchanges` maps the HTTP requests the test proxy recorded (tests/s3_faults.py), whoever
made them (boto3, delta-rs's object_store, Polars, DuckDB), to the IAM actions S3 authorizes
them as (S3 User Guide, "Required permissions for Amazon S3 API operations"), with the KMS calls
S3 makes on the caller's behalf.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import defusedxml.ElementTree as ElementTree

from tests.s3_faults import Exchange


@dataclass(frozen=True)
class Request:
    """One action on one resource with its condition context (e.g. `s3:prefix`)."""

    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character, nothing else special."""
    regex = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    flags = re.DOTALL | (0 if case_sensitive else re.IGNORECASE)
    return re.fullmatch(regex, value, flags) is not None


def _operator_matches(operator: str, expected: list[str], actual: str | None) -> bool:
    if operator == "Null":
        return any((value.lower() == "true") == (actual is None) for value in expected)
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    negated = base in ("StringNotEquals", "StringNotLike")
    if actual is None:
        return if_exists or negated
    if base in ("StringEquals", "StringNotEquals"):
        hit = actual in expected
    elif base in ("StringLike", "StringNotLike"):
        hit = any(_like(pattern, actual) for pattern in expected)
    else:
        raise ValueError(f"condition operator {operator} is not supported by this evaluator")
    return not hit if negated else hit


def _conditions_hold(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    return all(
        _operator_matches(operator, [str(v) for v in _as_list(values)], context.get(key))
        for operator, block in conditions.items()
        for key, values in block.items()
    )


def _applies(statement: dict[str, Any], request: Request) -> bool:
    actions = _as_list(statement["Action"])
    resources = _as_list(statement["Resource"])
    return (
        any(_like(a, request.action, case_sensitive=False) for a in actions)
        and any(_like(r, request.resource) for r in resources)
        and _conditions_hold(statement.get("Condition", {}), request.context)
    )


def decide(policy: dict[str, Any], request: Request) -> str:
    """ "Deny" (an explicit Deny applies), "Allow", or "ImplicitDeny"."""
    effects = {s["Effect"] for s in policy["Statement"] if _applies(s, request)}
    if "Deny" in effects:
        return "Deny"
    return "Allow" if "Allow" in effects else "ImplicitDeny"


# Request headers that become condition keys of s3:PutObject (S3 User Guide, "Amazon S3
# condition key examples"; "Enforce conditional writes on Amazon S3 buckets").
_PUT_CONDITION_HEADERS = {
    "x-amz-server-side-encryption": "s3:x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id": "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl": "s3:x-amz-acl",
    "if-none-match": "s3:if-none-match",
    "if-match": "s3:if-match",
}
_KMS_KEY_HEADER = "x-amz-server-side-encryption-aws-kms-key-id"
# Query parameters of ListObjects / ListObjectsV2 (S3 API Reference).
_LIST_PARAMETERS = frozenset(
    {
        "list-type",
        "prefix",
        "delimiter",
        "start-after",
        "continuation-token",
        "max-keys",
        "marker",
        "encoding-type",
        "fetch-owner",
    }
)
# Bucket subresources the pipeline or a reader may ask for, and their actions.
_BUCKET_READS = {
    "publicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "location": "s3:GetBucketLocation",
}


def _deleted_keys(body: bytes) -> list[str]:
    """The keys of a DeleteObjects request body (`<Delete><Object><Key>…`)."""
    root = ElementTree.fromstring(body)
    return [element.text or "" for element in root.iter() if element.tag.endswith("Key")]


def _object_requests(exchange: Exchange, bucket: str, via: dict[str, str]) -> list[Request]:
    arn = f"{bucket}/{exchange.key}"
    method, query = exchange.method, exchange.query
    answered = exchange.status is not None and 200 <= exchange.status < 300
    used_key = exchange.response_header(_KMS_KEY_HEADER) if answered else None
    if method in ("GET", "HEAD") and not ({"acl", "tagging", "uploadId"} & set(query)):
        out = [Request("s3:GetObject", arn)]
        # Reading an SSE-KMS object: S3 decrypts its data key with the caller's kms:Decrypt.
        return out + ([Request("kms:Decrypt", used_key, via)] if used_key else [])
    if method == "DELETE":
        action = "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"
        return [Request(action, arn)]
    if method == "PUT" and ({"acl", "tagging"} & set(query)):
        return [Request("s3:PutObjectAcl" if "acl" in query else "s3:PutObjectTagging", arn)]
    if method in ("PUT", "POST"):  # PutObject, CopyObject, and the steps of a multipart upload
        context = {
            key: value
            for header, key in _PUT_CONDITION_HEADERS.items()
            if (value := exchange.header(header)) is not None
        }
        for header in exchange.headers:
            if header.lower().startswith("x-amz-grant-"):
                context["s3:" + header.lower()] = exchange.headers[header]
        out = [Request("s3:PutObject", arn, context)]
        source = exchange.header("x-amz-copy-source")
        if source:
            out.append(Request("s3:GetObject", "arn:aws:s3:::" + source.lstrip("/")))
        if used_key:
            # Writing with SSE-KMS: S3 asks KMS for a data key; a multipart upload also
            # decrypts it for each part (S3 User Guide, "Using SSE-KMS": permissions).
            out.append(Request("kms:GenerateDataKey", used_key, via))
            if "uploadId" in query or "uploads" in query:
                out.append(Request("kms:Decrypt", used_key, via))
        return out
    raise AssertionError(f"no IAM mapping for {method} {exchange.key}?{'&'.join(query)}")


def from_exchanges(exchanges: Iterable[Exchange], region: str = "us-east-1") -> list[Request]:
    """The IAM requests S3 authorizes for these HTTP requests (path-style), in order, each
    with its condition context; KMS requests S3 makes on the caller's behalf are added from the
    answers (`x-amz-server-side-encryption-aws-kms-key-id`), via `s3.<region>.amazonaws.com`.
    Requests faulted before S3 saw them count too: the client made them. Raises AssertionError
    for a request this mapping does not know, so a new kind of call cannot pass unchecked."""
    via = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
    out: list[Request] = []
    for exchange in exchanges:
        bucket = f"arn:aws:s3:::{exchange.bucket}"
        if exchange.key:
            out.extend(_object_requests(exchange, bucket, via))
            continue
        query = exchange.query
        if exchange.method == "POST" and "delete" in query:
            out.extend(
                Request("s3:DeleteObject", f"{bucket}/{key}")
                for key in _deleted_keys(exchange.body)
            )
        elif exchange.method == "GET" and (subresource := set(query) & set(_BUCKET_READS)):
            out.append(Request(_BUCKET_READS[subresource.pop()], bucket))
        elif exchange.method in ("GET", "HEAD") and not (set(query) - _LIST_PARAMETERS):
            # ListObjects(V2), and HeadBucket (also authorized as s3:ListBucket); `s3:prefix`
            # is in the context only when the request names a prefix.
            context = {"s3:prefix": query["prefix"]} if "prefix" in query else {}
            out.append(Request("s3:ListBucket", bucket, context))
        else:
            raise AssertionError(f"no IAM mapping for {exchange.method} /{exchange.bucket}?{query}")
    return out
