"""A peer's test strings (Presidio's recognizer tests) through our recognizers: agreement floors
per type, and every miss or extra either explained or in the names' domain."""

from __future__ import annotations

import pytest

from bench.eval import peer_strings
from bench.eval.peer_extract import cases_of, deduplicated
from bench.public_corpus import CorpusMissing
from pii_assets.recognizers import find_entities

# Agreement (agree / (agree + miss + extra)) per Presidio type when the floors were set; the cases
# are read from Presidio's fetched repository at a pinned commit, so any drop is a regression.
AGREEMENT_FLOOR = {
    "ABA_ROUTING_NUMBER": 0.5,  # the two bare nine-digit numbers: explained
    "CREDIT_CARD": 1.0,
    "EMAIL_ADDRESS": 1.0,
    "IBAN_CODE": 1.0,
    "IP_ADDRESS": 0.98,  # a five-part dotted number: explained
    "PHONE_NUMBER": 0.96,  # an international number without "+": explained
    "US_ITIN": 1.0,
    "US_PASSPORT": 1.0,
    "US_SSN": 1.0,
    "PERSON": 0.15,  # running-text names need the NER backend (recognition/names.py)
}
# PERSON is the names recognizers' type; its misses are theirs to fix or explain.
STRUCTURED = set(AGREEMENT_FLOOR) - {"PERSON"}


@pytest.fixture(scope="module")
def result() -> peer_strings.PeerResult:
    try:
        return peer_strings.evaluate()
    except CorpusMissing as missing:
        pytest.skip(str(missing))


@pytest.mark.public_corpus
def test_cases_are_the_pinned_presidio_commit(result: peer_strings.PeerResult) -> None:
    assert result.commit == "0aa9f8e44275cb52c00fbbebe19168e934e1f076"
    assert result.cases > 500


@pytest.mark.public_corpus
@pytest.mark.parametrize("peer_type", sorted(AGREEMENT_FLOOR))
def test_agreement_floor(result: peer_strings.PeerResult, peer_type: str) -> None:
    counts = result.by_type()[peer_type]
    assert peer_strings.agreement(counts) >= AGREEMENT_FLOOR[peer_type], dict(counts)


@pytest.mark.public_corpus
def test_structured_disagreements_are_all_explained(result: peer_strings.PeerResult) -> None:
    unexplained = [
        (f.kind, f.peer_type, f.text)
        for f in result.disagreements(explained=False)
        if f.peer_type in STRUCTURED
    ]
    assert unexplained == []
    assert len(result.disagreements(explained=True)) <= peer_strings.MAX_EXPLAINED


@pytest.mark.public_corpus
def test_definition_differences_are_named(result: peer_strings.PeerResult) -> None:
    reasons = {f.reason for f in result.findings if f.kind == "definition"}
    assert reasons <= set(peer_strings.DEFINITIONS)
    # Presidio's DATE_TIME is any date: none of its plain dates is a birth date to us.
    dates = [f for f in result.findings if f.peer_type == "DATE_TIME"]
    assert dates and all(f.kind == "definition" for f in dates)


def test_a_malformed_value_of_one_type_is_reported_as_no_other() -> None:
    case = {
        "file": "t.py",
        "line": 1,
        "text": "BR62 4172 63B0 0281 7000 4519 837C 2",
        "entity_type": "IBAN_CODE",
        "expected_count": 0,
        "expected": [],
    }
    found = find_entities(peer_strings.words_of(case["text"]), page=1, source="text")
    assert peer_strings.score_case(case, found) == []


_SOURCE = """
import pytest

@pytest.fixture(scope="module")
def entities():
    return ["US_SSN"]

@pytest.mark.parametrize(
    "text, expected_len, expected_positions, expected_score_ranges",
    [
        ("078-05-1123", 1, ((0, 11),), ((0.5, 0.6),),),
        ("078051121", 1, ((0, 9),), ((0.0, "max"),),),
        ("000000000", 0, (), (),),
        (f"{1}", 0, (), (),),
    ],
)
def test_ssn(text, expected_len, expected_positions, expected_score_ranges):
    pass
"""


def test_extraction_reads_parametrize_tables_without_running_them() -> None:
    cases = cases_of(_SOURCE, "test_x.py")
    assert [c["text"] for c in cases] == ["078-05-1123", "078051121", "000000000"]
    first = cases[0]
    assert first["entity_type"] == "US_SSN" and first["expected_count"] == 1
    assert first["expected"] == [{"entity_type": "US_SSN", "span": [0, 11], "score": [0.5, 0.6]}]
    assert cases[1]["expected"][0]["score"] == [0.0, 1.0]
    doubled = deduplicated([*cases, {**first, "file": "other.py", "line": 9}])
    assert len(doubled) == 3 and doubled[0]["also"] == ["other.py:9"]
