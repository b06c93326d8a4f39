"""The offline recognizers, split by concern; `pii_assets.recognizers` is their entry point."""
