"""Letters in German, French, Spanish, Italian and Dutch: every structured value found, national
phone numbers read in the letter's own region (no region forced). All values are invented."""

from __future__ import annotations

import pytest

from bench.eval.peer_strings import words_of
from pii_assets.recognizers import find_entities

_LETTERS = {
    "de": """Sparkasse Musterstadt
Herrn Jonas Becker
Lindenstraße 14
50667 Köln
Köln, den 12. März 2024
Sehr geehrter Herr Becker,
vielen Dank für Ihre Anfrage vom 4. März. Ihr Geburtsdatum (4. März 1985) haben wir geprüft.
Bitte überweisen Sie den Betrag auf das Konto IBAN DE89 3704 0044 0532 0130 00.
Sie erreichen uns unter 0221 123456 oder per E-Mail an jonas.becker@example.de.
Mit freundlichen Grüßen
Anna Schmidt""",
    "fr": """Madame Claire Moreau
12 rue de la Paix
75002 Paris
Paris, le 5 avril 2024
Madame,
Nous avons bien reçu votre dossier. Votre date de naissance : 4 mars 1985.
Vous pouvez nous joindre au 01 42 68 53 00 ou par courriel à claire.moreau@example.fr.
IBAN : FR14 2004 1010 0505 0001 3M02 606
Veuillez agréer, Madame, nos salutations distinguées.""",
    "es": """Sra. Lucía Fernández
Calle Mayor 5
28013 Madrid
Estimada Sra. Fernández:
Le confirmamos que su fecha de nacimiento es 4 de marzo de 1985 y que su teléfono es 612 345 678.
Puede escribirnos a lucia.fernandez@example.es. IBAN: ES91 2100 0418 4502 0005 1332.
Atentamente,""",
    "it": """Gentile Sig.ra Giulia Rossi
Via Roma 10
00184 Roma
La informiamo che la sua data di nascita risulta 4 marzo 1985.
Per informazioni può chiamare il numero 06 6784343 o scrivere a giulia.rossi@example.it.
IBAN: IT60 X054 2811 1010 0000 0123 456
Cordiali saluti""",
    "nl": """Geachte heer De Vries,
Keizersgracht 123
1015 CJ Amsterdam
Uw geboortedatum is 4 maart 1985. U kunt ons bereiken op 020 123 4567
of via pieter.devries@example.nl.
IBAN: NL91 ABNA 0417 1643 00
Met vriendelijke groet,""",
}

_EXPECTED = {
    "de": [
        ("STREET_ADDRESS", "Lindenstraße 14 50667 Köln"),
        ("DATE_OF_BIRTH", "4. März 1985"),
        ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
        ("PHONE_NUMBER", "0221 123456"),
        ("EMAIL_ADDRESS", "jonas.becker@example.de"),
    ],
    "fr": [
        ("STREET_ADDRESS", "12 rue de la Paix 75002 Paris"),
        ("DATE_OF_BIRTH", "4 mars 1985"),
        ("PHONE_NUMBER", "01 42 68 53 00"),
        ("EMAIL_ADDRESS", "claire.moreau@example.fr"),
        ("IBAN_CODE", "FR14 2004 1010 0505 0001 3M02 606"),
    ],
    "es": [
        ("STREET_ADDRESS", "Calle Mayor 5 28013 Madrid"),
        ("DATE_OF_BIRTH", "4 de marzo de 1985"),
        ("PHONE_NUMBER", "612 345 678"),
        ("EMAIL_ADDRESS", "lucia.fernandez@example.es"),
        ("IBAN_CODE", "ES91 2100 0418 4502 0005 1332"),
    ],
    "it": [
        ("STREET_ADDRESS", "Via Roma 10 00184 Roma"),
        ("DATE_OF_BIRTH", "4 marzo 1985"),
        ("PHONE_NUMBER", "06 6784343"),
        ("EMAIL_ADDRESS", "giulia.rossi@example.it"),
        ("IBAN_CODE", "IT60 X054 2811 1010 0000 0123 456"),
    ],
    "nl": [
        ("STREET_ADDRESS", "Keizersgracht 123 1015 CJ Amsterdam"),
        ("DATE_OF_BIRTH", "4 maart 1985"),
        ("PHONE_NUMBER", "020 123 4567"),
        ("EMAIL_ADDRESS", "pieter.devries@example.nl"),
        ("IBAN_CODE", "NL91 ABNA 0417 1643 00"),
    ],
}


@pytest.mark.parametrize("language", sorted(_LETTERS))
def test_structured_values_in_a_letter(language: str) -> None:
    found = find_entities(words_of(_LETTERS[language]), page=1, source="text")
    # Names are the names recognizers' (tested with them); every other value is here.
    structured = [(e.entity_type, e.text) for e in found if e.entity_type != "PERSON"]
    assert structured == _EXPECTED[language]
