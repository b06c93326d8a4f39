"""A peer's test strings: Microsoft Presidio's parametrized recognizer tests, run through ours.

The cases (read by `bench.eval.peer_extract` from Presidio's repository fetched onto this
machine, at a pinned commit; nothing of it is committed here) are strings with the values
Presidio's tests expect its recognizers to find. Each string is laid out as a one-line page
(monospaced words) and read by `find_entities`, exactly as a text-layer page is. Every expected
value and every value we report is then one of:

- `agree`: we report the value Presidio expects, with the same type and the same characters;
- `miss`: a value Presidio expects that we do not report ("a value we miss");
- `extra`: a value we report that the string does not hold ("a non-value we report"), including a
  fragment of a malformed value reported as another type; values of our types the peer's test does
  not speak about (the phone number in an IBAN test's sentence) are listed in `OTHER_VALUES`;
- `definition`: the two definitions differ, for a reason named in `DEFINITIONS`: Presidio's
  DATE_TIME is any date, our DATE_OF_BIRTH only a birth date; Presidio expects a score below 0.5
  (its tests call these "weak" or "very weak" matches), under the minimum confidence at which we
  report anything; Presidio puts a courtesy title inside a PERSON span.

Misses and extras we keep on purpose are listed in `EXPLAINED` with the reason (docs/recognizers.md,
"Peer test strings"); `make eval` reports them apart from the unexplained ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rich.table import Table

from bench.eval.peer_extract import PINNED_COMMIT, extract_cases
from pii_assets.models import Entity, Word
from pii_assets.recognizers import find_entities

# Presidio's entity types onto ours (None: a type we do not extract; its cases are left out).
TYPE_MAP: dict[str, str | None] = {
    "CREDIT_CARD": "CREDIT_CARD",
    "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS",
    "PHONE_NUMBER": "PHONE_NUMBER",
    "US_SSN": "US_SSN",
    "US_ITIN": "US_ITIN",
    "US_PASSPORT": "US_PASSPORT",
    "US_DRIVER_LICENSE": "DRIVER_LICENSE",
    "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER",
    "ABA_ROUTING_NUMBER": "ABA_ROUTING_NUMBER",
    "PERSON": "PERSON",
    "DATE_TIME": "DATE_OF_BIRTH",
}

# Presidio reports these with a score under our minimum confidence: not a value at 0.5.
WEAK_SCORE = 0.5
_TITLE = re.compile(r"^(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?\s+")

DEFINITIONS = {
    "date_time": "Presidio's DATE_TIME is any date or time; our DATE_OF_BIRTH is a birth date only",
    "weak": "Presidio expects a score below 0.5 (a weak match); we report nothing under 0.5",
    "title": "Presidio's PERSON span includes the courtesy title; ours is the name only",
}

# Cases are named by where they are in Presidio's tests at PINNED_COMMIT ("file:line"), never
# by their strings: nothing fetched is committed (the library's rule); strings are read at run time.
_T = "presidio-analyzer/tests/"

# Values of our types that a peer's string holds but its test does not speak about:
# (case, our type).
OTHER_VALUES: frozenset[tuple[str, str]] = frozenset(
    {
        # an IBAN test's sentence naming a restaurant with its street address and phone number
        (f"{_T}test_iban_recognizer.py:384", "PHONE_NUMBER"),
        (f"{_T}test_iban_recognizer.py:384", "STREET_ADDRESS"),
    }
)

# Disagreements kept on purpose: (Presidio type, case) -> why. docs/recognizers.md, "Peer test
# strings", says the same.
_BARE_ROUTING = (
    "nine bare digits pass the ABA checksum one time in ten: a routing number needs its label "
    '("Routing number", "ABA", "RTN") or the printed XXXX-YYYY-C form'
)
EXPLAINED: dict[tuple[str, str], str] = {
    ("ABA_ROUTING_NUMBER", f"{_T}test_aba_routing_recognizer.py:22"): _BARE_ROUTING,
    ("ABA_ROUTING_NUMBER", f"{_T}test_aba_routing_recognizer.py:26"): _BARE_ROUTING,
    ("IP_ADDRESS", f"{_T}test_ip_recognizer.py:299"): (
        'five dot-separated numbers are a version or OID string, not an address and a stray ".1"'
    ),
    ("PHONE_NUMBER", f"{_T}test_phone_recognizer.py:61"): (
        'an Indian number written with its country code but neither "+" nor "00", and no phone '
        "label before it: national numbers are read in one region (the page language's or "
        "PII_PHONE_REGION), others only after a phone label"
    ),
}
# Kept with the NER backend only: the statistical model's own reading.
EXPLAINED_WITH_NER: dict[tuple[str, str], str] = {
    ("IBAN_CODE", f"{_T}test_iban_recognizer.py:384"): (
        "the statistical model reads a restaurant's possessive name as a person"
    ),
}
# A name the rules do not find that the NER backend does (a name in running text with no label,
# title or salutation): explained by the backend being optional.
NEEDS_NER = (
    "a name in running text with no label, title, salutation or signature: the NER backend "
    "(PII_NER_BACKEND) finds it, the rule-based recognizers do not"
)
# At most this many misses and extras may be left, each explained (issue 11's target).
MAX_EXPLAINED = 10


@dataclass(frozen=True)
class Finding:
    """One expected or reported value and what became of it."""

    kind: str  # agree, miss, extra, definition
    peer_type: str  # Presidio's type of the case
    entity_type: str  # our type of the value
    text: str  # the whole test string (public test data, not a document's content)
    value: str
    reason: str = ""  # definition key, or the explanation of a kept miss/extra
    source: str = ""  # file:line of the case in Presidio's repository


@dataclass
class PeerResult:
    commit: str
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)

    def by_type(self) -> dict[str, Counter[str]]:
        """Per Presidio type: counts of agree / miss / extra / definition / explained."""
        table: dict[str, Counter[str]] = {}
        for f in self.findings:
            counts = table.setdefault(f.peer_type, Counter())
            counts[f.kind] += 1
            if f.kind in ("miss", "extra") and f.reason:
                counts["explained"] += 1
        return dict(sorted(table.items()))

    def disagreements(self, *, explained: bool | None = None) -> list[Finding]:
        """Misses and extras; `explained` True/False keeps only those with/without a reason."""
        found = [f for f in self.findings if f.kind in ("miss", "extra")]
        if explained is None:
            return found
        return [f for f in found if bool(f.reason) == explained]


def words_of(text: str) -> list[Word]:
    """The string as a page: one line per text line, monospaced words (1/100 page wide each)."""
    words = []
    char, height = 0.008, 0.02
    for number, line in enumerate(text.replace("\r", " ").split("\n")):
        for m in re.finditer(r"\S+", line):
            x0 = m.start() * char
            y0 = number * height * 1.5
            words.append(
                Word(m[0], x0, y0, x0 + len(m[0]) * char, y0 + height, block=0, line=number)
            )
    return words


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _overlaps(a: str, b: str) -> bool:
    a, b = " ".join(a.split()), " ".join(b.split())
    return a in b or b in a


def score_case(case: dict[str, Any], found: Sequence[Entity]) -> list[Finding]:
    """The findings of one case, given what we report on its string."""
    text = case["text"]
    peer_type = case["entity_type"]
    ours = TYPE_MAP.get(peer_type)
    source = f"{case['file']}:{case['line']}"
    if ours is None:
        return []
    reported = [e for e in found if e.entity_type == ours]
    used: set[int] = set()
    findings: list[Finding] = []

    def take(value: str, same: bool = True) -> bool:
        for index, entity in enumerate(reported):
            if index not in used and (
                _same(entity.text, value) if same else _overlaps(entity.text, value)
            ):
                used.add(index)
                return True
        return False

    def finding(kind: str, value: str, reason: str = "", entity_type: str = ours) -> Finding:
        if kind in ("miss", "extra") and not reason:
            reason = EXPLAINED.get((peer_type, source), "")
        return Finding(kind, peer_type, entity_type, text, value, reason, source)

    expected = case["expected"]
    for item in expected:
        start, end = item["span"]
        value = text[start:end]
        score = item["score"]
        if take(value):
            findings.append(finding("agree", value))
        elif peer_type == "DATE_TIME":
            findings.append(finding("definition", value, "date_time"))
        elif score is not None and score[1] < WEAK_SCORE:
            findings.append(finding("definition", value, "weak"))
        elif peer_type == "PERSON" and _TITLE.match(value) and take(_TITLE.sub("", value)):
            findings.append(finding("definition", value, "title"))
        else:
            findings.append(finding("miss", value))
    # Counted, not located: the test gives how many, not where.
    for _ in range(case["expected_count"] - len(expected)):
        if len(used) < len(reported):
            used.add(min(set(range(len(reported))) - used))
            findings.append(finding("agree", ""))
        else:
            findings.append(finding("miss", ""))
    for index, entity in enumerate(reported):
        if index not in used:
            findings.append(finding("extra", entity.text))
    for entity in found:
        if entity.entity_type == ours:
            continue
        if (source, entity.entity_type) in OTHER_VALUES:
            continue
        findings.append(finding("extra", entity.text, entity_type=entity.entity_type))
    return findings


def load_cases(commit: str = PINNED_COMMIT) -> tuple[str, list[dict[str, Any]]]:
    """(commit, cases); raises `bench.public_corpus.CorpusMissing` when Presidio's repository has
    not been fetched onto this machine."""
    document = extract_cases(commit)
    return document["commit"], document["cases"]


def evaluate(commit: str = PINNED_COMMIT, **options: Any) -> PeerResult:
    """Run `find_entities` on every case string (`options` go to it, `ner` included) and classify
    the values."""
    commit, cases = load_cases(commit)
    result = PeerResult(commit=commit)
    for case in cases:
        if TYPE_MAP.get(case["entity_type"]) is None:
            continue
        result.cases += 1
        found = find_entities(words_of(case["text"]), page=1, source="text", **options)
        findings = score_case(case, found)
        if options.get("ner") is not None:
            findings = [
                replace(f, reason=EXPLAINED_WITH_NER.get((f.peer_type, f.source), ""))
                if f.kind in ("miss", "extra") and not f.reason
                else f
                for f in findings
            ]
        result.findings += findings
    return result


def explained_by_ner(offline: PeerResult, with_ner: PeerResult) -> PeerResult:
    """`offline` with each PERSON miss that `with_ner` agrees on explained as `NEEDS_NER`."""
    found = {(f.source, f.value) for f in with_ner.findings if f.kind == "agree"}
    return PeerResult(
        offline.commit,
        offline.cases,
        [
            replace(f, reason=NEEDS_NER)
            if f.kind == "miss" and f.peer_type == "PERSON" and (f.source, f.value) in found
            else f
            for f in offline.findings
        ],
    )


def agreement(counts: Counter[str]) -> float:
    """Share of values both sides agree on, among those not set apart as definition
    differences."""
    judged = counts["agree"] + counts["miss"] + counts["extra"]
    return counts["agree"] / judged if judged else 1.0


def as_dict(result: PeerResult) -> dict[str, Any]:
    """Figures for `make eval`'s JSON: per type counts, and every disagreement (the strings are
    Presidio's public test data, not document content)."""
    return {
        "repository": "microsoft/presidio",
        "commit": result.commit,
        "cases": result.cases,
        "by_type": {
            t: {**dict(c), "agreement": round(agreement(c), 4)} for t, c in result.by_type().items()
        },
        "disagreements": [
            {
                "kind": f.kind,
                "presidio_type": f.peer_type,
                "our_type": f.entity_type,
                "text": f.text,
                "value": f.value,
                "explanation": f.reason,
                "source": f.source,
            }
            for f in result.disagreements()
        ],
    }


