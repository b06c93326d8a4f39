"""Asset names, shared by jobs, sensors and tests without importing the asset modules."""

import dagster as dg

DOCUMENT_ASSET = "document_pii"
DATASET_ASSET = "pii_labeled_dataset"
DOCUMENT_ASSET_KEY = dg.AssetKey(DOCUMENT_ASSET)
DATASET_ASSET_KEY = dg.AssetKey(DATASET_ASSET)
# Partitioned like document_pii: redacted copies (pii_assets/redaction_asset.py) and the reviews
# imported from Label Studio (recorded per partition by the review import, pii_assets/review).
REDACTION_ASSET = "redacted_documents"
REVIEWS_ASSET = "document_reviews"
REDACTION_ASSET_KEY = dg.AssetKey(REDACTION_ASSET)
REVIEWS_ASSET_KEY = dg.AssetKey(REVIEWS_ASSET)
