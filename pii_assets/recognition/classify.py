"""Document classification into the shared taxonomy from weighted keywords, with a score."""

from __future__ import annotations

import re

# Keywords per class with weights: a document title word counts more than a generic term.
_CLASS_KEYWORDS: dict[str, dict[str, float]] = {
    "invoice": {
        "invoice": 2,
        "bill to": 1,
        "amount due": 1,
        "total due": 1,
        "subtotal": 1,
        "due date": 1,
        "unit price": 1,
        "payment terms": 1,
        "vat": 0.5,
        "qty": 0.5,
    },
    "bank_statement": {
        "account statement": 2,
        "bank statement": 2,
        "statement period": 1.5,
        "opening balance": 1,
        "closing balance": 1,
        "available balance": 1,
        "transactions": 0.5,
        "iban": 0.5,
    },
    "payslip": {
        "payslip": 2,
        "pay slip": 2,
        "pay stub": 2,
        "earnings statement": 2,
        "gross pay": 1,
        "net pay": 1,
        "pay period": 1,
        "deductions": 1,
        "payroll": 0.5,
        "year to date": 0.5,
    },
    "tax_form": {
        "tax return": 2,
        "form w-2": 2,
        "form 1040": 2,
        "form 1099": 2,
        "w-9": 1.5,
        "internal revenue service": 1.5,
        "taxable income": 1,
        "tax year": 1,
        "withholding": 1,
        "adjusted gross income": 1,
    },
    "id_document": {
        "passport": 2,
        "driver's license": 2,
        "driver license": 2,
        "identity card": 2,
        "date of issue": 1,
        "date of expiry": 1,
        "expiration date": 0.5,
        "nationality": 1,
        "place of birth": 1,
    },
    "medical_record": {
        "medical record": 2,
        "patient": 1.5,
        "diagnosis": 1,
        "medication": 1,
        "prescription": 1,
        "physician": 1,
        "allergies": 1,
        "blood pressure": 1,
        "clinic": 0.5,
        "hospital": 0.5,
    },
    "contract": {
        "agreement": 2,
        "hereinafter": 1.5,
        "in witness whereof": 1.5,
        "terms and conditions": 1,
        "governing law": 1,
        "the parties": 1,
        "effective date": 1,
        "termination": 1,
    },
    "hr_form": {
        "onboarding": 2,
        "employee": 1,
        "employment": 1,
        "human resources": 1,
        "job title": 1,
        "start date": 1,
        "department": 0.5,
        "emergency contact": 1,
        "direct deposit": 1,
    },
    "correspondence": {
        "dear": 2,
        "sincerely": 1.5,
        "regards": 1,
        "yours truly": 1,
        "letter": 0.5,
    },
}
_CLASS_PATTERNS = {
    label: re.compile(
        r"\b(?:" + "|".join(re.escape(k) for k in sorted(keywords, key=len, reverse=True)) + r")\b"
    )
    for label, keywords in _CLASS_KEYWORDS.items()
}


def classify(text: str) -> tuple[str, float]:
    """The most likely class with a score in [0, 1]; ("other", 0.0) when no keyword fits."""
    lowered = text.lower()
    scores: dict[str, float] = {}
    for label, pattern in _CLASS_PATTERNS.items():
        found = set(pattern.findall(lowered))
        if found:
            scores[label] = sum(_CLASS_KEYWORDS[label][k] for k in found)
    if not scores:
        return "other", 0.0
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best_label, best = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    # Strong evidence (several keywords) and a clear margin over the next class both count.
    score = min(1.0, best / 4.0) * (best / (best + runner_up))
    return best_label, round(score, 3)
