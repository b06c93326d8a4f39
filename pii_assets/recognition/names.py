"""Person names where documents put them: labelled fields ("Name:", "Applicant:", "Bill to:"),
salutations, signature blocks, courtesy titles, address blocks and table columns headed "Name".

A name is capitalised tokens (middle initials, particles such as "van", apostrophes and hyphens
allowed), "Last, First", or ALL CAPS after a label. It ends at a tab (a column gap), at the next
field's label ("Name: Maria Gonzalez Email: ...") and before words that are not names.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator

from pii_assets.recognition.common import Candidate
from pii_assets.recognition.layout import PageText, lower_text
from pii_assets.recognition.tables import column_cells

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ"
# A token followed by ":" and more text is the next field's label; a colon ending the line is
# usually OCR's reading of a stray mark.
_LABEL_AHEAD = r"(?!:[ \t]*\S)"
_TOKEN = (
    rf"[{_UP}](?:'[{_UP}])?[{_LO}]+(?:[{_UP}][{_LO}]+)?(?:-[{_UP}][{_LO}]+)?(?!\w){_LABEL_AHEAD}"
)
_CAPS = rf"[{_UP}]{{2,}}(?:'[{_UP}]+)?(?:-[{_UP}]+)?(?!\w){_LABEL_AHEAD}"
_INITIAL = rf"[{_UP}]\.(?!\w)"
_PARTICLE = rf"(?:van|von|der|den|de|da|del|della|di|du|la|le|bin|ibn|al)(?= [{_UP}])"
# Tokens are one space apart; OCR text, cleaned of stray marks, can leave two.
_SP = " {1,2}"
_NAME = rf"{_TOKEN}(?:{_SP}(?:{_TOKEN}|{_INITIAL}|{_PARTICLE})){{0,4}}"
_CAPS_NAME = rf"{_CAPS}(?:{_SP}(?:{_CAPS}|{_INITIAL})){{1,3}}"
_INVERTED = rf"{_TOKEN}(?:{_SP}{_TOKEN})?, {{0,2}}{_TOKEN}(?:{_SP}{_INITIAL})?(?![ ]\w)"
# "OSTROWSKI, MARIBEL": LAST, FIRST in capitals (medical and HR records).
_CAPS_INVERTED = rf"{_CAPS}(?:{_SP}{_CAPS})?, {{0,2}}{_CAPS}(?:{_SP}{_INITIAL})?(?![ ]\w)"
_ANY_NAME = rf"(?P<name>{_INVERTED}|{_CAPS_INVERTED}|{_CAPS_NAME}|{_NAME})"

_QUALIFIER = (
    r"(?:full|legal|first and last|patient|employee|customer|client|applicant|member|contact"
    r"|tenant|account|cardholder|insured|student|guest|passenger|borrower|participant|your)"
)
_LABELS = (
    rf"(?:{_QUALIFIER} ){{0,2}}name"
    r"|name of (?:the )?(?:applicant|patient|employee|insured|account holder)"
    r"|applicant|co-applicant|patient|employee|customer|client|account holder|account name"
    r"|card ?holder|name on card|bill to|billed to|ship to|sold to|deliver to|attn\.?|attention"
    r"|tenant|landlord|insured|policy ?holder|beneficiary|guarantor|member|subscriber|guardian"
    r"|parent|spouse|emergency contact|contact name|contact person|next of kin|signature"
    r"|signed(?: by)?|authori[sz]ed by|prepared by|approved by|witness|physician|doctor"
    r"|manager|supervisor|recipient|payee|sender|student|passenger|borrower|co-borrower"
    r"|referred by|referring (?:physician|provider|doctor)|ordered by|requested by|attending"
    r"|submitted by|reviewed by|verified by|provider|caregiver|dependent|contact"
    # Authorship, also as documents' properties are read ("author: …", "last modified by: …").
    r"|author|co-author|written by|edited by|created by|(?:last )?modified by|printed by"
    # German, French, Spanish, Italian, Dutch: name labels and account holders.
    r"|kunde|kundin|cliente|empfänger(?:in)?|destinataire|destinatario|klant|ontvanger"
    r"|vorname|nachname|familienname|geburtsname|kontoinhaber(?:in)?|ansprechpartner(?:in)?"
    r"|unterschrift|nom|pr[ée]nom|nom de famille|nom complet|titulaire(?: du compte)?"
    r"|nombre(?: completo)?|apellidos?|titular(?: de la cuenta)?|nome(?: completo)?|cognome"
    r"|intestatario|titolare|naam|voornaam|achternaam|rekeninghouder|tenaamstelling"
)
_TITLES = (
    r"(?:(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof)\.?|Herrn?|Frau|Hr\.|Fr\.|Mme\.?|Mlle\.?|Monsieur"
    r"|Madame|Mademoiselle|Sr\.|Sra\.|Srta\.|Señora?|Sig\.(?:ra|na)?|Signora?|Dott\.(?:ssa)?"
    r"|Dhr\.|Mevr\.|Mw\.|(?i:de heer|heer|mevrouw))"
)
# Salutations: English, German, French, Spanish, Italian, Dutch.
_SALUTATIONS = (
    r"dear|hello|hi|sehr geehrte[rs]?|liebe[rs]?|hallo|guten tag|cher|ch[èe]re|bonjour"
    r"|estimad[oa]s?|querid[oa]s?|hola|gentile|egregi[oa]|car[oa]|buongiorno|geachte|beste"
)
# Street words written in lower case after the house number (French, Italian, Spanish).
_STREET_WORDS = (
    r"(?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|route|via|viale|piazza|corso"
    r"|calle|avenida|plaza|paseo)\b"
)
# "My name is Ed April": a speaker naming themselves.
_SELF_NAMED = (
    r"my name is|my name's|i am|i'm|this is|ich hei(?:ß|ss)e|mein name ist|je m'appelle"
    r"|je suis|me llamo|mi nombre es|mi chiamo|il mio nome [èe]|ik heet|mijn naam is"
)
_CLOSINGS = (
    r"sincerely|regards|kind regards|best regards|warm regards|yours truly|yours sincerely"
    r"|yours faithfully|best wishes|respectfully|cordially|thank you|thanks|with thanks"
    r"|mit freundlichen gr(?:ü|ue)(?:ß|ss)en|freundliche gr(?:ü|ue)(?:ß|ss)e"
    r"|viele gr(?:ü|ue)(?:ß|ss)e"
    r"|cordialement|bien (?:à|a) vous|salutations distingu[ée]es|atentamente|saludos cordiales"
    r"|un saludo|cordiali saluti|distinti saluti|saluti|met vriendelijke groet(?:en)?"
    r"|hoogachtend|vriendelijke groet(?:en)?"
)

# Patterns led by a keyword (a label, a salutation, a closing): the keyword is found in the page's
# text in lower case (`lower_text`) by a pattern without IGNORECASE, which Python's re runs several
# times faster over long alternations of words; the name is then matched in the text itself, right
# after the keyword. The keyword pattern takes everything up to where the name starts, so that it
# chooses among its alternatives as one pattern would. The lookahead for a letter lets the engine
# pass other positions with one test.
_AT_LETTER = r"(?=[^\W\d_])"
_SALUTATION = re.compile(rf"{_AT_LETTER}\b(?:{_SALUTATIONS})[ \t]+")
_TITLED_NAME = re.compile(rf"{_TITLES}(?:[ \t]+{_TITLES})?[ \t]+{_ANY_NAME}")
# (keyword in lower case, ((what follows it up to the name's end, confidence, fewest name
# tokens), ...))
_KEYWORD_PATTERNS = (
    (
        re.compile(
            rf"{_AT_LETTER}(?<![\w-])(?P<label>{_LABELS})(?: \([^)\n]*\))?"
            r"[ \t]*:[ \t]*(?:\n[ \t]*)?"
        ),
        ((re.compile(_ANY_NAME), 0.85, 2),),
    ),
    (
        _SALUTATION,
        (
            (_TITLED_NAME, 0.85, 1),
            (re.compile(rf"{_ANY_NAME}(?=[ \t]*[,;:!])"), 0.75, 1),
        ),
    ),
    (
        re.compile(rf"{_AT_LETTER}\b(?:{_SELF_NAMED})[ \t]+"),
        ((re.compile(rf"(?P<name>{_NAME})"), 0.75, 1),),
    ),
    (
        re.compile(rf"{_AT_LETTER}\b(?:{_CLOSINGS})[ \t]*[,.!;]?[ \t:;.,'|]*\n[ \t]*"),
        ((re.compile(rf"{_ANY_NAME}[ \t]*(?:\n|$)"), 0.8, 2),),
    ),
)
# An e-mail address in angle brackets (RFC 5322 §3.4 "name-addr": From, To and Cc header fields,
# "… wrote:" lines quoting them), and the display name right before it, quotes allowed.
_ANGLE_ADDRESS = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_DISPLAY_NAME = re.compile(rf"(?<![\w'’-])[\"']?{_ANY_NAME}[\"']?[ \t]*$")
_DISPLAY_NAME_REACH = 80
_TITLE_AND_NAME = re.compile(rf"(?<![\w.]){_TITLES}[ \t]+{_ANY_NAME}")
# (pattern, confidence, fewest name tokens)
_PATTERNS = (
    (_TITLE_AND_NAME, 0.75, 1),
    # An address block: a line that is only a name, above a street line: a house number first
    # ("12 Oak Street", "47 avenue Victor Hugo") or last ("Hauptstraße 75", "Via Roma 66").
    (
        re.compile(
            rf"(?:^|\n)[ \t]*{_ANY_NAME}[ \t]*\n[ \t]*"
            rf"(?=\d{{1,5}}[A-Za-z]?,?[ .](?:[{_UP}]|{_STREET_WORDS})|P\.? ?O\.? Box"
            rf"|[{_UP}][{_LO}]+(?:[ -][\w'’.]+){{0,3}} \d{{1,5}}[a-z]?[ \t]*\n)"
        ),
        0.7,
        2,
    ),
)
# A column is headed by any name label a field has ("Customer", "Kunde", "Nom", "Bill to"), in
# the singular or plural, a qualifier in brackets or a colon after it allowed.
_NAME_HEADER = re.compile(
    r"(?:(?:(?:full|first and last|employee|patient|customer|client|participant|student"
    r"|member|contact|staff|guest|attendee|applicant|passenger) )?name"
    rf"|{_LABELS})(?:s|en|n)?(?: \([^)\n]*\))?[ \t]*:?",
    re.IGNORECASE,
)
_CELL_NAME = re.compile(_ANY_NAME)

# People addressed by role or as a group rather than by name ("Dear Shareholders,", "Dear
# Editor,", "Chère Madame,"), singular and plural: a salutation before only such words names no
# one. Only there: several are surnames too ("Tony Parent", "Name: Reader, Ann").
_ROLE_ADDRESSEES = frozenset(
    form
    for word in (
        *("parent", "guardian", "shareholder", "stockholder", "investor", "supplier", "vendor"),
        *("resident", "neighbour", "neighbor", "tenant", "landlord", "homeowner", "owner"),
        *("policyholder", "subscriber", "reader", "user", "student", "candidate", "recipient"),
        *("beneficiary", "editor", "recruiter", "reviewer", "director", "supervisor", "manager"),
        *("professor", "doctor", "teacher", "principal", "coach", "officer", "agent", "nurse"),
        *("representative", "administrator", "organizer", "organiser", "volunteer", "donor"),
        *("supporter", "partner", "buyer", "seller", "traveller", "traveler", "visitor"),
        *("applicant", "employee", "colleague", "member", "patient", "client", "customer"),
        *("mom", "mum", "dad", "everyone", "everybody", "sir", "gentlemen", "ladies", "madam"),
        *("madame", "monsieur", "mesdames", "messieurs", "kunde", "kundin", "cliente", "team"),
        *("trustee", "ratepayer", "taxpayer", "constituent", "voter", "renter", "lessee"),
        *("lessor", "employer", "contractor", "subcontractor", "claimant", "creditor"),
        # Departments and functions ("Dear Compliance,", "Dear Legal,").
        *("compliance", "legal", "treasury", "dispatch", "procurement", "security", "audit"),
        *("facilities", "maintenance", "admin", "administration", "tax", "collections"),
        *("underwriting", "recruiting", "housekeeping", "accounting", "marketing", "payroll"),
    )
    for form in (word, word + "s", word[:-1] + "ies" if word.endswith("y") else word)
)
# Offices a courtesy title is put before ("Dear Mr. President,", "Madam Chair,").
_OFFICES = frozenset(
    (
        *("president", "chairman", "chairwoman", "chairperson", "chair", "speaker", "mayor"),
        *("governor", "ambassador", "minister", "secretary", "commissioner", "chancellor"),
    )
)


def _addressed_by_role(name: str, words: frozenset[str]) -> bool:
    """Whether every word of `name` is one of `words` (a role, a group or an office). With the
    role words, a single word of nine letters or more ending in "-ing" names a function too
    ("Dear Underwriting,", "Dear Engineering,"): few names are such a word alone after "Dear"."""
    parts = [p.strip(".").lower() for p in re.split(r"[ ,]+", name) if p]
    if words is _ROLE_ADDRESSEES and len(parts) == 1 and len(parts[0]) >= 9:
        return parts[0].endswith("ing") or parts[0] in words
    return bool(parts) and all(p in words for p in parts)


# Words that end a name ("Account holder: Maria Gonzalez Customer ID 4482").
_STOP = frozenset(
    (
        *("sir", "madam", "valued", "colleague", "colleagues", "friend", "friends", "all"),
        *("customer", "customers", "client", "clients", "patient", "member", "members"),
        *("hiring", "applicant", "support", "information", "number", "date", "address"),
        *("details", "account", "the", "of", "and", "id", "no", "phone", "email", "invoice"),
        *("total", "tel", "fax", "mobile", "re", "subject", "dob", "ssn", "signature", "page"),
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december", "monday", "tuesday", "wednesday"),
        *("thursday", "friday", "saturday", "sunday", "today", "tomorrow", "yes", "none", "n/a"),
        *("please", "thank", "thanks", "your", "our", "this", "that", "we", "i", "see", "attn"),
        # Words of printed captions ("TO BE SHOWN ON CARD", "FULL NAME AT BIRTH").
        *("to", "be", "on", "at", "if", "than", "above", "below", "used", "other", "in", "for"),
        *("by", "with", "from", "as", "or", "a", "an", "is", "are", "full", "name", "names"),
        *("birth", "shown", "card", "print", "type", "here", "only", "use", "office"),
        *("mr", "mrs", "ms", "dr", "prof", "herr", "frau", "sr", "sra", "sig", "dhr", "mevr"),
        *("designee", "preparer", "taxpayer", "spouse", "employee", "employer", "paid"),
        *("first", "last", "middle", "initial", "unknown", "suff"),
        # Accounts software writes as a document's author ("Windows User", "Admin User").
        *("user", "users", "admin", "administrator", "default"),
    )
)
# Months that are also given names ("Mrs. August", "June Carter"): a name part unless a day or a
# year follows ("May 4", "June 2024").
_NAME_MONTHS = frozenset({"may", "june", "april", "august"})
# Words that make the whole value an organisation or a place, not a person.
ORGANISATION_WORDS = _ORG = frozenset(
    (
        *("inc", "llc", "ltd", "gmbh", "corp", "corporation", "company", "co", "group", "bank"),
        *("team", "department", "dept", "office", "services", "service", "systems", "solutions"),
        *("insurance", "health", "healthcare", "medical", "clinic", "hospital", "center"),
        *("centre", "university", "college", "school", "trust", "foundation", "association"),
        *("credit", "union", "management", "payroll", "logistics", "traders", "trading"),
        *("lending", "capital", "partners", "holdings", "international", "industries", "labs"),
        *("street", "avenue", "road", "lane", "drive", "way", "boulevard", "terrace", "plaza"),
        *("relations", "resources", "operations", "finance", "sales", "marketing", "manager"),
        *("property", "properties", "agency", "council", "committee", "board", "store", "shop"),
        # Authors of PDFs' metadata ("Social Security Administration", "Datalogics Incorporated").
        *("administration", "incorporated"),
        # Functions a letter or a contact row is addressed to ("Dear Claims,", "Front Desk").
        *("claims", "billing", "accounts", "payable", "receivable", "admissions", "enquiries"),
        *("inquiries", "reception", "desk", "helpdesk", "mailroom", "recruitment", "hr"),
    )
)
# "Name:" only labels a person when it is not some other thing's name ("Company name:").
_NAME_LABEL_QUALIFIERS = frozenset(
    (
        *("full", "legal", "patient", "employee", "customer", "client", "applicant", "your"),
        *("member", "contact", "tenant", "account", "cardholder", "insured", "student", "guest"),
        *("passenger", "borrower", "participant", "last", "first", "and", "the"),
    )
)
# Labels of one part of a name.
_PART_LABEL = re.compile(
    r"(?i)(?:first|last|given|family|middle|sur)[ -]?name|vorname|nachname|familienname"
    r"|geburtsname|nom(?: de famille)?|pr[ée]nom|nombre|apellidos?|nome|cognome|voornaam"
    r"|achternaam|naam"
)
_COLUMN_TEXT = re.compile(r"[^\t\n]*")
_PREVIOUS_WORD = re.compile(r"([A-Za-z']+)[ \t]*$")


def _trim(value: str, after: str = "") -> tuple[int, int] | None:
    """The span (within `value`) of the name it holds, or None when it is no person's name.
    `after` is the text that follows `value` (a month name before a number is a date)."""
    if "," in value:  # "Last, First": both sides are the name
        words = re.split(r",? ", value)
        if any(w.lower().strip(".") in _ORG or w.lower() in _STOP for w in words):
            return None
        return 0, len(value)
    tokens = value.split(" ")
    kept: list[str] = []
    for index, token in enumerate(tokens):
        lowered = token.lower()
        if lowered in _ORG:
            return None
        if lowered in _STOP:
            following = " ".join(tokens[index + 1 :]) or after.lstrip(" \t")
            if lowered not in _NAME_MONTHS or following[:1].isdigit():
                break
        kept.append(token)
    while kept and kept[-1].endswith("."):
        kept.pop()  # a trailing initial belongs to no one
    while kept and kept[-1].islower():
        kept.pop()  # a trailing particle
    if not kept:
        return None
    return 0, len(" ".join(kept))


# OCR's stray marks around names, each replaced by a space so that offsets stay put: curly
# quotes read for apostrophes are straightened first.
_OCR_QUOTES = str.maketrans("\u2019\u2018`\u00b4", "''''")
_OCR_STRAY = re.compile(
    rf"(?<=[ \t\n])[.,'](?=[{_UP}])"  # ".Jensen"
    rf"|(?<=[{_LO}])'(?=[ \t\n]|$|[{_UP}]\.)"  # "Siobhan' Hernandez", "Olivia'O. Haddad"
    rf"|(?<=[{_UP}][{_LO}]{{2}})\.(?= [{_UP}][{_LO}])"  # "Mei. Rossi"
)


def ocr_cleaned(text: str) -> str:
    """The text with OCR's stray marks around words blanked out (same length, same offsets)."""
    return _OCR_STRAY.sub(" ", text.translate(_OCR_QUOTES))


