"""What the pipeline keeps of each PII value it found: the value policy (`PII_ENTITY_VALUES`).

- `raw`: the value as found (the default);
- `masked`: a type-aware partial value (`mask`): the last four digits of a card, SSN, phone
  number or IBAN; the domain of an e-mail address; initials of a name; the year of a date of
  birth; the network part of an IP address;
- `hashed`: HMAC-SHA-256 of the value in a canonical form, keyed with `PII_ENTITY_HASH_KEY`
  (RFC 2104), so equal values join across documents without being readable;
- `none`: no value at all (text null); positions and entity types only.

The policy is applied to a document's result before it is written (`ValuePolicy.apply`), and
again when a dataset version takes in stored results, so a version never holds more than its
policy allows. A result written under a stricter policy cannot get its values back: under a
different policy it keeps no value (`none`), except that `raw` keeps whatever a result holds.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass, field, replace
from typing import Any

from pii_assets.models import DocumentResult

VALUE_POLICIES: tuple[str, ...] = ("raw", "masked", "hashed", "none")
# RFC 2104 §3: a key shorter than the hash output (32 bytes for SHA-256) weakens the HMAC.
MIN_HASH_KEY_BYTES = 32
HASH_ALGORITHM = "HMAC-SHA-256"
_MASK = "*"
_KEY_ID_MESSAGE = b"pii-pipeline value policy key id"
# Four-digit years a date of birth can hold; HIPAA's Safe Harbor method keeps the year of a date
# and removes every other element (45 CFR 164.514(b)(2)(i)(C)).
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


def _keep_last(text: str, keep: int, *, keep_first_letters: int = 0) -> str:
    """Every letter and digit masked but the last `keep` (and the first `keep_first_letters`
    characters, e.g. an IBAN's country code); separators stay, so the shape is recognisable."""
    positions = [i for i, ch in enumerate(text) if ch.isalnum()]
    shown = set(positions[-keep:]) if keep else set()
    shown |= set(positions[:keep_first_letters])
    return "".join(ch if (not ch.isalnum() or i in shown) else _MASK for i, ch in enumerate(text))


def _mask_email(text: str) -> str:
    local, at, domain = text.rpartition("@")
    return f"{_MASK * 3}@{domain}" if at and local else _MASK * 3


def _mask_person(text: str) -> str:
    initials = [part[0] for part in text.split() if part[:1].isalpha()]
    return " ".join(f"{letter.upper()}." for letter in initials) or _MASK * 3


def _mask_ip(text: str) -> str:
    """The network part, as Google Analytics' IP anonymization keeps it: an IPv4 address without
    its last octet, an IPv6 address without its last 80 bits."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return _MASK * 3
    if address.version == 4:
        return ".".join([*str(address).split(".")[:3], _MASK])
    network = ipaddress.ip_network(f"{address}/48", strict=False)
    return f"{network.network_address}{_MASK}"


def _mask_date(text: str) -> str:
    year = _YEAR.search(text)
    kept = range(year.start(), year.end()) if year else range(0)
    return "".join(_MASK if ch.isdigit() and i not in kept else ch for i, ch in enumerate(text))


def mask(entity_type: str, text: str) -> str:
    """The masked form of a value of `entity_type` (see the module docstring); a type without a
    rule of its own is masked completely."""
    if entity_type in ("CREDIT_CARD", "US_SSN", "PHONE_NUMBER"):
        return _keep_last(text, 4)
    if entity_type == "IBAN_CODE":
        return _keep_last(text, 4, keep_first_letters=2)
    if entity_type == "EMAIL_ADDRESS":
        return _mask_email(text)
    if entity_type == "PERSON":
        return _mask_person(text)
    if entity_type == "IP_ADDRESS":
        return _mask_ip(text)
    if entity_type == "DATE_OF_BIRTH":
        return _mask_date(text)
    return _MASK * 3


def canonical(entity_type: str, text: str) -> str:
    """The form a value is hashed in, so that one value written two ways hashes the same:
    digits only for cards, SSNs and phone numbers; letters and digits, upper case, for IBANs;
    lower case for e-mail addresses; the normalised address for IPs; case-folded words with
    single spaces otherwise."""
    if entity_type in ("CREDIT_CARD", "US_SSN", "PHONE_NUMBER"):
        return "".join(ch for ch in text if ch.isdigit())
    if entity_type == "IBAN_CODE":
        return "".join(ch for ch in text if ch.isalnum()).upper()
    if entity_type == "EMAIL_ADDRESS":
        return text.strip().lower()
    if entity_type == "IP_ADDRESS":
        try:
            return str(ipaddress.ip_address(text.strip()))
        except ValueError:
            return text.strip()
    return " ".join(text.casefold().split())


@dataclass(frozen=True, slots=True)
class ValuePolicy:
    """What results and the `entities` table keep of each value: one of `VALUE_POLICIES`.

    `hash_key` (bytes, at least `MIN_HASH_KEY_BYTES`) is required for `hashed` and never shown:
    it is left out of the repr and of comparisons, and only `key_id` (an HMAC of a constant,
    which reveals nothing of the key) is recorded, so readers know which key the hashes need.

    Raises ValueError for an unknown policy or a missing or short key under `hashed`; the
    message never holds the key.
    """

    mode: str = "raw"
    hash_key: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in VALUE_POLICIES:
            raise ValueError(f"the value policy must be one of {', '.join(VALUE_POLICIES)}")
        if self.mode == "hashed" and len(self.hash_key) < MIN_HASH_KEY_BYTES:
            raise ValueError(
                f"the value policy hashed needs a key of at least {MIN_HASH_KEY_BYTES} bytes"
            )

    @property
    def key_id(self) -> str | None:
        """16 hex digits naming the hash key (HMAC-SHA-256 of a fixed message), or None."""
        if self.mode != "hashed":
            return None
        return hmac.new(self.hash_key, _KEY_ID_MESSAGE, hashlib.sha256).hexdigest()[:16]

    def manifest_entry(self) -> dict[str, Any]:
        """How a dataset version's manifest records the policy."""
        entry: dict[str, Any] = {"policy": self.mode}
        if self.mode == "hashed":
            entry.update({"hash": HASH_ALGORITHM, "key_id": self.key_id})
        return entry

    def value(self, entity_type: str, text: str | None, mode: str | None = None) -> str | None:
        """What `mode` (default: this policy) keeps of one value: the value, its mask, its keyed
        hash (64 hex digits) or None."""
        mode = mode or self.mode
        if text is None or mode == "none":
            return None
        if mode == "raw":
            return text
        if mode == "masked":
            return mask(entity_type, text)
        message = f"{entity_type}\0{canonical(entity_type, text)}".encode()
        return hmac.new(self.hash_key, message, hashlib.sha256).hexdigest()

    def target_for(self, stored: str) -> str:
        """The policy a result written under `stored` ends up under: this one when the values
        can be derived (from raw, or already under it); otherwise `none`, except that `raw`
        keeps what the result holds (it can only be less than raw)."""
        if stored == self.mode or self.mode == "raw":
            return stored
        return self.mode if stored == "raw" else "none"

    def apply(self, result: DocumentResult) -> DocumentResult:
        """The result with each entity's text as this policy keeps it, and `entity_values` saying
        what its rows now hold. Raw values never survive a policy other than `raw`."""
        stored = result.entity_values or "raw"
        target = self.target_for(stored)
        if target == stored:
            return result
        entities = [
            replace(entity, text=self.value(entity.entity_type, entity.text, target))
            for entity in result.entities
        ]
        return replace(result, entities=entities, entity_values=target)
