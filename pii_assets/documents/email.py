"""E-mail: RFC 5322 / MIME messages (.eml, parsed by the standard library's `email` package)
and Outlook .msg files (parsed by extract-msg).

A message is read as:
- its header fields, one row per field ("From: Maria Gonzalez <maria@example.com>"), decoded
  (RFC 2047 encoded words) and unfolded; area "email_header", counted as `email_headers`.
  Fields that only carry structure, signatures or message identifiers (Content-*,
  MIME-Version, DKIM/ARC signatures, Message-ID, References...) are left out: they hold no
  personal data and their tokens look like e-mail addresses.
- its text and HTML bodies (every alternative: they need not say the same), laid out like text
  and HTML files with `line`/`offset` into the decoded body; area "email_body", counted as
  `email_bodies`. A .msg body kept only as RTF is read by the Office reader as part "body:rtf".
- its attachments and embedded messages as parts ("attachment:<filename>") through `children`,
  so a PDF attachment is read as a PDF, a forwarded message as a message, and an attachment that
  cannot be read makes the message `partial`.
- an Outlook item that is not a message (contact, appointment, task, note) also has its fields
  read as rows "field name: value" (area "email_header").
"""

from __future__ import annotations

import contextlib
import email.header
import email.policy
import io
import itertools
import mimetypes
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from email.message import Message
from email.parser import BytesParser
from typing import Any

import extract_msg
from extract_msg.enums import AttachmentType

from pii_assets.documents import markup
from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.children import Child, read_children
from pii_assets.documents.text import decoded, document_encoding, line_rows, text_lines
from pii_assets.documents.virtual import Row, UnitsReader, cut, name_words, paginate
from pii_assets.models import Coverage, DocumentError, ErrorClass

# Header fields left out (lower case); everything else is read.
_STRUCTURAL_FIELDS = frozenset(
    {
        *("content-type", "content-transfer-encoding", "content-disposition", "content-id"),
        *("content-language", "mime-version", "message-id", "references", "in-reply-to"),
        *("dkim-signature", "domainkey-signature", "arc-seal", "arc-message-signature"),
        *("x-google-dkim-signature", "thread-index", "x-ms-tnef-correlator"),
    }
)
_STRUCTURAL_PREFIXES = ("x-ms-exchange-", "x-microsoft-antispam", "x-forefront-")
# MIME types that sign or wrap a message rather than carry content (RFC 8551, RFC 3156).
_SIGNATURES = frozenset(
    {
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "application/pgp-signature",
        "application/pgp-encrypted",
    }
)
_FOLD = re.compile(r"\r?\n[ \t]+")
# extract-msg attributes of non-message Outlook items that are formats, paths or views of what
# is read elsewhere (bodies, headers), not fields of the item.
_NOT_FIELDS = frozenset(
    {
        *("body", "htmlBody", "rtfBody", "htmlBodyPrepared", "htmlInjectableHeader", "header"),
        *("headerText", "path", "dateFormat", "datetimeFormat", "classType", "filename"),
        *("currentVersionName", "defaultFolderName", "prefix", "overrideEncoding"),
    }
)


def open_email(
    data: bytes,
    *,
    kind: str,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits,
) -> UnitsReader:
    """A reader over an e-mail message (`kind` "eml" or "msg"). Raises DocumentError (CORRUPT)
    when a .msg cannot be opened."""
    if kind == "msg":
        return _open_msg(data, name=name, passwords=passwords, limits=limits)
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    return UnitsReader(lambda coverage: _eml_units(message, name, coverage, passwords, limits))


# --- Shared layout -----------------------------------------------------------------------------


def header_rows(fields: Iterable[tuple[str, str]]) -> Iterator[Row]:
    """One row per header field that can hold personal data ("Field: decoded value"); a long
    value continues on the next rows."""
    for field, raw in fields:
        lowered = field.lower()
        if lowered in _STRUCTURAL_FIELDS or lowered.startswith(_STRUCTURAL_PREFIXES):
            continue
        value = _decoded_header(raw)
        if not value.strip():
            continue
        rows = [Row()]
        rows[0].add_text(f"{field}:")
        for index, piece in cut(value):
            if index:
                rows.append(Row())
            rows[-1].add_text(piece)
        rows[-1].items = 1
        yield from rows


def _decoded_header(raw: Any) -> str:
    """A header value as text: RFC 2047 encoded words decoded, folding removed."""
    text = str(raw)
    with contextlib.suppress(Exception):  # a malformed encoded word: keep the value as written
        text = str(email.header.make_header(email.header.decode_header(text)))
    return _FOLD.sub(" ", text).replace("\r", " ").replace("\n", " ")