def persons(text: str, page: PageText, *, ocr: bool = False) -> Iterator[Candidate]:
    """PERSON candidates: after labels, salutations, titles and closings, in address blocks,
    table columns headed "Name" and under form captions (`caption_names`)."""
    if ocr:
        text = ocr_cleaned(text)
    lowered = lower_text(text) if ocr else page.lowered
    for keyword, tails in _KEYWORD_PATTERNS:
        for k in keyword.finditer(lowered):
            label = text[k.start("label") : k.end("label")] if "label" in keyword.groupindex else ""
            if label and not _labels_a_person(text, label, k.start()):
                continue
            for tail, confidence, fewest in tails:
                m = tail.match(text, k.end())
                if m is not None and keyword is _SALUTATION:
                    roles = _OFFICES if tail is _TITLED_NAME else _ROLE_ADDRESSEES
                    if _addressed_by_role(m["name"], roles):
                        break  # "Dear Shareholders,", "Dear Mr. President,"
                if m is not None:
                    needed = 1 if label and _PART_LABEL.fullmatch(label) else fewest
                    yield from _person(text, m, confidence, needed)
    for pattern, confidence, fewest in _PATTERNS:
        for m in pattern.finditer(text):
            if pattern is _TITLE_AND_NAME and _addressed_by_role(m["name"], _OFFICES):
                continue  # "Mr. President", "Madam Chair"
            yield from _person(text, m, confidence, fewest)
    if "<" in text and "@" in text:
        for address in _ANGLE_ADDRESS.finditer(text):
            row_start = text.rfind("\n", 0, address.start()) + 1
            reach = max(row_start, address.start() - _DISPLAY_NAME_REACH)
            m = _DISPLAY_NAME.search(text, reach, address.start())
            # A first and a last name ("Support <help@...>" names no one) that the address
            # spells, whole or by initials: "Microsoft Outlook <xmailuser@...>" is a program.
            if m and _spelled_by(m["name"], address[0]):
                yield from _person(text, m, 0.85, 2)
    for cell in column_cells(page, _NAME_HEADER):
        m = _CELL_NAME.fullmatch(text, cell.start, cell.end)
        if not m or _trim(m["name"]) != (0, len(m["name"])):
            continue
        tokens = m["name"].replace(",", " ").split()
        # A column of one part of a name ("Vorname", "Last name") holds one word of it.
        header = _COLUMN_TEXT.match(text, cell.header)
        needed = 1 if header and _PART_LABEL.fullmatch(header[0].rstrip(": \t")) else 2
        if len([t for t in tokens if not t.endswith(".")]) >= needed:
            yield Candidate("PERSON", cell.start, cell.end, 0.85)
    yield from caption_names(page, text)


