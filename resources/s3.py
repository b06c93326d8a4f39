"""The one S3 resource: the boto3 client (dagster-aws's settings plus retries and timeouts) and
the bucket layout: prefixes, server-side encryption, value policy and the private-bucket guard."""

from __future__ import annotations

from typing import Any

from dagster_aws.s3 import S3Resource
from dagster_aws.s3.utils import disable_signing
from pydantic import Field, PrivateAttr

from pii_assets.bucket import BucketLayout
from resources.store_env import NAMED_BY_VARIABLE, RETRY_MODES, bucket_layout, s3_client

__all__ = ["RETRY_MODES", "DocumentStore"]

_LAYOUT_FIELDS = (
    "output_sse",
    "output_kms_key_id",
    "entity_values",
    "entity_hash_key",
    "require_private_output",
)


class DocumentStore(S3Resource):
    """Where documents are read from and where results, markers and datasets are written.

    Client settings (endpoint, region, credentials) are dagster-aws's own; left unset, boto3
    reads its usual variables, e.g. `AWS_ENDPOINT_URL_S3` for an S3-compatible server. Retries
    use botocore's `retry_mode` with `max_attempts` attempts per call (the first one included);
    a body that breaks mid-stream is resumed within as many attempts (`bucket.read_object`).
    """

    bucket: str = Field(default="pii-documents", description="Bucket holding input and output.")
    input_prefix: str = Field(default="documents/", description="Where documents are discovered.")
    output_prefix: str = Field(
        default="labeled-datasets/", description="Where dataset versions are written."
    )
    processed_prefix: str = Field(
        default="processed/", description="Per-document JSON audit markers (no PII values)."
    )
    results_prefix: str = Field(
        default="extracted/", description="Per-document extraction results (entities included)."
    )

    retention_days: int = Field(
        default=0,
        description="Days for which every dataset version stays readable (Delta time travel); "
        "older data files are vacuumed after a publish (0 keeps every version).",
    )

    retry_mode: str = Field(
        default="standard",
        description="botocore retry mode: standard, or adaptive (also rate-limits the client).",
    )
    connect_timeout_s: float = Field(
        default=10.0, description="Seconds to open a connection before the attempt is retried."
    )
    read_timeout_s: float = Field(
        default=60.0, description="Seconds without a byte from S3 before the attempt is retried."
    )

    output_sse: str = Field(
        default="",
        description="Server-side encryption of written objects: AES256, aws:kms, or empty for "
        "the bucket's default encryption.",
    )
    output_kms_key_id: str = Field(
        default="", description="KMS key (id, ARN or alias) for output_sse aws:kms."
    )
    entity_values: str = Field(
        default="raw",
        description="What results and the entities table keep of each value: raw, masked, "
        "hashed or none.",
    )
    entity_hash_key: str = Field(
        default="",
        description="HMAC key for entity_values hashed (secret, 32+ bytes).",
        repr=False,  # never in a repr, a log line or an exception message
    )
    require_private_output: bool = Field(
        default=False,
        description="Refuse to write results or publish unless the bucket blocks public access.",
    )

    _client: Any = PrivateAttr(default=None)

    def get_client(self) -> Any:
        """A boto3 S3 client with dagster-aws's client settings, botocore's `retry_mode` and the
        connect and read timeouts (`store_env.s3_client`)."""
        client = s3_client(
            retry_mode=self.retry_mode,
            max_attempts=self.max_attempts,
            connect_timeout_s=self.connect_timeout_s,
            read_timeout_s=self.read_timeout_s,
            profile_name=self.profile_name,
            region_name=self.region_name,
            use_ssl=self.use_ssl,
            verify=self.verify,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
        )
        if self.use_unsigned_session:
            client.meta.events.register("choose-signer.s3.*", disable_signing)
        return client

    def client(self) -> Any:
        """A boto3 S3 client, built once per resource instance (clients are thread-safe)."""
        if self._client is None:
            self._client = self.get_client()
        return self._client

    def layout(self) -> BucketLayout:
        return bucket_layout(
            {name: getattr(self, name) for name in (*NAMED_BY_VARIABLE, *_LAYOUT_FIELDS)}
        )
