"""What a link target says, as text to read: one rule for the links of Word documents,
workbooks and HTML pages.

- `mailto:` (RFC 6068), `tel:` (RFC 3966) and `sms:` (RFC 5724) links: the address, percent-
  decoded ("mailto:a%40b.test" reads "a@b.test"), then the decoded header fields ("subject: ...").
- Any other URL (https, file, a relative path...): its path segments, query fields and fragment,
  percent-decoded, as words ("https://crm.test/u/ann%40mail.test?ssn=1" reads "u ann@mail.test
  ssn: 1"). The host is left out: it names a server, and reading it again for every link would
  only repeat it. A link with no path, query or fragment says nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

# Schemes whose address is a value, and the label of the kind of address.
ADDRESS_SCHEMES = {"mailto": "email", "tel": "phone", "sms": "phone"}


def address(url: str) -> tuple[str, str]:
    """("email", "a@b.test") for "mailto:a@b.test" (decoded, the header fields after the
    address); ("", "") for a link of any other scheme."""
    scheme, colon, rest = url.strip().partition(":")
    kind = ADDRESS_SCHEMES.get(scheme.lower()) if colon else None
    if kind is None:
        return "", ""
    where, _, query = rest.partition("?")
    pieces = [unquote(where).strip()]
    pieces.extend(_fields(query))
    return kind, " ".join(piece for piece in pieces if piece)


def link_text(url: str) -> str:
    """The text a link target holds, decoded as the module says ("" when none)."""
    url = url.strip()
    kind, text = address(url)
    if kind:
        return text
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host: read it undecoded rather than not at all
        return " ".join(url.split())
    pieces = [unquote(segment) for segment in parts.path.split("/") if segment]
    pieces.extend(_fields(parts.query))
    if parts.fragment:
        pieces.append(unquote(parts.fragment))
    return " ".join(" ".join(pieces).split())


def _fields(query: str) -> list[str]:
    """A query's fields as "name: value" (a field without a value: its name)."""
    fields = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        name, value = name.strip(), value.strip()
        fields.append(f"{name}: {value}" if name and value else name or value)
    return [field for field in fields if field]


def link_line(url: str) -> str:
    """A link target as one "label: text" line: "email: a@b.test", "phone: +1 555 0100", or
    "link: <path, query and fragment>"; "" when the target holds no text."""
    kind, text = address(url)
    if not kind:
        kind, text = "link", link_text(url)
    return f"{kind}: {text}" if text else ""
