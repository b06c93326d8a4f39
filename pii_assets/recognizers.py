"""Offline PII recognizers over a page's words, and the keyword document classifier.

The words become reading-order text with an offset map back to them (`recognition.layout`), so a
match that spans several words or lines ("+1 (415) 555-0132", "DE89 3704 0044 ...") becomes one
entity whose box is the union of those words' boxes. The recognizers themselves live in
`pii_assets.recognition`: e-mail, IP and phone in `patterns`, cards / IBAN / routing / account
numbers in `financial`, SSN / ITIN / passport / driver's licence in `identifiers`, birth dates in
`dates`, street addresses in `addresses`, names in `names`, table columns in `tables`, the page's
language in `language`, classification in `classify`.
"""

from __future__ import annotations

from collections.abc import Sequence

from pii_assets.models import Entity, Word
from pii_assets.recognition.addresses import addresses
from pii_assets.recognition.classify import classify
from pii_assets.recognition.common import Candidate
from pii_assets.recognition.dates import birth_dates, conditional_date
from pii_assets.recognition.financial import bank_accounts, cards, ibans, routing_numbers
from pii_assets.recognition.form_pages import (
    beside_values,
    caption_values,
    fill_blanks,
)
from pii_assets.recognition.identifiers import driver_licenses, passports, ssns
from pii_assets.recognition.language import phone_region
from pii_assets.recognition.layout import PageText
from pii_assets.recognition.names import persons
from pii_assets.recognition.ner import NerBackend
from pii_assets.recognition.patterns import emails, ips, phones

__all__ = ["PageText", "classify", "find_entities", "structured_candidates"]

# On overlap, a checksum- or structure-validated type beats a label-gated one, and both beat a
# phone number, a name or an address: the digits of an SSN or a date can also read as a valid
# phone number, and a labelled account number as a phone too.
_RANK = {
    "BANK_ACCOUNT_NUMBER": 1,
    "DRIVER_LICENSE": 1,
    "US_PASSPORT": 1,
    "PHONE_NUMBER": 2,
    "PERSON": 2,
    "STREET_ADDRESS": 2,
}


def _resolve(candidates: list[Candidate]) -> list[Candidate]:
    ordered = sorted(
        candidates,
        key=lambda c: (_RANK.get(c.entity_type, 0), -c.confidence, c.start - c.end, c.start),
    )
    kept: list[Candidate] = []
    for candidate in ordered:
        if all(candidate.end <= k.start or candidate.start >= k.end for k in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda c: c.start)


def structured_candidates(page_text: PageText, *, ocr: bool = False) -> list[Candidate]:
    """Candidates of the structured, validated and label-gated types (not names or phones),
    claims of malformed values (`Candidate.claim`) included."""
    text = page_text.text
    return [
        *emails(text, ocr=ocr),
        *ssns(text),
        *cards(text),
        *ibans(text),
        *ips(text),
        *birth_dates(text, page_text),
        *routing_numbers(text),
        *bank_accounts(text),
        *passports(text),
        *driver_licenses(text),
        *addresses(text),
    ]


def _claimed_by_another(candidate: Candidate, claims: list[Candidate]) -> bool:
    return any(
        k.entity_type != candidate.entity_type
        and candidate.start < k.end
        and k.start < candidate.end
        for k in claims
    )


def find_entities(
    words: Sequence[Word],
    *,
    page: int,
    source: str,
    default_region: str | None = None,
    min_confidence: float = 0.5,
    ner: NerBackend | None = None,
) -> list[Entity]:
    """PII entities on one page, in reading order, each with the box of the words it covers.

    Phone numbers written without a country code are read in `default_region` (an ISO 3166
    alpha-2 code) when one is given; when it is None, in the region of the page's language
    (`recognition.language`: US for English or an undecided page). Every entity has a confidence
    in [0, 1]; those below `min_confidence` are left out. `ner`, when given, adds the names a
    statistical model finds in running text (`recognition.ner`).
    """
    # A filled or flattened form's page: characters drawn one per comb box read as one word, and
    # values drawn over a printed blank line follow its label.
    page_text = PageText.build(fill_blanks(words))
    text = page_text.text
    if not text:
        return []
    structured = structured_candidates(page_text, ocr=source == "ocr")
    region = default_region or phone_region(text)
    # A region chosen by language still lets US-grouped numbers through ("(415) 555-0132").
    also = None if default_region else "US"
    claims = [c for c in structured if c.claim]
    # Digits recognised as something else, even with too little confidence to keep, are not
    # looked at again as phone numbers; values found either way are not typed again by a caption.
    found_phones = list(phones(text, region, structured, also=also))
    known = [
        c for c in (*structured, *found_phones) if c.confidence >= min_confidence and not c.claim
    ]
    candidates = [
        c
        for c in (
            *structured,
            *found_phones,
            *caption_values(page_text, region, known=known),
            *beside_values(page_text, region, known=known),
            *persons(text, page_text, ocr=source == "ocr"),
            *(ner.find(text) if ner else ()),
        )
        if not c.claim
        and c.confidence >= min_confidence
        and not _claimed_by_another(c, claims)
        # A date printed instructions compare against ("born before ...") is no one's birth date.
        and not (c.entity_type == "DATE_OF_BIRTH" and conditional_date(text, c.start))
    ]
    entities: list[Entity] = []
    for c in _resolve(candidates):
        box = page_text.box(c.start, c.end)
        x0, y0, x1, y1 = box if box else (None, None, None, None)
        entities.append(
            Entity(
                entity_type=c.entity_type,
                # A value wrapped over two lines is written with a space where the line broke.
                text=text[c.start : c.end].replace("\n", " ").replace("\t", " "),
                page=page,
                x0=x0,
                y0=y0,
                x1=x1,
                y1=y1,
                confidence=round(min(max(c.confidence, 0.0), 1.0), 3),
                source=source,
            )
        )
    return entities
