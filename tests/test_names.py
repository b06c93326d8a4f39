"""Person names where documents put them: labels, titles, salutations, LAST, FIRST, captions,
in English, German, French, Spanish, Italian and Dutch. Every value is invented."""

from __future__ import annotations

import pytest

from pii_assets.models import Word
from pii_assets.recognizers import find_entities


def _page(*lines: str) -> list[Word]:
    words = []
    for number, line in enumerate(lines):
        x = 0.05
        for token in line.split(" "):
            if not token:
                x += 0.01
                continue
            width = 0.011 * len(token)
            words.append(
                Word(token, x, 0.05 + 0.03 * number, x + width, 0.065 + 0.03 * number, 0, number)
            )
            x += width + 0.006
    return words


def _people(*lines: str) -> list[str]:
    found = find_entities(_page(*lines), page=1, source="text")
    return [e.text for e in found if e.entity_type == "PERSON"]


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("Patient: OSTROWSKI, MARIBEL",), ["OSTROWSKI, MARIBEL"]),
        (("Referred by: Alan Whitcombe",), ["Alan Whitcombe"]),
        (("Referred by: Dr. Alan Whitcombe",), ["Alan Whitcombe"]),
        (("Ordered by: Priya Raman",), ["Priya Raman"]),
        (("Thank you, Mrs. August, for the reply.",), ["August"]),
        (("Name: Ed April",), ["Ed April"]),
        (("Name: June Carter",), ["June Carter"]),
        (("Dear Will,",), ["Will"]),
        (("Hi there, my name is Rosa and my parcel is late.",), ["Rosa"]),
    ],
)
def test_english_names(lines: tuple[str, ...], expected: list[str]) -> None:
    assert _people(*lines) == expected


def test_a_month_before_a_number_is_a_date_not_a_name() -> None:
    assert _people("Name: Lena Fischer", "Appointment: May 4, 2024") == ["Lena Fischer"]
    assert _people("Dear customer, your order ships on May 4.") == []


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (("Vorname: Jürgen", "Nachname: Baumgärtner"), ["Jürgen", "Baumgärtner"]),
        (("Sehr geehrte Frau Schneider,",), ["Schneider"]),
        (("Sehr geehrter Herr Dr. Wolff,",), ["Wolff"]),
        (("Kontoinhaber: Anna Lehmann",), ["Anna Lehmann"]),
        (("Mit freundlichen Grüßen", "Katrin Vogel"), ["Katrin Vogel"]),
        (("Madame Élodie Garnier",), ["Élodie Garnier"]),
        (("Chère Madame Rousseau,",), ["Rousseau"]),
        (("Nom de famille: Lefèvre",), ["Lefèvre"]),
        (("Cordialement,", "Thierry Marchand"), ["Thierry Marchand"]),
        (("Estimado Sr. Fernández:",), ["Fernández"]),
        (("Nombre completo: Lucía Ortega Ruiz",), ["Lucía Ortega Ruiz"]),
        (("Atentamente,", "Pablo Serrano"), ["Pablo Serrano"]),
        (("Gentile Sig.ra Bianchi,",), ["Bianchi"]),
        (("Cognome: Esposito",), ["Esposito"]),
        (("Cordiali saluti", "Giulia Ferraro"), ["Giulia Ferraro"]),
        (("Geachte heer Van Dijk,",), ["Van Dijk"]),
        (("Geachte mevrouw De Vries,",), ["De Vries"]),
        (("Rekeninghouder: Sanne Bakker",), ["Sanne Bakker"]),
        (("Met vriendelijke groet,", "Pieter Jansen"), ["Pieter Jansen"]),
    ],
)
def test_names_in_five_languages(lines: tuple[str, ...], expected: list[str]) -> None:
    assert _people(*lines) == expected


def test_names_under_form_captions_join_first_and_last() -> None:
    # A flattened form: captions printed above their boxes, the values drawn below them.
    words = [
        Word("Your", 0.05, 0.10, 0.08, 0.11, 0, 0),
        Word("first", 0.085, 0.10, 0.11, 0.11, 0, 0),
        Word("name", 0.115, 0.10, 0.14, 0.11, 0, 0),
        Word("Last", 0.40, 0.10, 0.43, 0.11, 1, 0),
        Word("name", 0.435, 0.10, 0.47, 0.11, 1, 0),
        Word("Maribel", 0.06, 0.12, 0.11, 0.135, 2, 0),
        Word("Ostrowski", 0.41, 0.12, 0.48, 0.135, 3, 0),
    ]
    people = [e for e in find_entities(words, page=1, source="text") if e.entity_type == "PERSON"]
    assert [e.text for e in people] == ["Maribel Ostrowski"]
    assert (people[0].x0, people[0].x1) == (0.06, 0.48)


def test_printed_captions_are_not_names() -> None:
    assert _people("NAME\tFirst\tLast", "TO BE SHOWN ON CARD\tAnna\tLee") == []
