"""The S3 store's settings read from the environment, its boto3 client and bucket layout, without
Dagster (importing Dagster takes seconds; `pii-pipeline dataset list` must answer in under 2 s).

resources/settings.py builds the Dagster resource (`DocumentStore`) from the same values, and
the resource builds its client and layout with the functions here: one reading of each
variable, one way to build each thing.

Errors are ValueError with a one-line message naming the variable, never a secret's value.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config

from pii_assets.bucket import SSE_ALGORITHMS, BucketLayout, OutputEncryption
from pii_assets.value_policy import MIN_HASH_KEY_BYTES, VALUE_POLICIES, ValuePolicy

# botocore's retry modes worth choosing (botocore docs, "Retries"): `standard` retries throttling,
# 5xx, resets and timeouts with exponential backoff and a retry quota; `adaptive` adds client-side
# rate limiting when S3 throttles. `legacy` is left out: it does not retry every transient error.
RETRY_MODES: tuple[str, ...] = ("standard", "adaptive")
# Fields of `store_values` that stay environment-variable references in the Dagster resource
# (shown by name in the UI), with their defaults.
NAMED_BY_VARIABLE = {
    "bucket": ("PII_S3_BUCKET", "pii-documents"),
    "input_prefix": ("PII_INPUT_PREFIX", "documents/"),
    "output_prefix": ("PII_OUTPUT_PREFIX", "labeled-datasets/"),
    "processed_prefix": ("PII_PROCESSED_PREFIX", "processed/"),
    "results_prefix": ("PII_RESULTS_PREFIX", "extracted/"),
}


def _int(
    environ: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 1,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, got {value}")
    return value


def _float(environ: Mapping[str, str], name: str, *, positive: bool = False) -> float | None:
    """A finite number; at least 0, or above 0 when `positive`. None when unset or empty."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {raw!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'above' if positive else 'at least'} 0, got {value:g}")
    return value


def _choice(environ: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = environ.get(name) or default
    if value not in choices:
        shown = ", ".join(choice or "(empty)" for choice in choices)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")
    return value


def _flag(environ: Mapping[str, str] | None, name: str, default: bool) -> bool:
    """A true/false variable (unset: the default)."""
    env = os.environ if environ is None else environ
    return _choice(env, name, "true" if default else "false", ("true", "false")) == "true"


def _prefix(env: Mapping[str, str], name: str, default: str) -> str:
    """A key prefix: empty (the whole bucket) or ending in "/", so that `documents/` never also
    matches `documents-old/`."""
    value = env.get(name, default)
    if value and not value.endswith("/"):
        raise ValueError(
            f"{name} must end with / (or be empty for the whole bucket), got {value!r}"
        )
    return value


def store_values(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The store's settings as validated plain values, keyed by `DocumentStore` field."""
    env = os.environ if environ is None else environ
    sse = _choice(env, "PII_OUTPUT_SSE", "", ("", *SSE_ALGORITHMS))
    kms_key_id = env.get("PII_OUTPUT_KMS_KEY_ID", "").strip()
    if kms_key_id and sse != "aws:kms":
        raise ValueError("PII_OUTPUT_KMS_KEY_ID needs PII_OUTPUT_SSE=aws:kms")
    entity_values = _choice(env, "PII_ENTITY_VALUES", "raw", VALUE_POLICIES)
    hash_key = env.get("PII_ENTITY_HASH_KEY", "")
    if entity_values == "hashed" and len(hash_key.encode("utf-8")) < MIN_HASH_KEY_BYTES:
        raise ValueError(
            f"PII_ENTITY_VALUES=hashed needs PII_ENTITY_HASH_KEY of at least "
            f"{MIN_HASH_KEY_BYTES} bytes (e.g. 64 hex digits from a secrets manager)"
        )
    return {
        "bucket": env.get("PII_S3_BUCKET", "pii-documents"),
        **{
            field: _prefix(env, name, default)
            for field, (name, default) in NAMED_BY_VARIABLE.items()
            if field != "bucket"
        },
        "retention_days": _int(env, "PII_DATASET_RETENTION_DAYS", 0, minimum=0),
        "retry_mode": _choice(env, "PII_S3_RETRY_MODE", "standard", RETRY_MODES),
        "max_attempts": _int(env, "PII_S3_MAX_ATTEMPTS", 5, minimum=1, maximum=20),
        "connect_timeout_s": _float(env, "PII_S3_CONNECT_TIMEOUT_S", positive=True) or 10.0,
        "read_timeout_s": _float(env, "PII_S3_READ_TIMEOUT_S", positive=True) or 60.0,
        "output_sse": sse,
        "output_kms_key_id": kms_key_id,
        "entity_values": entity_values,
        "entity_hash_key": hash_key,
        "require_private_output": _flag(env, "PII_REQUIRE_PRIVATE_OUTPUT", False),
    }


def s3_client(
    *,
    retry_mode: str = "standard",
    max_attempts: int = 5,
    connect_timeout_s: float = 10.0,
    read_timeout_s: float = 60.0,
    profile_name: str | None = None,
    **client_args: Any,
) -> Any:
    """A boto3 S3 client with botocore's `retry_mode`, attempts and timeouts; `client_args`
    (region_name, endpoint_url, credentials, ...) go to `Session.client`, None meaning boto3's
    own default (e.g. `AWS_ENDPOINT_URL_S3`)."""
    session = boto3.session.Session(profile_name=profile_name)
    return session.client(
        "s3",
        **client_args,
        config=Config(
            # `total_max_attempts` counts the first attempt; botocore's `max_attempts` would
            # count retries only (botocore docs, "Retries": Config options).
            retries={"mode": retry_mode, "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout_s,
            read_timeout=read_timeout_s,
            # SigV4 for presigned URLs too: botocore presigns with SigV2 where a region still
            # accepts it unless told, and S3 serves SSE-KMS objects to SigV4 requests only
            # (S3 User Guide, "Specifying server-side encryption with AWS KMS").
            signature_version="s3v4",
        ),
    )


def bucket_layout(values: Mapping[str, Any]) -> BucketLayout:
    """The layout for `store_values`-shaped values (or a resource's fields)."""
    return BucketLayout(
        bucket=values["bucket"],
        input_prefix=values["input_prefix"],
        output_prefix=values["output_prefix"],
        processed_prefix=values["processed_prefix"],
        results_prefix=values["results_prefix"],
        encryption=OutputEncryption(
            algorithm=values["output_sse"] or None,
            kms_key_id=values["output_kms_key_id"] or None,
        ),
        value_policy=ValuePolicy(
            mode=values["entity_values"], hash_key=values["entity_hash_key"].encode("utf-8")
        ),
        require_private=values["require_private_output"],
    )


def client_and_layout(environ: Mapping[str, str] | None = None) -> tuple[Any, BucketLayout]:
    """The store's client and layout from the environment, for commands that need no Dagster."""
    values = store_values(environ)
    client = s3_client(
        retry_mode=values["retry_mode"],
        max_attempts=values["max_attempts"],
        connect_timeout_s=values["connect_timeout_s"],
        read_timeout_s=values["read_timeout_s"],
    )
    return client, bucket_layout(values)
