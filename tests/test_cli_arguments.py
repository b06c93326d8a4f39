"""The CLI's argument parsing: a repeated option adds to the earlier ones, never replaces them."""

from __future__ import annotations

import pytest

from pii_pipeline.cli import build_parser


@pytest.mark.parametrize(
    ("argv", "field", "expected"),
    [
        (["redact", "--object", "a", "--object", "b", "c"], "object", ["a", "b", "c"]),
        (["redact", "--partition", "a", "--partition", "b"], "partition", ["a", "b"]),
        (["reprocess", "--object", "a", "--object", "b"], "object", ["a", "b"]),
        (["review", "export", "--document", "a", "--document", "b"], "document", ["a", "b"]),
        (
            ["review", "export", "--entity-type", "PERSON", "--entity-type", "US_SSN"],
            "entity_type",
            ["PERSON", "US_SSN"],
        ),
        (["review", "export"], "document", None),
    ],
)
def test_a_repeated_option_adds_to_the_earlier_ones(argv, field, expected) -> None:
    assert getattr(build_parser().parse_args(argv), field) == expected
