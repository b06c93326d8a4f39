"""Recognizers for payment cards, IBANs, ABA routing numbers and bank account numbers.

- Cards: a Luhn-valid number (ISO/IEC 7812-1 Annex B) whose issuer prefix and length belong to a
  card network (`CARD_BRANDS`). A run of digit groups can hold several numbers side by side ("4012
  8888 8888 1881 4012-8888-8888-1881"): each is found on its own, never merged with the next.
- IBANs: ISO 13616 — the mod-97 check (ISO 7064 MOD 97-10) and the country's length and BBAN
  structure from the IBAN registry (python-stdnum's copy) decide validity; a country's own bank
  registry check (stdnum's per-country modules) only raises confidence, because registries lag
  behind banks. Groups may be separated by spaces or dashes.
- ABA routing numbers: the ABA checksum (3-7-1 weights, modulo 10) and a Federal Reserve routing
  symbol as the first two digits (American Bankers Association, "Routing Number Policy and
  Procedures"; the ranges are also those of the Federal Reserve's E-Payments Routing Directory).
- Bank account numbers: only after a label that names one ("Account number", "Kontonummer").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from stdnum import iban, luhn, numdb

from pii_assets.recognition.common import (
    Candidate,
    before,
    before_on_row,
    clamp,
    labelled_value,
    mentions,
)
from pii_assets.recognition.context import NOT_PII_CONTEXT

# --- Payment cards -------------------------------------------------------------------------------

# Issuer identification number ranges and lengths per network, from the networks' published IIN
# tables as compiled in Wikipedia's "Payment card number" article (its IIN ranges table):
# (network, ((low, high) prefixes of equal length, ...), lengths; empty: Maestro's 12 to 19).
CARD_BRANDS: tuple[tuple[str, tuple[tuple[str, str], ...], tuple[int, ...]], ...] = (
    ("American Express", (("34", "34"), ("37", "37")), (15,)),
    ("BORICA", (("2205", "2205"),), (16,)),
    ("China T-Union", (("31", "31"),), (19,)),
    ("China UnionPay", (("62", "62"), ("81", "81")), (16, 17, 18, 19)),
    ("Dankort", (("5019", "5019"), ("4571", "4571")), (16,)),
    ("Diners Club Carte Blanche", (("300", "305"),), (14,)),
    ("Diners Club International", (("36", "36"),), (14, 15, 16, 17, 18, 19)),
    ("Diners Club International", (("3095", "3095"), ("38", "39")), (16, 17, 18, 19)),
    ("Discover", (("6011", "6011"), ("644", "649"), ("65", "65")), (16, 17, 18, 19)),
    ("Discover", (("622126", "622925"),), (16, 17, 18, 19)),
    ("GPN", (("1946", "1946"), ("50", "50"), ("56", "56"), ("58", "58")), (16, 18, 19)),
    ("GPN", (("60", "63"),), (16, 18, 19)),
    ("Humo", (("9860", "9860"),), (16,)),
    ("InstaPayment", (("637", "639"),), (16,)),
    ("InterPayment", (("636", "636"),), (16, 17, 18, 19)),
    ("JCB", (("3528", "3589"),), (16, 17, 18, 19)),
    ("LankaPay", (("357111", "357111"),), (16,)),
    ("Maestro", (("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893")), ()),
    ("Maestro", (("6304", "6304"), ("6759", "6759"), ("6761", "6763")), ()),
    ("Maestro UK", (("676770", "676770"), ("676774", "676774")), ()),
    ("Mastercard", (("51", "55"), ("2221", "2720")), (16,)),
    ("Mir", (("2200", "2204"),), (16, 17, 18, 19)),
    ("Napas", (("9704", "9704"),), (16, 19)),
    ("RuPay", (("60", "60"), ("65", "65"), ("81", "82"), ("508", "508")), (16,)),
    ("RuPay", (("353", "353"), ("356", "356")), (16,)),
    ("Troy", (("65", "65"), ("9792", "9792")), (16,)),
    ("UATP", (("1", "1"),), (15,)),
    ("UzCard", (("8600", "8600"), ("5614", "5614")), (16,)),
    ("Verve", (("506099", "506198"), ("650002", "650027"), ("507865", "507964")), (16, 18, 19)),
    ("Visa", (("4", "4"),), (13, 16, 19)),
)
_MAESTRO_LENGTHS = tuple(range(12, 20))  # Maestro: 12 to 19 digits


def card_brand(digits: str) -> str | None:
    """The network whose IIN range and length the card number fits, or None. Ranges overlap
    (RuPay's 508 lies in GPN's 50): the longest matching prefix names the network."""
    best: tuple[int, str] | None = None
    for brand, ranges, lengths in CARD_BRANDS:
        if len(digits) not in (lengths or _MAESTRO_LENGTHS):
            continue
        for low, high in ranges:
            if low <= digits[: len(low)] <= high and (best is None or len(low) > best[0]):
                best = (len(low), brand)
    return best[1] if best else None


# A run of digit groups; long runs can hold several numbers side by side. OCR sometimes reads the
# space between groups as a full stop ("4353.0968 5409 8178").
_CARD_RUN = re.compile(r"(?=\d)(?<![\d.-])\d(?:[ .-]?\d){11,80}(?![\d-]|\.\d)")
_GROUP = re.compile(r"\d+")
_CARD_CONTEXT = re.compile(
    r"(?i)\b(?:card|visa|mastercard|amex|american express|discover|credit|debit|pan|maestro"
    r"|karte|kreditkarte|carte|tarjeta|carta|kaart|creditcard)\b"
)
_MAX_GROUPS = 8


def _card_shape(groups: list[re.Match[str]], text: str) -> bool:
    """Whether groups are printed like one card: unseparated, or groups of 3 to 6 digits with one
    kind of separator (a full stop is OCR's reading of a space)."""
    if len(groups) == 1:
        return True
    if any(not 3 <= len(g[0]) <= 6 for g in groups):
        return False
    separators = {
        text[a.end() : b.start()].replace(".", " ")
        for a, b in zip(groups, groups[1:], strict=False)
    }
    return len(separators) == 1


def cards(text: str) -> Iterator[Candidate]:
    """CREDIT_CARD candidates: every Luhn-valid number printed like a card in each digit run,
    confident when a network issues it (`card_brand`) or a card label precedes it."""
    for run in _CARD_RUN.finditer(text):
        groups = list(_GROUP.finditer(text, run.start(), run.end()))
        first = 0
        while first < len(groups):
            found = None
            # The longest run of groups from here that is a valid card; the rest is looked at
            # again, so the next number in the run is found too.
            for last in range(min(len(groups), first + _MAX_GROUPS), first, -1):
                part = groups[first:last]
                digits = "".join(g[0] for g in part)
                if 12 <= len(digits) <= 19 and _card_shape(part, text) and luhn.is_valid(digits):
                    found = last
                    break
            if found is None:
                first += 1
                continue
            start, end = groups[first].start(), groups[found - 1].end()
            digits = "".join(g[0] for g in groups[first:found])
            yield Candidate("CREDIT_CARD", start, end, _card_confidence(text, start, digits))
            first = found


def card_valid(digits: str, *, labelled: bool) -> bool:
    """Whether `digits` are a card number: 12 to 19 digits, Luhn-valid, and issued by a network
    (`card_brand`) unless a card label says what they are."""
    return (
        digits.isdigit()
        and 12 <= len(digits) <= 19
        and luhn.is_valid(digits)
        and (labelled or card_brand(digits) is not None)
    )


def _card_confidence(text: str, start: int, digits: str) -> float:
    if card_brand(digits):
        confidence = 0.9
    elif len(digits) >= 13:
        confidence = 0.4  # Luhn-valid, but no network issues such numbers
    else:
        confidence = 0.1
    if before(text, start, _CARD_CONTEXT):
        confidence += 0.08 if confidence > 0.5 else 0.3
    elif before_on_row(text, start, NOT_PII_CONTEXT):
        confidence -= 0.5
    return clamp(confidence)


# --- IBAN ----------------------------------------------------------------------------------------

# Groups are separated by spaces or dashes; OCR sometimes reads a space as a full stop, or adds
# one; a long IBAN may wrap onto the next line (the checksum decides whether the pieces belong
# together), but never into the next field's label ("IBAN:", "BIC").
_NEXT_LABEL = r"(?![A-Za-z][\w ]{0,20}[:#]|(?:IBAN|BIC|SWIFT|BLZ|BAN)\b)"
_IBAN = re.compile(
    r"(?=[A-Z])\b[A-Z]{2}[0-9OISB]{2}(?:(?:[.,:;-]? ?|\n" + _NEXT_LABEL + r")[A-Z0-9]{1,4}){3,8}\b"
)
_IBAN_GROUP = re.compile(r"[A-Z0-9]+")
_IBAN_CONTEXT = re.compile(r"(?i)\b(?:iban|bic|swift)\b")
# OCR's usual confusions inside the digits of an IBAN.
_OCR_DIGITS = str.maketrans({"O": "0", "I": "1", "L": "1", "S": "5", "B": "8", "Z": "2"})
_IBAN_REGISTRY = numdb.get("iban")
_BBAN_PART = re.compile(r"(\d+)!?[nac]")
MIN_IBAN = 15  # Norway's, the shortest in the registry


def iban_length(country: str) -> int | None:
    """The IBAN length of a country in the IBAN registry (python-stdnum's copy), or None."""
    info = _IBAN_REGISTRY.info(country)
    bban = info[0][1].get("bban") if info and info[0][1] else None
    if not bban:
        return None
    return 4 + sum(int(n) for n in _BBAN_PART.findall(bban))


def valid_iban(compact: str) -> bool:
    """ISO 13616: mod 97 and the country's length and structure. No bank registry lookup."""
    return iban.is_valid(compact, check_country=False)


def ibans(text: str) -> Iterator[Candidate]:
    """IBAN_CODE candidates (ISO 13616 valid), and claims over IBAN-shaped values that are not."""
    position = 0
    while m := _IBAN.search(text, position):
        groups = list(_IBAN_GROUP.finditer(m[0]))
        position = m.end()
        # The pattern may run into following words ("... 0130 00 BIC"): drop trailing groups
        # until the checksum holds.
        for count in range(len(groups), 0, -1):
            compact = "".join(g[0] for g in groups[:count])
            unseparated = count == 1 and not (
                valid_iban(compact) or _valid_after_ocr_repair(compact)
            )
            if len(compact) < MIN_IBAN or unseparated:
                # No leading groups make a valid IBAN (an unseparated one is one group).
                yield from _malformed(m, groups)
                break
            valid = valid_iban(compact) or _valid_after_ocr_repair(compact)
            if valid:
                end = m.start() + groups[count - 1].end()
                if before(text, m.start(), _IBAN_CONTEXT):
                    confidence = 0.99
                elif iban.is_valid(compact):  # the bank code is in the country's registry too
                    confidence = 0.95
                else:
                    confidence = 0.9
                yield Candidate("IBAN_CODE", m.start(), end, confidence)
                position = end  # what follows may be the next IBAN
                break


def _malformed(m: re.Match[str], groups: list[re.Match[str]]) -> Iterator[Candidate]:
    """A claim over an IBAN-shaped value that failed validation, as long as its country's IBAN
    would be: its digits are no card or phone number."""
    length = iban_length(m[0][:2])
    if length is None:
        return
    chars = 0
    for group in groups:
        chars += len(group[0])
        if chars >= length:
            break
    yield Candidate("IBAN_CODE", m.start(), m.start() + group.end(), 0.0, claim=True)


def _valid_after_ocr_repair(compact: str) -> bool:
    """Valid once letters OCR put among the digits are read as the digits they resemble: first in
    the check digits only, then in the whole account number (the checksum guards both)."""
    checks = compact[:2] + compact[2:4].translate(_OCR_DIGITS) + compact[4:]
    if checks != compact and valid_iban(checks):
        return True
    everything = compact[:2] + compact[2:].translate(_OCR_DIGITS)
    return everything not in (compact, checks) and valid_iban(everything)


# --- ABA routing numbers -------------------------------------------------------------------------

# Nine digits, or the "XXXX-YYYY-C" form printed on checks' fractional routing lines.
_ABA = re.compile(r"(?=\d)(?<![\d-])(?:\d{9}|\d{4}-\d{4}-\d)(?![\d-])")
_ABA_LABEL = re.compile(
    r"(?i)\b(?:routing|aba|rtn|transit(?: number)?|bank routing|routing transit|r/t)\b"
)
# The first two digits of a routing number: a Federal Reserve routing symbol (01-12), a thrift
# institution's (21-32), an electronic transaction's (61-72), traveller's cheques (80) or the US
# government's (00).
_ROUTING_SYMBOLS = frozenset((0, *range(1, 13), *range(21, 33), *range(61, 73), 80))


def aba_valid(digits: str) -> bool:
    """The ABA checksum and routing symbol of nine digits."""
    if len(digits) != 9 or not digits.isdigit() or int(digits[:2]) not in _ROUTING_SYMBOLS:
        return False
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0


def routing_numbers(text: str) -> Iterator[Candidate]:
    """ABA_ROUTING_NUMBER candidates: checksum-valid, confident after a routing label or in the
    XXXX-YYYY-C form."""
    for m in _ABA.finditer(text):
        if not aba_valid(m[0].replace("-", "")):
            continue
        if before(text, m.start(), _ABA_LABEL, 40):
            confidence = 0.95
        elif "-" in m[0]:
            confidence = 0.8
        else:
            # Nine bare digits pass the check one time in ten: a routing number needs its label.
            confidence = 0.4
        yield Candidate("ABA_ROUTING_NUMBER", m.start(), m.end(), confidence)


# --- Bank account numbers ------------------------------------------------------------------------

_ACCOUNT_LABEL = re.compile(
    r"(?i)(?<![\w-])(?:(?:bank|checking|chequing|savings|deposit|current) account"
    r"(?: (?:number|no\.?|nr\.?|#))?|(?<!customer )(?<!client )(?<!member )(?<!order )"
    r"(?:account|acct\.?|a/c) ?(?:number|no\.?|nr\.?|#)|kontonummer|konto-?nr\.?|kontonr\.?"
    r"|num[ée]ro de compte|n[°º] de compte|compte n[°º]|n[úu]mero de cuenta|n[°º] de cuenta"
    r"|numero di conto|conto n\.?|conto corrente(?: n\.?)?|rekeningnummer|rekening(?:nr\.?| nr\.?))"
    r"(?: \([^)\n]{0,30}\))?[ \t]*[:#.]?"
)
_ACCOUNT_VALUE = re.compile(r"(?<![\w-])\d(?:[ -]?\d){3,16}(?![\w-])")
_ACCOUNT_KEYS = ("account", "acct", "a/c", "konto", "compte", "cuenta", "conto", "rekening")


def account_number_valid(value: str) -> bool:
    """Whether `value` can be a bank account number: 4 to 17 digits, groups separated by spaces
    or dashes (no check digit exists to test)."""
    return _ACCOUNT_VALUE.fullmatch(value) is not None


def bank_accounts(text: str) -> Iterator[Candidate]:
    """BANK_ACCOUNT_NUMBER candidates: 4 to 17 digits right after an account label."""
    if not mentions(text, _ACCOUNT_KEYS):
        return
    for label in _ACCOUNT_LABEL.finditer(text):
        m = labelled_value(text, label, _ACCOUNT_VALUE, 30)
        if m is not None:
            yield Candidate("BANK_ACCOUNT_NUMBER", m.start(), m.end(), 0.85)