def _spelled_by(name: str, address: str) -> bool:
    """Whether the e-mail address's local part holds a word of the name (three letters or more)
    or starts with its initials ("maria.gonzalez@", "gonzalezm@", "mg1985@" for "Maria
    Gonzalez"), accents set aside."""
    local = _ascii_letters(address[1:].partition("@")[0])
    words = [_ascii_letters(w) for w in re.split(r"[ ,]+", name) if w]
    if any(len(w) >= 3 and w in local for w in words):
        return True
    initials = "".join(w[:1] for w in words if w)
    return len(initials) >= 2 and (local.startswith(initials) or local.startswith(initials[::-1]))


def _ascii_letters(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if "a" <= c <= "z")


def _person(text: str, m: re.Match[str], confidence: float, needed: int) -> Iterator[Candidate]:
    """The name in `m`'s "name" group, trimmed of words that are no part of it, when it has at
    least `needed` tokens ("Vorname: Jürgen" needs one, "Name: ..." two)."""
    value = m["name"]
    span = _trim(value, text[m.end("name") : m.end("name") + 6])
    if span is None:
        return
    start = m.start("name") + span[0]
    end = m.start("name") + span[1]
    tokens = text[start:end].replace(",", " ").split()
    if len([t for t in tokens if not t.endswith(".")]) < needed:
        return
    yield Candidate("PERSON", start, end, confidence - (0.05 if value.isupper() else 0.0))


