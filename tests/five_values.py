"""Five invented values that every new format carries in its tests (text formats, e-mail,
WEBP/HEIC), and how to check that each was found."""

from __future__ import annotations

from pii_assets.models import DocumentResult, Entity

NAME = "Maria Gonzalez"
SSN = "123-45-6789"
EMAIL = "maria.gonzalez@example.com"
PHONE = "(415) 555-0132"
BIRTH_DATE = "03/14/1985"

# entity type -> value
VALUES = {
    "PERSON": NAME,
    "US_SSN": SSN,
    "EMAIL_ADDRESS": EMAIL,
    "PHONE_NUMBER": PHONE,
    "DATE_OF_BIRTH": BIRTH_DATE,
}

# The values with their labels, one per line.
LINES = [
    f"Name: {NAME}",
    f"SSN: {SSN}",
    f"Email: {EMAIL}",
    f"Phone: {PHONE}",
    f"Date of birth: {BIRTH_DATE}",
]


def found(result: DocumentResult) -> dict[str, Entity]:
    """The one entity found for each of the five values (asserting there is exactly one)."""
    by_type: dict[str, Entity] = {}
    for entity_type, value in VALUES.items():
        matches = [e for e in result.entities if e.entity_type == entity_type and e.text == value]
        assert len(matches) == 1, (entity_type, [(e.entity_type, e.text) for e in result.entities])
        by_type[entity_type] = matches[0]
    return by_type
