"""Street addresses: US addresses parsed by `usaddress`, European street lines in the five
languages, and blocks after an address label.

- US: a line with a house number and a USPS street suffix ("12 Oak Street", "1600 Pennsylvania
  Ave NW") or a PO box is handed to `usaddress` (a CRF parser trained on US addresses) with the
  next line; the address is the run of tokens it labels as address parts, ending at the ZIP code,
  and it takes the next line only when that line is the city, state and ZIP.
- Europe: a German or Dutch street with its number ("Hauptstraße 12", "Keizersgracht 123"), a
  French, Spanish or Italian one ("12 rue de la Paix", "Calle Mayor 5", "Via Roma 10"), each with
  the next line when it is a postcode and town ("10115 Berlin", "1017 AB Amsterdam").
- A label ("Address:", "Anschrift:", "Adresse :", "Dirección:", "Indirizzo:", "Adres:") takes the
  rest of its line when it holds a number, and the next line when that is a postcode and town.

USPS street suffixes: USPS Publication 28, Appendix C1 (the commonest). Postcodes: 5 digits
(US ZIP, DE, FR, ES, IT), 4 digits and two letters (NL), 4 digits (AT, BE, CH).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import usaddress

from pii_assets.recognition.common import Candidate, mentions

_US_SUFFIXES = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl"
    "|terrace|ter|circle|cir|parkway|pkwy|highway|hwy|square|sq|trail|trl|plaza|plz|loop"
    "|alley|aly|row|run|path|pike|crescent|cres|close|expressway|expy|freeway|fwy|turnpike"
    "|tpke|route|rte|point|pt|ridge|rdg|heights|hts|hill|hl|park|pkwy|crossing|xing|cove|cv"
    "|creek|crk|glen|gln|grove|grv|harbor|hbr|meadow|mdw|meadows|mdws|view|vw|walk|wy"
)
_US_SUFFIX_WORDS = frozenset(_US_SUFFIXES.split("|")) | {"box"}
_WORDS = re.compile(r"[a-z]+")
# A US street line: house number, an optional direction, up to four name words, a suffix.
_US_STREET = re.compile(
    r"(?=[\dP])(?:(?<![\w.,/$#-])\d{1,6}[A-Z]?(?:-\d{1,5})? (?:[NSEW]\.? )?"
    r"(?:[A-Z0-9][\w'.-]* ){1,4}?"
    rf"(?i:{_US_SUFFIXES})\b\.?"
    r"|(?<![\w-])P\.? ?O\.? Box \d+)"
)
_CITY_STATE_ZIP = re.compile(
    r"[ \t]*[A-Z][A-Za-z.'-]*(?: [A-Z][A-Za-z.'-]*){0,3},? [A-Z]{2}\.?,? \d{5}(?:-\d{4})?\b"
)
# usaddress labels that belong to a street address (not Recipient, NotAddress, ...).
_US_PARTS = frozenset(
    (
        *("AddressNumber", "AddressNumberPrefix", "AddressNumberSuffix", "StreetName"),
        *("StreetNamePreDirectional", "StreetNamePreModifier", "StreetNamePreType"),
        *("StreetNamePostDirectional", "StreetNamePostModifier", "StreetNamePostType"),
        *("OccupancyType", "OccupancyIdentifier", "SubaddressType", "SubaddressIdentifier"),
        *("USPSBoxType", "USPSBoxID", "USPSBoxGroupType", "USPSBoxGroupID", "BuildingName"),
        *("PlaceName", "StateName", "ZipCode", "CornerOf", "IntersectionSeparator"),
    )
)
_TOWN_LABELS = frozenset(("PlaceName", "StateName", "ZipCode"))

# --- Europe --------------------------------------------------------------------------------------

_UP = "A-ZÀ-ÖØ-Þ"
_W = r"[\wÀ-ÿ'’.-]"
_HOUSE = r"\d{1,4}(?: ?[a-zA-Z])?(?:[-/]\d{1,4}[a-zA-Z]?)?"
_DE_NL_SUFFIXES = (
    "straße|strasse|str\\.|weg|allee|platz|gasse|ring|damm|ufer|chaussee|steig|pfad|markt|straat"
    "|laan|plein|gracht|kade|singel|dijk|hof|steeg"
)
_EU_STREET = re.compile(
    rf"(?=[\d{_UP}])(?<![\w-])(?:"
    # German and Dutch: the street type is the end of the name ("Hauptstraße", "Keizersgracht"),
    # and a number follows the name.
    rf"(?=[{_UP}][\w'’.-]* \d)[{_UP}]{_W}*(?:{_DE_NL_SUFFIXES}) {_HOUSE}(?![\w])"
    # French: number first ("12 rue de la Paix", "5 bis, avenue Foch").
    r"|\d{1,4}(?: ?(?:bis|ter|[A-Z]))?,? (?i:rue|avenue|av\.|boulevard|bd|chemin"
    rf"|place|allée|impasse|quai|route|cours|square|passage|voie)(?: {_W}+){{1,5}}"
    # Spanish and Italian: the street type first, the number last ("Calle Mayor, 5", "Via Roma 10").
    r"|(?:Calle|C/|Avenida|Avda\.|Av\.|Plaza|Pza\.|Paseo|Camino|Carretera|Ctra\."
    r"|Ronda|Travesía|Via|Viale|V\.le|Piazza|P\.zza|Corso|C\.so|Largo|Vicolo|Piazzale|Strada"
    rf"|Lungomare)(?: {_W}+){{1,5}}?,? (?:n[º°o.]\.? ?)?{_HOUSE}(?![\w])(?:,? \d+º ?\w?)?)"
)
# German and Dutch streets named by a preposition and a noun ("Am Markt 4", "An der Alster 12",
# "Op de Berg 3"): only with a postcode-and-town line, since "Im Jahr 2020" reads the same way.
_PREPOSITION_STREET = re.compile(
    r"(?=[AIZUOB])(?<![\w-])(?:Am|An der|An den|Auf dem|Auf der|Im|In der|In den|Zum|Zur"
    rf"|Unter den|Op de|Op het|Aan de|Aan het|In de|Bij de) [{_UP}]{_W}*(?: [{_UP}]{_W}*)?"
    rf" {_HOUSE}(?![\w])"
)
# The town line: a postcode and the town's name.
_POSTCODE_TOWN = re.compile(
    rf"[ \t]*(?:[A-Z]{{1,2}}-)?(?:\d{{5}}|\d{{4}} ?[A-Z]{{2}}|\d{{4}}) [{_UP}]{_W}*"
    rf"(?:[ -][{_UP}(]{_W}*\)?){{0,3}}"
)

# --- Labelled blocks -----------------------------------------------------------------------------

_ADDRESS_LABEL = re.compile(
    r"(?i)(?=[abcdhimprsw])(?<![\w-])(?<!e-mail )(?<!email )(?<!ip )(?<!web )(?<!mac )(?<!wallet )"
    r"(?:(?:home|mailing|postal|street|residential|billing|shipping|permanent"
    r"|current|correspondence) address|address(?: line 1)?|anschrift|wohnanschrift|adresse"
    r"|adresse postale|domicile|direcci[óo]n|domicilio|indirizzo|residenza|adres|woonadres"
    r"|postadres)(?: \([^)\n]{0,30}\))?[ \t]*:[ \t]*"
)
_ADDRESS_KEYS = (
    *("address", "anschrift", "adresse", "domicil", "direcci", "indirizzo", "residenza"),
    "adres",
)
# The value on the label's row: up to a column gap (tab) or the row's end.
_ROW_VALUE = re.compile(r"[^\t\n]*")


def addresses(text: str) -> Iterator[Candidate]:
    """STREET_ADDRESS candidates: US street lines, European street lines, labelled blocks (they
    may overlap; overlaps are settled when candidates are resolved)."""
    yield from _us_addresses(text)
    yield from _european_addresses(text)
    yield from _labelled_addresses(text)


def _us_addresses(text: str) -> Iterator[Candidate]:
    # A page without any street suffix word has no US street line: skip the per-number search.
    if _US_SUFFIX_WORDS.isdisjoint(_WORDS.findall(text.lower())):
        return
    for m in _US_STREET.finditer(text):
        line_end = _line_end(text, m.start())
        # An address ends at a column gap: the next column is another box's value ("1786 Harbor
        # Road<tab>Contoso Bank" on a form), and its town line is then not the next row.
        tab = text.find("\t", m.end(), line_end)
        if tab >= 0:
            line_end = tab
        window_end = line_end
        town = None
        if tab < 0 and line_end < len(text):
            town = _CITY_STATE_ZIP.match(text, line_end + 1)
        if town:
            window_end = town.end()
        span = _usaddress_span(text, m.start(), window_end, line_end)
        if span is None:
            continue
        start, end, has_town = span
        confidence = 0.9 if has_town else 0.75
        yield Candidate("STREET_ADDRESS", start, end, confidence)


def _usaddress_span(
    text: str, start: int, window_end: int, line_end: int
) -> tuple[int, int, bool] | None:
    """The address `usaddress` reads from `start`: (start, end, whether it has a town)."""
    window = text[start:window_end]
    try:
        parsed = usaddress.parse(window)
    except Exception:  # the parser's own errors on odd input: no address here
        return None
    labels: set[str] = set()
    end = start
    cursor = 0
    previous = ""
    for token, label in parsed:
        at = window.find(token.strip(), cursor)
        if at < 0 or label not in _US_PARTS:
            break
        if label == "OccupancyIdentifier" and previous != "OccupancyType":
            break  # a number after the address ("... 78701 440-600-5124") is no unit number
        if start + at > line_end and label not in _TOWN_LABELS:
            break  # the next line only lends its town, state and ZIP
        cursor = at + len(token.strip())
        end = start + cursor
        labels.add(label)
        previous = label
        if label == "ZipCode":
            break
    street = {"AddressNumber", "StreetName"} <= labels and (
        "StreetNamePostType" in labels or "StreetNamePreType" in labels
    )
    box = "USPSBoxID" in labels
    if not (street or box):
        return None
    end = start + len(text[start:end].rstrip(",;. \t\n"))
    if text[end : end + 1] == ".":
        end += 1  # "St." keeps its full stop
    return start, end, bool(labels & {"StateName", "ZipCode"})


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def _european_addresses(text: str) -> Iterator[Candidate]:
    for pattern, needs_town in ((_EU_STREET, False), (_PREPOSITION_STREET, True)):
        for m in pattern.finditer(text):
            candidate = _with_town(text, m)
            if candidate.confidence > 0.7 or not needs_town:
                yield candidate


def _with_town(text: str, m: re.Match[str]) -> Candidate:
    """The street line `m`, with the postcode-and-town line that follows it (or follows a comma)."""
    end = m.end()
    line_end = _line_end(text, m.start())
    town = None
    if end == line_end and line_end < len(text):
        town = _POSTCODE_TOWN.match(text, line_end + 1)
    elif text[end : end + 2] in (", ", " -"):
        town = _POSTCODE_TOWN.match(text, end + 1)
    if town:
        end = town.end()
    return Candidate("STREET_ADDRESS", m.start(), end, 0.85 if town else 0.7)


def _labelled_addresses(text: str) -> Iterator[Candidate]:
    if not mentions(text, _ADDRESS_KEYS):
        return
    for label in _ADDRESS_LABEL.finditer(text):
        start = label.end()
        if start < len(text) and text[start] == "\n":
            start += 1  # the value on the next line
        value = _ROW_VALUE.match(text, start)
        if value is None or not value[0].strip():
            continue
        end = start + len(value[0].rstrip(" ,;"))
        if not re.search(r"\d", text[start:end]) or not re.search(r"[^\W\d_]{2}", text[start:end]):
            continue
        line_end = _line_end(text, start)
        if end == line_end and line_end < len(text):
            town = _POSTCODE_TOWN.match(text, line_end + 1) or _CITY_STATE_ZIP.match(
                text, line_end + 1
            )
            if town:
                end = town.end()
        yield Candidate("STREET_ADDRESS", start, end, 0.85)
