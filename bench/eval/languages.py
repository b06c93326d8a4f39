"""Eval source (3): documents in German, French, Spanish, Italian and Dutch.

Letters, forms and invoices written as natives write them: their labels ("Vorname", "Date de
naissance", "Apellidos", "Cognome", "Geboortedatum"), salutations and closings, titles, dates of
birth ("4. März 1985", "4 mars 1985", "4 de marzo de 1985", "4 marzo 1985", "4 maart 1985", and
the numeric forms), national phone formats, the country's IBAN and street addresses. Mostly text
PDFs, a share scanned (real Tesseract OCR). Every value is invented; truth marks come from the
same layout code as the main corpus (`corpus.Page`).
"""

from __future__ import annotations

import random
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import phonenumbers
from stdnum import iban

from bench.eval.corpus import OCR_KINDS, EvalDocument, Page, _as_kind, _render
from pii_assets.models import ENTITY_TYPES

LANGUAGES = ("de", "fr", "es", "it", "nl")


@dataclass(frozen=True)
class Language:
    code: str
    region: str  # phone numbers and IBANs of this country
    first_female: tuple[str, ...]
    first_male: tuple[str, ...]
    last: tuple[str, ...]
    streets: tuple[str, ...]  # "{n}" is the house number
    cities: tuple[str, ...]
    months: tuple[str, ...]
    labels: dict[str, str]  # first, last, name, dob, phone, email, iban, address, customer...
    salutation: Callable[[str, str], str]  # (gender "f"/"m", last name) -> "Dear Ms X,"
    closing: str
    dob_formats: tuple[str, ...]  # str.format with d, m, y, month
    words: dict[str, str]  # form / invoice / letter body phrases


