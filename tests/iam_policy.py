"""A small IAM policy evaluator, for checking the calls the pipeline makes against the policies
under deploy/iam/, and a recorder of those calls (botocore event hooks).

Evaluation follows the IAM User Guide, "Policy evaluation logic", for identity policies alone:
an explicit Deny wins, else an Allow, else the implicit deny. Actions and resources match with
`*` and `?` wildcards (actions case-insensitively); conditions support StringEquals,
StringNotEquals, StringLike and StringNotLike (each also with IfExists): the keys of a block are
ANDed, the values of a key ORed; a key missing from the request matches only the negated
operators and IfExists ("Condition operators": "If the key ... is not present ... the
condition returns false", and true for the negated operators).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


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


class CallRecorder:
    """Records each S3 call a boto3 client makes, as IAM requests (`requests`), through
    botocore's `before-parameter-build` and `after-call` events. KMS calls S3 makes on the
    caller's behalf are added the way S3 makes them (S3 User Guide, "Using server-side
    encryption with AWS KMS keys"): `kms:GenerateDataKey` for a PUT with SSE-KMS, `kms:Decrypt`
    for a GET or HEAD of an SSE-KMS object, both via `s3.<region>.amazonaws.com`."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-parameter-build.s3", self._before)
        client.meta.events.register("after-call.s3", self._after)
        return client

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any):
        call = {"operation": model.name, "params": dict(params), "response": {}}
        context["recorded_call"] = call
        self.calls.append(call)

    def _after(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("recorded_call")
        if call is not None:
            call["response"] = parsed

    def requests(self, region: str = "us-east-1") -> list[Request]:
        out: list[Request] = []
        via = {"kms:ViaService": f"s3.{region}.amazonaws.com"}
        for call in self.calls:
            op, params, response = call["operation"], call["params"], call["response"]
            bucket = f"arn:aws:s3:::{params['Bucket']}"
            if op == "ListObjectsV2":
                out.append(
                    Request("s3:ListBucket", bucket, {"s3:prefix": params.get("Prefix", "")})
                )
            elif op in ("GetObject", "HeadObject"):
                out.append(Request("s3:GetObject", f"{bucket}/{params['Key']}"))
                if response.get("SSEKMSKeyId"):
                    out.append(Request("kms:Decrypt", response["SSEKMSKeyId"], via))
            elif op == "PutObject":
                context = {}
                if params.get("ServerSideEncryption"):
                    context["s3:x-amz-server-side-encryption"] = params["ServerSideEncryption"]
                if params.get("SSEKMSKeyId"):
                    key = params["SSEKMSKeyId"]
                    context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = key
                    out.append(Request("kms:GenerateDataKey", key, via))
                if params.get("ACL"):
                    context["s3:x-amz-acl"] = params["ACL"]
                out.append(Request("s3:PutObject", f"{bucket}/{params['Key']}", context))
            elif op == "DeleteObjects":
                for item in params["Delete"]["Objects"]:
                    out.append(Request("s3:DeleteObject", f"{bucket}/{item['Key']}"))
            elif op == "GetPublicAccessBlock":
                out.append(Request("s3:GetBucketPublicAccessBlock", bucket))
            else:
                raise AssertionError(f"no IAM mapping for S3 {op}: add it here and to the policy")
        return out