# Form captions printed above their boxes ("Your first name and middle initial", "Last name"):
# the value drawn in the box below is a name, or part of one.
# Captions found within a column's text ("Your first name and middle initial") ...
# (Matched against the text in lower case: faster than IGNORECASE.)
_FIRST_CAPTION = re.compile(r"\b(?:first name|given name|vorname|pr[ée]nom|nombre|nome|voornaam)")
_LAST_CAPTION = re.compile(
    r"\b(?:last name|surname|family name|nachname|nom de famille|apellidos?|cognome|achternaam)"
)
# ... and captions that are all of it ("First", "Full Middle Name", "Last").
_FIRST_ALONE = re.compile(r"(?:\(?[a-z0-9]\)?\s)?first", re.IGNORECASE)
_MIDDLE_CAPTION = re.compile(r"(?:full )?middle(?: name| initial)?|m\.?i\.?", re.IGNORECASE)
_LAST_ALONE = re.compile(r"(?:\(?[a-z0-9]\)?\s)?last", re.IGNORECASE)
_FULL_CAPTION = re.compile(
    r"(?:[a-z]\s)?(?:(?:your|employee['’]?s|full|legal|print(?:ed)?|applicant['’]?s"
    r"|patient['’]?s|preparer['’]?s|designee['’]?s|spouse['’]?s)\s)*name(?:\s\(please print\))?"
    r"(?:,? address,? and zip code)?",
    re.IGNORECASE,
)
_CAPTION_VALUE = re.compile(rf"[{_UP}][\w'’.-]*(?: [{_UP}][\w'’.-]*){{0,4}}")
_NAME_ORDER = {"first": 0, "middle": 1, "last": 2}