LANGS: dict[str, Language] = {
    "de": Language(
        "de",
        "DE",
        ("Anna", "Katrin", "Sophie", "Lena", "Jutta", "Birgit"),
        ("Jürgen", "Lukas", "Matthias", "Stefan", "Tobias", "Klaus"),
        ("Müller", "Schneider", "Baumgärtner", "Weber", "Hoffmann", "Krüger", "Vogel"),
        ("Hauptstraße {n}", "Lindenweg {n}", "Am Markt {n}", "Goethestraße {n}"),
        ("10115 Berlin", "80331 München", "50667 Köln", "20095 Hamburg"),
        ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August")
        + ("September", "Oktober", "November", "Dezember"),
        {
            "first": "Vorname:",
            "last": "Nachname:",
            "name": "Name:",
            "dob": "Geburtsdatum:",
            "phone": "Telefon:",
            "email": "E-Mail:",
            "iban": "IBAN:",
            "address": "Anschrift:",
            "customer": "Kunde:",
            "holder": "Kontoinhaber:",
        },
        lambda g, last: f"Sehr geehrte Frau {last}," if g == "f" else f"Sehr geehrter Herr {last},",
        "Mit freundlichen Grüßen",
        ("{d:02d}.{m:02d}.{y}", "{d}. {month} {y}"),
        {
            "form": "Antrag auf Kontoeröffnung",
            "invoice": "Rechnung",
            "body": "vielen Dank für Ihre Nachricht. Wir haben Ihre Angaben aktualisiert.",
            "reach": "Sie erreichen uns telefonisch unter",
            "pay": "Bitte überweisen Sie den Betrag auf das Konto",
            "total": "Gesamtbetrag: 1.250,00 EUR    Rechnungsdatum: 12.05.2024",
        },
    ),
    "fr": Language(
        "fr",
        "FR",
        ("Élodie", "Camille", "Sophie", "Chloé", "Manon", "Inès"),
        ("Thierry", "Julien", "Mathieu", "Antoine", "Nicolas", "Olivier"),
        ("Lefèvre", "Rousseau", "Garnier", "Marchand", "Dubois", "Moreau", "Faure"),
        ("{n} rue de la Paix", "{n} avenue Victor Hugo", "{n} boulevard Voltaire"),
        ("75002 Paris", "69001 Lyon", "13001 Marseille", "33000 Bordeaux"),
        ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août")
        + ("septembre", "octobre", "novembre", "décembre"),
        {
            "first": "Prénom :",
            "last": "Nom de famille :",
            "name": "Nom complet :",
            "dob": "Date de naissance :",
            "phone": "Téléphone :",
            "email": "Courriel :",
            "iban": "IBAN :",
            "address": "Adresse :",
            "customer": "Client :",
            "holder": "Titulaire du compte :",
        },
        lambda g, last: f"Chère Madame {last}," if g == "f" else f"Cher Monsieur {last},",
        "Cordialement,",
        ("{d:02d}/{m:02d}/{y}", "{d} {month} {y}"),
        {
            "form": "Demande d'ouverture de compte",
            "invoice": "Facture",
            "body": "nous vous remercions de votre message. Vos coordonnées ont été mises à jour.",
            "reach": "Vous pouvez nous joindre au",
            "pay": "Merci de régler le montant sur le compte",
            "total": "Montant total : 1 250,00 EUR    Date de facture : 12/05/2024",
        },
    ),
    "es": Language(
        "es",
        "ES",
        ("Lucía", "Carmen", "Marta", "Elena", "Paula", "Rocío"),
        ("Pablo", "Javier", "Alejandro", "Sergio", "Andrés", "Raúl"),
        ("Fernández", "Ortega", "Serrano", "García", "Martínez", "Navarro", "Ruiz"),
        ("Calle Mayor {n}", "Avenida de la Constitución {n}", "Calle del Prado {n}"),
        ("28013 Madrid", "08002 Barcelona", "41001 Sevilla", "46001 Valencia"),
        ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto")
        + ("septiembre", "octubre", "noviembre", "diciembre"),
        {
            "first": "Nombre:",
            "last": "Apellidos:",
            "name": "Nombre completo:",
            "dob": "Fecha de nacimiento:",
            "phone": "Teléfono:",
            "email": "Correo electrónico:",
            "iban": "IBAN:",
            "address": "Dirección:",
            "customer": "Cliente:",
            "holder": "Titular de la cuenta:",
        },
        lambda g, last: f"Estimada Sra. {last}:" if g == "f" else f"Estimado Sr. {last}:",
        "Atentamente,",
        ("{d:02d}/{m:02d}/{y}", "{d} de {month} de {y}"),
        {
            "form": "Solicitud de apertura de cuenta",
            "invoice": "Factura",
            "body": "le agradecemos su mensaje. Hemos actualizado sus datos.",
            "reach": "Puede contactarnos en el",
            "pay": "Le rogamos transfiera el importe a la cuenta",
            "total": "Importe total: 1.250,00 EUR    Fecha de factura: 12/05/2024",
        },
    ),
    "it": Language(
        "it",
        "IT",
        ("Giulia", "Francesca", "Chiara", "Sara", "Elisa", "Martina"),
        ("Marco", "Luca", "Alessandro", "Davide", "Matteo", "Stefano"),
        ("Bianchi", "Esposito", "Ferraro", "Romano", "Colombo", "Ricci", "Greco"),
        ("Via Roma {n}", "Corso Vittorio Emanuele {n}", "Piazza Garibaldi {n}"),
        ("00184 Roma", "20121 Milano", "80133 Napoli", "10121 Torino"),
        ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto")
        + ("settembre", "ottobre", "novembre", "dicembre"),
        {
            "first": "Nome:",
            "last": "Cognome:",
            "name": "Nome completo:",
            "dob": "Data di nascita:",
            "phone": "Telefono:",
            "email": "Email:",
            "iban": "IBAN:",
            "address": "Indirizzo:",
            "customer": "Cliente:",
            "holder": "Intestatario:",
        },
        lambda g, last: f"Gentile Sig.ra {last}," if g == "f" else f"Egregio Sig. {last},",
        "Cordiali saluti",
        ("{d:02d}/{m:02d}/{y}", "{d} {month} {y}"),
        {
            "form": "Richiesta di apertura conto",
            "invoice": "Fattura",
            "body": "la ringraziamo per il suo messaggio. Abbiamo aggiornato i suoi dati.",
            "reach": "Può contattarci al numero",
            "pay": "La preghiamo di versare l'importo sul conto",
            "total": "Importo totale: 1.250,00 EUR    Data fattura: 12/05/2024",
        },
    ),
    "nl": Language(
        "nl",
        "NL",
        ("Sanne", "Eva", "Lotte", "Femke", "Anouk", "Ilse"),
        ("Pieter", "Jeroen", "Daan", "Bram", "Sander", "Wouter"),
        ("Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos"),
        ("Kerkstraat {n}", "Dorpsweg {n}", "Prinsengracht {n}", "Stationsplein {n}"),
        ("1012 AB Amsterdam", "3011 CD Rotterdam", "3511 EF Utrecht", "2511 GH Den Haag"),
        ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus")
        + ("september", "oktober", "november", "december"),
        {
            "first": "Voornaam:",
            "last": "Achternaam:",
            "name": "Naam:",
            "dob": "Geboortedatum:",
            "phone": "Telefoon:",
            "email": "E-mail:",
            "iban": "IBAN:",
            "address": "Adres:",
            "customer": "Klant:",
            "holder": "Rekeninghouder:",
        },
        lambda g, last: f"Geachte mevrouw {last}," if g == "f" else f"Geachte heer {last},",
        "Met vriendelijke groet,",
        ("{d:02d}-{m:02d}-{y}", "{d} {month} {y}"),
        {
            "form": "Aanvraag rekening openen",
            "invoice": "Factuur",
            "body": "hartelijk dank voor uw bericht. Wij hebben uw gegevens bijgewerkt.",
            "reach": "U kunt ons bereiken op",
            "pay": "Gelieve het bedrag over te maken naar rekening",
            "total": "Totaalbedrag: € 1.250,00    Factuurdatum: 12-05-2024",
        },
    ),
}

