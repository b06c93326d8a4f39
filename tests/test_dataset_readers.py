"""The published tables read with other tools' own Delta readers, as the README shows: pandas
(through deltalake), Polars and DuckDB (its `delta` extension), against the real S3 server."""

from __future__ import annotations

import glob
import os
from urllib.parse import urlparse

import duckdb
import polars as pl
from deltalake import DeltaTable

from pii_assets.dataset import build_tables, publish_version
from pii_assets.dataset_tables import location
from tests.test_dataset import result


def _published(store) -> tuple[str, dict[str, str]]:
    client, layout = store.client(), store.layout()
    publish_version(client, layout, *build_tables([("a", result("a", 2))]), code_version="t")
    publish_version(
        client,
        layout,
        *build_tables([("a", result("a", 2)), ("b", result("b", 3))]),
        code_version="t",
    )
    return f"s3://{store.bucket}/{layout.dataset_prefix}", location(client, layout).storage_options


def test_pandas_and_polars_read_latest_and_older_versions(store) -> None:
    root, options = _published(store)
    entities = DeltaTable(root + "entities", storage_options=options).to_pandas()
    assert len(entities) == 5 and set(entities["entity_type"]) == {"EMAIL_ADDRESS"}
    first = DeltaTable(root + "documents", version=1, storage_options=options).to_pandas()
    assert list(first["document_key"]) == ["documents/a"]

    documents = pl.read_delta(root + "documents", storage_options=options)
    assert sorted(documents["document_key"].to_list()) == ["documents/a", "documents/b"]
    old = pl.read_delta(root + "entities", version=1, storage_options=options)
    assert old.height == 2


def test_duckdb_reads_the_tables_with_its_delta_extension(store) -> None:
    import duckdb_extension_delta
    import duckdb_extension_httpfs

    root, options = _published(store)
    endpoint = urlparse(options["AWS_ENDPOINT_URL"])
    con = duckdb.connect()
    # The extensions come as Python packages here (no download at run time); elsewhere
    # `INSTALL delta; LOAD delta;` does the same.
    for package in (duckdb_extension_httpfs, duckdb_extension_delta):
        (path,) = glob.glob(
            os.path.join(os.path.dirname(package.__file__), "extensions", "*", "*.duckdb_extension")
        )
        con.execute(f"LOAD '{path}'")
    con.execute(
        "CREATE SECRET local_s3 (TYPE S3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, "
        "URL_STYLE 'path', USE_SSL false)",
        [
            options["AWS_ACCESS_KEY_ID"],
            options["AWS_SECRET_ACCESS_KEY"],
            options["AWS_REGION"],
            endpoint.netloc,
        ],
    )
    rows = con.execute(
        f"SELECT entity_type, count(*) FROM delta_scan('{root}entities') GROUP BY 1"
    ).fetchall()
    assert rows == [("EMAIL_ADDRESS", 5)]
    (count,) = con.execute(f"SELECT count(*) FROM delta_scan('{root}documents')").fetchone()
    assert count == 2
