"""The one S3 resource: boto3 client configuration from dagster-aws plus the bucket layout."""

from __future__ import annotations

from typing import Any

from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from pii_assets.bucket import BucketLayout


class DocumentStore(S3Resource):
    """Where documents are read from and where results, markers and datasets are written.

    Client settings (endpoint, region, credentials, retries) are dagster-aws's own; left unset,
    boto3 reads its usual variables, e.g. `AWS_ENDPOINT_URL_S3` for an S3-compatible server.
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

    _client: Any = PrivateAttr(default=None)

    def client(self) -> Any:
        """A boto3 S3 client, built once per resource instance (clients are thread-safe)."""
        if self._client is None:
            self._client = self.get_client()
        return self._client

    def layout(self) -> BucketLayout:
        return BucketLayout(
            bucket=self.bucket,
            input_prefix=self.input_prefix,
            output_prefix=self.output_prefix,
            processed_prefix=self.processed_prefix,
            results_prefix=self.results_prefix,
        )
