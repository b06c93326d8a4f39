"""Quality checks on a dataset version's tables, run before the version is published.

Each check reports counts only (never values). A failing blocking check keeps a version from
being committed; the coverage check is a warning, because objects uploaded since the discovery
sensor's last tick cannot be in the version yet.

The entity checks also run per document on the rows a new version takes in (`problem_documents`):
a document whose rows would fail one is quarantined there (rollup.py), so one bad document never
keeps a version from being published. What still blocks is a fault of the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pii_assets.dataset_schema import DOCUMENTS_SCHEMA, ENTITIES_SCHEMA
from pii_assets.models import STATUSES_WITH_ENTITIES


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    blocking: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


COVERAGE_CHECK = "covers_input_prefix"
CHECKS: dict[str, tuple[bool, str]] = {
    "schema_as_documented": (True, "Both tables have exactly the documented schema."),
    "documents_unique": (True, "No document appears twice in `documents`."),
    "entities_unique": (True, "No duplicate entity rows (same document, page, type, text, box)."),
    "entities_reference_ok_documents": (
        True,
        "Every entity belongs to an `ok` or `partial` document.",
    ),
    "pages_within_document": (
        True,
        "Every page number of an entity in the document itself (not an embedded part) is within "
        "the document's page count.",
    ),
    "boxes_normalised": (True, "Every bounding box lies within [0, 1] with x0 <= x1, y0 <= y1."),
    COVERAGE_CHECK: (
        False,
        "Every object under the input prefix appears exactly once in `documents` (objects "
        "uploaded after the last discovery tick are reported, not failed).",
    ),
}


def _outcome(name: str, failures: int, **metadata: Any) -> CheckOutcome:
    blocking, description = CHECKS[name]
    return CheckOutcome(
        name, failures == 0, blocking, description, {"failures": failures, **metadata}
    )


# Checks a single document's entity rows can fail; such a document is quarantined, not the
# version rejected.
PER_DOCUMENT_CHECKS: tuple[str, ...] = (
    "entities_unique",
    "pages_within_document",
    "boxes_normalised",
)
# An entity row is a duplicate when all of these are equal (nulls equal nulls).
ENTITY_IDENTITY: list[str] = [
    "document_key",
    "part",
    "area",
    "page",
    "cell",
    "data_path",
    "char_start",
    "entity_type",
    "text",
    "x0",
    "y0",
    "x1",
    "y1",
]


# Entity rows without any location: only their value tells two of them apart.
_LOCATION_COLUMNS = ("x0", "char_start", "cell", "data_path")
# Value policies under which two different values can read the same (value_policy.py).
_BLIND_POLICIES = ("masked", "none")


def comparable_entities(documents: pa.Table, entities: pa.Table) -> pa.Table:
    """The entity rows the duplicate check can judge: all of them, except rows without any
    location of documents whose values are masked or dropped (`entity_values`), since two
    different values found on the same page read the same there."""
    blind = documents.filter(
        pc.is_in(documents.column("entity_values"), value_set=pa.array(_BLIND_POLICIES))
    ).column("document_key")
    if entities.num_rows == 0 or len(blind) == 0:
        return entities
    unlocated = pc.is_null(entities.column(_LOCATION_COLUMNS[0]))
    for name in _LOCATION_COLUMNS[1:]:
        unlocated = pc.and_(unlocated, pc.is_null(entities.column(name)))
    in_blind = pc.is_in(entities.column("document_key"), value_set=blind.combine_chunks())
    return entities.filter(pc.invert(pc.and_(unlocated, in_blind)))


def _duplicates(table: pa.Table, columns: list[str]) -> int:
    if table.num_rows == 0:
        return 0
    groups = table.group_by(columns, use_threads=False).aggregate([([], "count_all")])
    return table.num_rows - groups.num_rows


def _duplicated_documents(entities: pa.Table) -> pa.ChunkedArray:
    """Document keys with at least one duplicated entity row."""
    if entities.num_rows == 0:
        return pa.chunked_array([], type=pa.string())
    groups = entities.group_by(ENTITY_IDENTITY, use_threads=False).aggregate([([], "count_all")])
    return groups.filter(pc.greater(groups.column("count_all"), 1)).column("document_key")


def problem_documents(documents: pa.Table, entities: pa.Table) -> dict[str, list[str]]:
    """Documents whose entity rows fail a per-document check (`PER_DOCUMENT_CHECKS`), each with
    the names of the checks it fails, in that order. Vectorised: a group-by, a join and two
    masks over the given tables, so its cost follows the rows given (a version's new rows)."""
    joined, _, outside = _page_masks(documents, entities)
    failing = {
        "entities_unique": _duplicated_documents(comparable_entities(documents, entities)),
        "pages_within_document": joined.filter(outside).column("document_key"),
        "boxes_normalised": entities.filter(_bad_box_mask(entities)).column("document_key"),
    }
    problems: dict[str, list[str]] = {}
    for check in PER_DOCUMENT_CHECKS:
        for key in pc.unique(failing[check]).to_pylist():
            problems.setdefault(key, []).append(check)
    return problems


def validate(
    documents: pa.Table,
    entities: pa.Table,
    new_documents: set[str] | None = None,
    *,
    existing_duplicates: int = 0,
) -> list[CheckOutcome]:
    """The checks that need only the tables (all but coverage), cheap enough to run on publish.

    A publish passes the rows it writes: rows kept from a version that passed the checks need no
    second look, which keeps publishing proportional to changes. `existing_duplicates` counts
    documents of these rows that kept rows of the dataset already hold (documents_unique).
    `new_documents` limits the entity checks to those documents' rows.
    """
    if new_documents is not None:
        scope = pa.array(sorted(new_documents), type=pa.string())
        entities = entities.filter(pc.is_in(entities.column("document_key"), value_set=scope))
    outcomes = [
        _outcome(
            "schema_as_documented",
            int(documents.schema != DOCUMENTS_SCHEMA) + int(entities.schema != ENTITIES_SCHEMA),
        ),
        _outcome(
            "documents_unique", _duplicates(documents, ["document_key"]) + existing_duplicates
        ),
        _outcome(
            "entities_unique",
            _duplicates(comparable_entities(documents, entities), ENTITY_IDENTITY),
        ),
    ]
    _, orphans, outside = _page_masks(documents, entities)
    outcomes.append(_outcome("entities_reference_ok_documents", _count(orphans)))
    outcomes.append(_outcome("pages_within_document", _count(outside)))
    outcomes.append(_outcome("boxes_normalised", _count(_bad_box_mask(entities))))
    return outcomes


def _count(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _page_masks(
    documents: pa.Table, entities: pa.Table
) -> tuple[pa.Table, pa.ChunkedArray, pa.ChunkedArray]:
    """The entities joined to their document's page count, and two masks over that join:
    entities without an `ok`/`partial` document, and entities of the document itself whose page
    is outside it (pages of embedded parts are counted within the part, not the document)."""
    with_entities = pc.is_in(
        documents.column("status"), value_set=pa.array(sorted(STATUSES_WITH_ENTITIES))
    )
    ok = documents.filter(with_entities)
    pages = ok.select(["document_key", "pages"]).rename_columns(["document_key", "doc_pages"])
    joined = entities.select(["document_key", "page", "part"]).join(
        pages, keys="document_key", join_type="left outer", use_threads=False
    )
    doc_pages = joined.column("doc_pages")
    page = joined.column("page")
    outside = pc.and_(
        pc.is_null(joined.column("part")),
        pc.or_(pc.less(page, 1), pc.greater(page, doc_pages)),
    )
    return joined, pc.is_null(doc_pages), pc.fill_null(outside, False)


def _bad_box_mask(entities: pa.Table) -> pa.ChunkedArray:
    """Boxes outside [0, 1] or inverted; an entity that could not be located has no box at all,
    by design, and is not counted."""
    x0, y0, x1, y1 = (entities.column(c) for c in ("x0", "y0", "x1", "y1"))
    nulls = [pc.is_null(c) for c in (x0, y0, x1, y1)]
    any_null = pc.or_(pc.or_(nulls[0], nulls[1]), pc.or_(nulls[2], nulls[3]))
    all_null = pc.and_(pc.and_(nulls[0], nulls[1]), pc.and_(nulls[2], nulls[3]))
    lowest = pc.min_element_wise(x0, y0, x1, y1)
    highest = pc.max_element_wise(x0, y0, x1, y1)
    outside = pc.or_(
        pc.or_(pc.less(lowest, 0.0), pc.greater(highest, 1.0)),
        pc.or_(pc.greater(x0, x1), pc.greater(y0, y1)),
    )
    partly_null = pc.and_(any_null, pc.invert(all_null))
    located = pc.invert(any_null)
    return pc.or_(partly_null, pc.and_(located, pc.fill_null(outside, False)))


def coverage(documents: pa.Table, listed_keys: Iterable[str]) -> CheckOutcome:
    """Objects under the input prefix (`listed_keys`) versus the version's documents."""
    listed = set(listed_keys)
    in_table = documents.column("document_key").to_pylist()
    present = set(in_table)
    missing = len(listed - present)
    extra = len(present - listed)
    return _outcome(
        COVERAGE_CHECK,
        missing + extra,
        objects_listed=len(listed),
        missing_from_dataset=missing,
        no_longer_in_bucket=extra,
    )