def checks(result: PeerResult, label: str = "") -> list[dict[str, Any]]:
    """Target rows for `make eval`: no unexplained miss or extra, and at most `MAX_EXPLAINED`
    explained ones. `label` names the configuration ("with NER backend ...")."""
    unexplained = len(result.disagreements(explained=False))
    explained = len(result.disagreements(explained=True))
    suffix = f" ({label})" if label else ""
    return [
        {
            "figure": f"peer strings: misses and extras not explained{suffix}",
            "value": float(unexplained),
            "target": 0.0,
            "met": unexplained == 0,
        },
        {
            "figure": f"peer strings: explained misses and extras{suffix}",
            "value": float(explained),
            "target": float(MAX_EXPLAINED),
            "met": explained <= MAX_EXPLAINED,
        },
    ]


def table(result: PeerResult, label: str = "") -> Table:
    """Agreement per Presidio type, and what the disagreements are."""
    suffix = f", {label}" if label else ""
    out = Table(
        title=f"peer test strings: Presidio {result.commit[:10]} ({result.cases} cases{suffix})"
    )
    for column in ("Presidio type", "ours", "agree", "miss", "extra", "definition", "explained"):
        out.add_column(column, justify="left" if "type" in column or column == "ours" else "right")
    out.add_column("agreement", justify="right")
    for peer_type, counts in result.by_type().items():
        out.add_row(
            peer_type,
            TYPE_MAP.get(peer_type) or "-",
            *(str(counts[k]) for k in ("agree", "miss", "extra", "definition", "explained")),
            f"{agreement(counts):.3f}",
        )
    return out


def disagreement_table(result: PeerResult, label: str = "") -> Table:
    suffix = f" ({label})" if label else ""
    out = Table(
        title="peer test strings: misses (values we miss) and extras (non-values we report)"
        + suffix
    )
    for column in ("kind", "Presidio type", "our type", "string", "value", "explanation"):
        out.add_column(column)
    for f in result.disagreements():
        out.add_row(f.kind, f.peer_type, f.entity_type, f.text, f.value, f.reason or "[red]none")
    return out