_IBAN_LENGTH = {"DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18}


def _iban(region: str, rng: random.Random) -> str:
    """A random IBAN of the country that passes python-stdnum's check, national check digits of
    the BBAN included (France's RIB key, Spain's and Italy's control digits): drawn until valid."""
    length = _IBAN_LENGTH[region]
    for _ in range(100_000):
        if region == "NL":
            bban = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
            bban += "".join(str(rng.randint(0, 9)) for _ in range(10))
        elif region == "IT":
            bban = rng.choice(string.ascii_uppercase)
            bban += "".join(str(rng.randint(0, 9)) for _ in range(length - 5))
        else:
            bban = "".join(str(rng.randint(0, 9)) for _ in range(length - 4))
        number = region + iban.calc_check_digits(region + "00" + bban) + bban
        if iban.is_valid(number):
            return " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    raise RuntimeError(f"no valid {region} IBAN drawn")


def _phone(region: str, rng: random.Random) -> str:
    kind = rng.choice(
        (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE)
    )
    example = phonenumbers.example_number_for_type(region, kind)
    # With Italy's leading zero, which `national_number` drops.
    digits = phonenumbers.national_significant_number(example)
    for _ in range(10_000):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(3))
        number = phonenumbers.parse(f"+{example.country_code}{digits[:-3]}{tail}")
        if phonenumbers.is_valid_number(number):
            break
    else:
        raise RuntimeError(f"no valid {region} phone number drawn")
    style = rng.choice(
        (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )
    return phonenumbers.format_number(number, style)


def _dob(lang: Language, rng: random.Random) -> str:
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 60 * 365))
    pattern = rng.choice(lang.dob_formats)
    return pattern.format(d=born.day, m=born.month, y=born.year, month=lang.months[born.month - 1])