def _body_units(
    text: str, *, html: bool, name: str, numbers: Iterator[int], coverage: Coverage
) -> Iterator[PageContent]:
    stream = io.StringIO(text, newline="")
    rows = markup.rows(stream, xml=False, name=name) if html else line_rows(text_lines(stream))
    for unit, _ in paginate(rows, area="email_body", numbers=numbers):
        if unit is not None:
            yield unit
    coverage.read("email_bodies")


def _header_units(
    fields: Iterable[tuple[str, str]], *, numbers: Iterator[int], coverage: Coverage
) -> Iterator[PageContent]:
    for unit, count in paginate(header_rows(fields), area="email_header", numbers=numbers):
        coverage.read("email_headers", count)
        if unit is not None:
            yield unit


def _attachments(
    children: list[Child],
    name: str,
    coverage: Coverage,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> Iterator[PageContent]:
    return read_children(
        children,
        name=name,
        parent_part=None,
        coverage=coverage,
        kind="attachments",
        passwords=passwords,
        limits=limits,
    )


# --- .eml ------------------------------------------------------------------------------------


def _eml_units(
    message: Message,
    name: str,
    coverage: Coverage,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> Iterator[PageContent]:
    numbers = itertools.count(1)
    yield from _header_units(message.raw_items(), numbers=numbers, coverage=coverage)
    bodies: list[tuple[str, Message]] = []
    children: list[Child] = []
    _walk(message, bodies, children)
    for index, (kind, part) in enumerate(bodies, start=1):
        try:
            text = part.get_content()
        except Exception as exc:  # an unknown transfer encoding, a payload that is no text
            coverage.unreadable(
                f"body {index}",
                ErrorClass.CORRUPT,
                f"{name}: e-mail body {index} ({kind}) cannot be decoded ({type(exc).__name__})",
            )
            continue
        yield from _body_units(
            text, html=kind == "html", name=name, numbers=numbers, coverage=coverage
        )
    yield from _attachments(children, name, coverage, passwords, limits)
    if _truncated(message):
        coverage.unreadable(
            "message",
            ErrorClass.CORRUPT,
            f"{name}: MIME structure is truncated (a closing boundary is missing); "
            "its last part may be incomplete",
        )


def _walk(part: Message, bodies: list[tuple[str, Message]], children: list[Child]) -> None:
    """Sorts the MIME tree's leaves into bodies and attachments (RFC 2046, RFC 2183)."""
    content_type = part.get_content_type()
    if content_type in ("message/rfc822", "message/global"):
        children.append(_embedded_message(part, len(children) + 1))
        return
    if part.is_multipart():
        for sub in part.get_payload():
            if isinstance(sub, Message):
                _walk(sub, bodies, children)
        return
    if content_type in _SIGNATURES:
        return
    inline = part.get_content_disposition() != "attachment" and not part.get_filename()
    if inline and content_type in ("text/plain", "text/html"):
        bodies.append(("html" if content_type == "text/html" else "text", part))
        return
    filename = part.get_filename() or _unnamed(len(children) + 1, content_type)
    children.append(
        Child(label=f"attachment:{filename}", load=lambda: part.get_payload(decode=True) or b"")
    )


def _embedded_message(part: Message, index: int) -> Child:
    filename = part.get_filename() or f"message-{index}.eml"

    def load() -> bytes:
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if not isinstance(inner, Message):
            return part.get_payload(decode=True) or b""
        return inner.as_bytes(policy=email.policy.default.clone(linesep="\r\n"))

    return Child(label=f"attachment:{filename}", load=load)


def _unnamed(index: int, content_type: str) -> str:
    return f"part-{index}{mimetypes.guess_extension(content_type) or '.bin'}"


def _truncated(message: Message) -> bool:
    from email import errors

    return any(
        isinstance(defect, errors.CloseBoundaryNotFoundDefect)
        for part in message.walk()
        for defect in part.defects
    )


# --- .msg ------------------------------------------------------------------------------------


def _open_msg(
    data: bytes, *, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> UnitsReader:
    try:
        item = extract_msg.openMsg(data, strict=False, delayAttachments=True)
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: Outlook message is damaged and cannot be opened"
        ) from exc

    def units(coverage: Coverage) -> Iterator[PageContent]:
        numbers = itertools.count(1)
        fields = _msg_header(item, name, coverage)
        yield from _header_units(fields, numbers=numbers, coverage=coverage)
        if not str(getattr(item, "classType", "") or "").lower().startswith("ipm.note"):
            yield from _header_units(_item_fields(item), numbers=numbers, coverage=coverage)
        children: list[Child] = []
        yield from _msg_bodies(item, name, numbers, coverage, children)
        children.extend(_msg_attachments(item, name, coverage))
        yield from _attachments(children, name, coverage, passwords, limits)

    return UnitsReader(units, close=item.close)


def _msg_header(item: Any, name: str, coverage: Coverage) -> list[tuple[str, str]]:
    try:
        header = item.header
    except Exception as exc:
        coverage.unreadable(
            "headers",
            ErrorClass.CORRUPT,
            f"{name}: Outlook message headers cannot be read ({type(exc).__name__})",
        )
        return []
    fields = list(header.items()) if header is not None else []
    # Without transport headers extract-msg builds the header from the item's properties, and
    # leaves the subject out.
    if not any(field.lower() == "subject" for field, _ in fields):
        subject = _msg_property(item, "subject", name, coverage)
        if isinstance(subject, str):
            fields.append(("Subject", subject))
    return fields


def _item_fields(item: Any) -> list[tuple[str, str]]:
    """The string fields extract-msg exposes for a contact, appointment, task or note."""
    fields: list[tuple[str, str]] = []
    for attribute in sorted(dir(type(item))):
        if attribute.startswith("_") or attribute in _NOT_FIELDS:
            continue
        if not isinstance(getattr(type(item), attribute, None), property) and (
            type(getattr(type(item), attribute, None)).__name__ != "cached_property"
        ):
            continue
        try:
            value = getattr(item, attribute)
        except Exception:  # a property this item does not have
            continue
        if isinstance(value, str) and value.strip():
            fields.append((name_words(attribute), value))
    return fields


def _msg_bodies(
    item: Any,
    name: str,
    numbers: Iterator[int],
    coverage: Coverage,
    children: list[Child],
) -> Iterator[PageContent]:
    plain = _msg_property(item, "body", name, coverage)
    html = _msg_property(item, "htmlBody", name, coverage)
    if isinstance(plain, str) and plain.strip():
        yield from _body_units(plain, html=False, name=name, numbers=numbers, coverage=coverage)
    if isinstance(html, bytes) and html.strip():
        encoding = document_encoding(html, kind="html") or "cp1252"
        text = decoded(html, encoding).read()
        yield from _body_units(text, html=True, name=name, numbers=numbers, coverage=coverage)
    if not (isinstance(plain, str) and plain.strip()) and not (html and html.strip()):
        rtf = _msg_property(item, "rtfBody", name, coverage)
        if isinstance(rtf, bytes) and rtf.strip():
            # Read by the Office reader (LibreOffice), as a part of its own.
            children.append(Child(label="body:rtf", load=lambda: rtf))


def _msg_property(item: Any, attribute: str, name: str, coverage: Coverage) -> Any:
    try:
        return getattr(item, attribute, None)
    except Exception as exc:  # extract-msg decodes lazily; a damaged stream raises here
        coverage.unreadable(
            attribute,
            ErrorClass.CORRUPT,
            f"{name}: Outlook {name_words(attribute)} cannot be decoded ({type(exc).__name__})",
        )
        return None


def _msg_attachments(item: Any, name: str, coverage: Coverage) -> list[Child]:
    children: list[Child] = []
    for index, attachment in enumerate(getattr(item, "attachments", []) or [], start=1):
        filename = _attachment_name(attachment, index)
        label = f"attachment:{filename}"
        kind = getattr(attachment, "type", None)
        if kind == AttachmentType.MSG:
            children.append(Child(label=label, load=_exported(attachment, f"{name}: {label}")))
        elif kind in (AttachmentType.DATA, AttachmentType.SIGNED) and isinstance(
            attachment.data, bytes
        ):
            children.append(Child(label=label, load=_bytes_of(attachment.data)))
        elif kind == AttachmentType.WEB:
            continue  # a link to a file kept elsewhere (OneDrive, SharePoint): no content here
        else:
            coverage.unreadable(
                label,
                ErrorClass.UNSUPPORTED_FORMAT,
                f"{name}: {label} is an Outlook attachment of a kind that cannot be read",
            )
    return children


def _attachment_name(attachment: Any, index: int) -> str:
    for attribute in ("longFilename", "shortFilename", "displayName", "name"):
        try:
            value = getattr(attachment, attribute, None)
        except Exception:
            continue
        if isinstance(value, str) and value.strip():
            return value.strip()
    return f"attachment-{index}"


def _exported(attachment: Any, where: str) -> Callable[[], bytes]:
    """Loads an embedded Outlook message as a .msg file of its own."""

    def load() -> bytes:
        try:
            return bytes(attachment.data.exportBytes())
        except Exception as exc:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{where}: embedded Outlook message cannot be exported"
            ) from exc

    return load


def _bytes_of(data: bytes) -> Callable[[], bytes]:
    return lambda: data
