"""Microsoft Presidio's parametrized recognizer test cases, read from its fetched repository.

`extract_cases()` reads the test files below from the snapshot of github.com/microsoft/presidio
fetched onto this machine (`bench.public_corpus`; nothing of it is committed here), at the pinned
commit, without importing or running them: each `@pytest.mark.parametrize` table is parsed with
`ast` and its literal rows become cases (text, Presidio's entity type, the expected spans or count,
the expected score range). `bench.eval.peer_strings` scores our recognizers on them; `python -m
bench.eval.peer_extract [--commit REV] [--json PATH]` prints or saves them. Rows that are not
literals, and rows of the phone test that set a leniency other than the recognizer's default (1,
`PhoneRecognizer.__init__`), are left out.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any

from bench import public_corpus

# The test files whose entity types we extract (Presidio type in brackets):
TEST_FILES = (
    "test_credit_card_recognizer.py",  # CREDIT_CARD
    "test_email_recognizer.py",  # EMAIL_ADDRESS
    "test_iban_recognizer.py",  # IBAN_CODE
    "test_ip_recognizer.py",  # IP_ADDRESS
    "test_phone_recognizer.py",  # PHONE_NUMBER
    "test_us_ssn_recognizer.py",  # US_SSN
    "test_us_itin_recognizer.py",  # US_ITIN
    "test_us_passport_recognizer.py",  # US_PASSPORT
    "test_us_driver_license_recognizer.py",  # US_DRIVER_LICENSE
    "test_us_bank_recognizer.py",  # US_BANK_NUMBER
    "test_aba_routing_recognizer.py",  # ABA_ROUTING_NUMBER
    "test_date_recognizer.py",  # DATE_TIME
    "test_spacy_recognizer.py",  # PERSON, DATE_TIME
    "test_stanza_recognizer.py",  # PERSON, DATE_TIME
    "test_transformers_recognizer.py",  # PERSON, DATE_TIME
)
TESTS_DIR = "presidio-analyzer/tests"
REPOSITORY = "microsoft/presidio"
# The commit the floors in tests/test_peer_strings.py were set on (2026-07-02; MIT licence).
PINNED_COMMIT = "0aa9f8e44275cb52c00fbbebe19168e934e1f076"
# PhoneRecognizer's default leniency (phonenumbers.Leniency.VALID).
DEFAULT_LENIENCY = 1


def _literal(node: ast.AST) -> Any:
    return ast.literal_eval(node)


def _fixture_entities(tree: ast.Module) -> list[str]:
    """The list returned by the module's `entities` fixture, if any."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "entities":
            for stmt in node.body:
                if isinstance(stmt, ast.Return) and stmt.value is not None:
                    return list(_literal(stmt.value))
    return []


def _parametrize(function: ast.FunctionDef) -> tuple[list[str], ast.List] | None:
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "parametrize"
            and len(decorator.args) >= 2
            and isinstance(decorator.args[1], ast.List)
        ):
            names = [n.strip() for n in _literal(decorator.args[0]).split(",")]
            return names, decorator.args[1]
    return None


def _score_range(value: Any) -> list[float] | None:
    if value is None:
        return None
    low, high = value
    return [float(low), 1.0 if high == "max" else float(high)]


def cases_of(source: str, file: str) -> list[dict[str, Any]]:
    """The literal parametrized cases of one test module."""
    tree = ast.parse(source)
    default_entities = _fixture_entities(tree)
    cases = []
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        found = _parametrize(function)
        if found is None:
            continue
        names, rows = found
        if "expected_len" not in names:
            continue
        for node in rows.elts:
            try:
                row = dict(zip(names, _literal(node), strict=True))
            except (ValueError, TypeError, SyntaxError):
                continue
            if row.get("leniency", DEFAULT_LENIENCY) != DEFAULT_LENIENCY:
                continue
            text = row.get("text", row.get("iban"))
            count = int(row["expected_len"])
            spans = [list(s) for s in row.get("expected_positions", row.get("expected_res", ()))]
            ranges = row.get("expected_score_ranges")
            fixed = row.get("expected_score")  # one score for every result (ABA, US bank)
            entity_list = row.get("entities") or default_entities
            if "entity_num" in row:
                entity_list = [default_entities[row["entity_num"]]] * max(count, 1)
            expected = []
            for index, span in enumerate(spans):
                if ranges:
                    score = _score_range(ranges[index])
                elif fixed is not None and fixed >= 0:
                    score = [float(fixed), float(fixed)]
                else:
                    score = None
                entity_type = entity_list[min(index, len(entity_list) - 1)]
                expected.append({"entity_type": entity_type, "span": span, "score": score})
            cases.append(
                {
                    "file": f"{TESTS_DIR}/{file}",
                    "test": function.name,
                    "line": node.lineno,
                    "text": text,
                    "entity_type": entity_list[0],
                    "expected_count": count,
                    "expected": expected,
                }
            )
    return cases


def deduplicated(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One case per string and expectation: the spaCy, Stanza and transformers tests share their
    PERSON strings, and a string tested twice would count twice. Later sources are listed in
    `also`."""
    kept: dict[str, dict[str, Any]] = {}
    for case in cases:
        key = json.dumps([case["text"], case["expected_count"], case["expected"]])
        if key in kept:
            kept[key].setdefault("also", []).append(f"{case['file']}:{case['line']}")
        else:
            kept[key] = case
    return list(kept.values())


def extract_cases(commit: str = PINNED_COMMIT) -> dict[str, Any]:
    """{"repository", "commit", "cases"} from the fetched repository at `commit`; raises
    `bench.public_corpus.CorpusMissing` when it is not on this machine."""
    cases = []
    for file in TEST_FILES:
        source = public_corpus.read(REPOSITORY, f"{TESTS_DIR}/{file}", commit).decode("utf-8")
        cases += cases_of(source, file)
    return {"repository": REPOSITORY, "commit": commit, "cases": deduplicated(cases)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eval.peer_extract")
    parser.add_argument("--commit", default=PINNED_COMMIT)
    parser.add_argument("--json", help="write the cases here (outside the repository)")
    args = parser.parse_args(argv)
    document = extract_cases(args.commit)
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    if args.json:
        Path(args.json).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