def _email(first: str, last: str, rng: random.Random) -> str:
    # Local parts are ASCII: accents dropped (NFKD, combining marks removed), ß as ss.
    decomposed = unicodedata.normalize("NFKD", (first + "." + last).lower().replace("ß", "ss"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).replace(" ", "")
    return f"{plain}@{rng.choice(('example.com', 'example.org', 'mail.example.net'))}"


def _person(lang: Language, rng: random.Random) -> tuple[str, str, str]:
    gender = rng.choice("fm")
    first = rng.choice(lang.first_female if gender == "f" else lang.first_male)
    return gender, first, rng.choice(lang.last)


def _street(lang: Language, rng: random.Random) -> str:
    return rng.choice(lang.streets).format(n=rng.randint(1, 180))


def _letter(lang: Language, rng: random.Random) -> list[Page]:
    gender, first, last = _person(lang, rng)
    page = Page(rng)
    page.title("Northwind Services")
    page.newline()
    page.line((f"{first} {last}", "PERSON"))
    # A postal address block (street line, then postcode and town) is one STREET_ADDRESS.
    page.line((_street(lang, rng), "STREET_ADDRESS", "address"))
    page.line((rng.choice(lang.cities), "STREET_ADDRESS", "address"))
    page.newline()
    head, tail = lang.salutation(gender, last).split(last)
    page.line((head, None), (last, "PERSON"), (tail, None))
    page.line((lang.words["body"], None))
    page.field(lang.labels["dob"], _dob(lang, rng), "DATE_OF_BIRTH")
    page.field(lang.labels["email"], _email(first, last, rng), "EMAIL_ADDRESS")
    page.line((lang.words["reach"] + " ", None), (_phone(lang.region, rng), "PHONE_NUMBER"))
    page.field(lang.labels["iban"], _iban(lang.region, rng), "IBAN_CODE")
    page.newline()
    page.line((lang.closing, None))
    _, signer_first, signer_last = _person(lang, rng)
    page.line((f"{signer_first} {signer_last}", "PERSON"))
    return [page]


def _form(lang: Language, rng: random.Random) -> list[Page]:
    _, first, last = _person(lang, rng)
    page = Page(rng)
    page.title(lang.words["form"])
    page.newline(0.5)
    layout = rng.choice(("inline", "aligned"))
    fields = [
        (lang.labels["first"], first, "PERSON"),
        (lang.labels["last"], last, "PERSON"),
        (lang.labels["dob"], _dob(lang, rng), "DATE_OF_BIRTH"),
        (lang.labels["address"], _street(lang, rng), "STREET_ADDRESS"),
        (lang.labels["phone"], _phone(lang.region, rng), "PHONE_NUMBER"),
        (lang.labels["email"], _email(first, last, rng), "EMAIL_ADDRESS"),
        (lang.labels["iban"], _iban(lang.region, rng), "IBAN_CODE"),
    ]
    for label, value, kind in fields:
        page.field(label, value, kind, layout=layout)
    _, holder_first, holder_last = _person(lang, rng)
    page.field(lang.labels["holder"], f"{holder_first} {holder_last}", "PERSON", layout=layout)
    return [page]


def _invoice(lang: Language, rng: random.Random) -> list[Page]:
    _, first, last = _person(lang, rng)
    page = Page(rng)
    page.title(f"{lang.words['invoice']}    Northwind Services")
    page.line((lang.words["total"], None))
    page.newline(0.5)
    page.field(lang.labels["customer"], f"{first} {last}", "PERSON")
    # A postal address block (street line, then postcode and town) is one STREET_ADDRESS.
    page.line((_street(lang, rng), "STREET_ADDRESS", "address"))
    page.line((rng.choice(lang.cities), "STREET_ADDRESS", "address"))
    page.field(lang.labels["email"], _email(first, last, rng), "EMAIL_ADDRESS")
    page.field(lang.labels["phone"], _phone(lang.region, rng), "PHONE_NUMBER")
    page.newline(0.5)
    page.line((lang.words["pay"] + " ", None))
    page.line((_iban(lang.region, rng), "IBAN_CODE"))
    return [page]


_FAMILIES = {"letter": _letter, "form": _form, "invoice": _invoice}


def generate(per_language: int, *, seed: int, ocr_share: float = 0.2) -> list[EvalDocument]:
    """`per_language` documents in each language, cycling through letters, forms and invoices;
    a share of them scanned. Truth of types outside `models.ENTITY_TYPES` is left out."""
    rng = random.Random(seed)
    documents = []
    for code in LANGUAGES:
        lang = LANGS[code]
        for index in range(per_language):
            family = tuple(_FAMILIES)[index % len(_FAMILIES)]
            doc_rng = random.Random(rng.randrange(2**32))
            kind = OCR_KINDS[index % 2] if doc_rng.random() < ocr_share else "text_pdf"
            pdf, truth = _render(_FAMILIES[family](lang, doc_rng))
            data, truth = _as_kind(pdf, truth, kind, doc_rng)
            ext = "pdf" if kind in ("text_pdf", "scanned_pdf") else "png"
            name = f"{code}_{family}_{index + 1:03d}.{ext}"
            truth = [t for t in truth if t.entity_type in ENTITY_TYPES]
            documents.append(EvalDocument(name, data, kind, f"{code}:{family}", truth))
    return documents