def caption_names(page: PageText, text: str) -> Iterator[Candidate]:
    """Names drawn under form captions (a filled or flattened form's page): the values in the row
    below "first name", "middle" and "last name" captions side by side are one name."""
    if "\t" not in text:
        return
    lowered = page.lowered
    cells: list[tuple[int, int, str]] = []
    for role, caption, within in (
        ("first", _FIRST_CAPTION, True),
        ("first", _FIRST_ALONE, False),
        ("middle", _MIDDLE_CAPTION, False),
        ("last", _LAST_CAPTION, True),
        ("last", _LAST_ALONE, False),
        ("full", _FULL_CAPTION, False),
    ):
        # The box under a caption: its first line of text, a few rows down at most (a tall box
        # draws its value in the middle, beside other boxes' values); in a table of boxes (a
        # form's dependents), the names in the rows right below it too, up to the first row
        # that holds none.
        last_row: dict[int, int | None] = {}
        for cell in column_cells(
            page, caption, max_rows=4, gaps=3, within=within, match_text=lowered
        ):
            row = bisect.bisect_right(page.row_starts, page.word_index(cell.start)) - 1
            if cell.header in last_row and last_row[cell.header] != row - 1:
                last_row[cell.header] = None
                continue
            last_row[cell.header] = None
            start = _extend_left(page, cell.start)
            value = text[start : cell.end]
            if not _CAPTION_VALUE.fullmatch(value) or _trim(value) != (0, len(value)):
                continue
            if role == "full" and " " not in value:
                continue
            last_row[cell.header] = row
            cells.append((start, cell.end, role))
    cells = sorted(set(cells))
    index = 0
    while index < len(cells):
        start, end, role = cells[index]
        # Parts in order (first, middle, last) with only column gaps between are one name.
        while (
            role in _NAME_ORDER
            and index + 1 < len(cells)
            and _NAME_ORDER.get(cells[index + 1][2], -1) > _NAME_ORDER[role]
            and not text[end : cells[index + 1][0]].strip()
            and "\n" not in text[end : cells[index + 1][0]]
        ):
            index += 1
            end, role = cells[index][1], cells[index][2]
        yield Candidate("PERSON", start, end, 0.8)
        index += 1


def _extend_left(page: PageText, start: int) -> int:
    """A value can start a little left of its caption (the caption is indented in its box):
    capitalised words just before the cell, a plain space away and drawn in the same size (the
    same field's value, not a printed caption), belong to it."""
    text = page.text
    index = page.word_index(start)
    first = page.words[index]
    while index > 0 and text[page.starts[index] - 1] == " ":
        previous = page.words[index - 1]
        same_size = abs((previous.y1 - previous.y0) - (first.y1 - first.y0)) <= 0.1 * (
            first.y1 - first.y0
        )
        if not same_size or not previous.text[:1].isupper() or previous.text.lower() in _STOP:
            break
        index -= 1
    return page.starts[index]


def _labels_a_person(text: str, label: str, start: int) -> bool:
    """Whether the label at `start` names a person: a bare "Name:" after another word does not
    ("Company name:", "Product name:")."""
    label = label.lower()
    if not label.endswith("name") or label != "name":
        return True
    row_start = text.rfind("\n", 0, start) + 1
    previous = _PREVIOUS_WORD.search(text, row_start, start)
    return previous is None or previous[1].lower() in _NAME_LABEL_QUALIFIERS
