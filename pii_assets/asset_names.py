"""Asset names, shared by jobs, sensors and tests without importing the asset modules."""

import dagster as dg

DOCUMENT_ASSET = "document_pii"
DATASET_ASSET = "pii_labeled_dataset"
DOCUMENT_ASSET_KEY = dg.AssetKey(DOCUMENT_ASSET)
DATASET_ASSET_KEY = dg.AssetKey(DATASET_ASSET)
