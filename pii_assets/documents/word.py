"""Word documents (docx, docm, dotx): the pages as LibreOffice prints them, plus what printing
leaves out.

The pages carry the body, headers and footers, text boxes, footnotes and endnotes, and inserted
text (LibreOffice renders all of them; tests/test_word.py checks it). Two things a printout does
not show are read from the package's XML (ECMA-376 Part 1, WordprocessingML) and added as units
of their own:

- comments (§17.13.4, the comments part): area "comment";
- text deleted under tracked changes (§17.13.5.14 `w:del`, §17.13.5.22 `w:moveFrom`), in the
  body, headers, footers, notes and comments: area "tracked_change".

LibreOffice prints deleted text struck through where a document shows its changes; so that it is
read once, as a tracked change, the document is rendered in its final view (the settings part's
`w:revisionView w:insDel="0"`, §17.15.1.69, which LibreOffice honours).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from xml.etree.ElementTree import Element

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.office import convert_to_pdf
from pii_assets.documents.paged import MupdfReader
from pii_assets.documents.virtual_page import text_lines
from pii_assets.models import DocumentError, ErrorClass

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml."
# Content types of the parts that hold text (§15.2): the main part of a document, a template
# or a macro-enabled one, headers, footers, footnotes, endnotes and comments.
_MAIN_TYPES = (
    f"{_WML}document.main+xml",
    f"{_WML}template.main+xml",
    "application/vnd.ms-word.document.macroEnabled.main+xml",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
)
_HEADER_FOOTER_TYPES = (f"{_WML}header+xml", f"{_WML}footer+xml")
_NOTES_TYPES = (f"{_WML}footnotes+xml", f"{_WML}endnotes+xml")
_COMMENTS_TYPE = f"{_WML}comments+xml"
_SETTINGS_TYPE = f"{_WML}settings+xml"
_SETTINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings"
# Parts larger than this are not parsed for comments and deletions (a document's XML is a few
# MB at most; a bigger part is a bomb, recorded as unread).
_MAX_PART_BYTES = 64 * 1024 * 1024
# Texts per comment or tracked-change unit.
_TEXTS_PER_UNIT = 50


class WordReader:
    """A `DocumentReader`: the rendered pages, then the comment and deleted-text units."""

    def __init__(self, pages: MupdfReader, extras: list[PageContent]) -> None:
        self._pages = pages
        self._extras = extras
        self.page_count = pages.page_count
        self.truncated = pages.truncated
        self.coverage = pages.coverage

    def pages(self) -> Iterator[PageContent]:
        yield from self._pages.pages()
        for offset, unit in enumerate(self._extras, start=1):
            unit.number = self.page_count + offset
            yield unit

    def close(self) -> None:
        self._pages.close()


def open_word(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> WordReader:
    """A reader over the Word document's pages, comments and deleted text; raises DocumentError
    (damaged, conversion failed or timed out) or ToolError (no LibreOffice)."""
    from pii_assets.documents.pdf import open_pdf

    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        parts = _parts_by_type(package)
    except DocumentError:
        raise
    except Exception:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: Word document (zip) is damaged and cannot be read"
        ) from None
    with package:
        comments, deletions, unread = _extras(package, parts, name=name)
        rendered = _final_view(package, parts) if deletions else data
        header_footer_parts = sum(len(parts.get(t, [])) for t in _HEADER_FOOTER_TYPES)
    pdf = convert_to_pdf(rendered, kind="docx", name=name, timeout_s=limits.conversion_timeout_s)
    reader = open_pdf(pdf, name=name, passwords=(), limits=limits)
    coverage = reader.coverage
    for part, message in unread:
        coverage.unreadable(part, ErrorClass.CORRUPT, message)
    coverage.read("headers_footers", header_footer_parts)
    coverage.read("comments", len(comments))
    coverage.read("tracked_changes", len(deletions))
    extras = [
        *_units(comments, area="comment"),
        *_units(deletions, area="tracked_change"),
    ]
    return WordReader(reader, extras)


def _units(texts: list[str], *, area: str) -> Iterator[PageContent]:
    for start in range(0, len(texts), _TEXTS_PER_UNIT):
        batch = texts[start : start + _TEXTS_PER_UNIT]
        words, width, height = text_lines([(None, text) for text in batch])
        yield PageContent(
            number=0,  # numbered after the pages by `WordReader.pages`
            words=words,
            source="plain",
            width=width,
            height=height,
            paged=False,
            area=area,
        )


def _parse(package: zipfile.ZipFile, part: str) -> Element:
    from defusedxml.ElementTree import fromstring

    info = package.getinfo(part)
    if info.file_size > _MAX_PART_BYTES:
        raise ValueError("part too large")
    return fromstring(package.read(info))


def _parts_by_type(package: zipfile.ZipFile) -> dict[str, list[str]]:
    """Part names (without the leading "/") by content type, from `[Content_Types].xml`."""
    types = _parse(package, "[Content_Types].xml")
    parts: dict[str, list[str]] = {}
    for override in types.iter(f"{_CT}Override"):
        name = (override.get("PartName") or "").lstrip("/")
        parts.setdefault(override.get("ContentType") or "", []).append(name)
    return parts


def _extras(
    package: zipfile.ZipFile, parts: dict[str, list[str]], *, name: str
) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """(comment texts, deleted texts, unread parts as (part, message)) of the package."""
    comments: list[str] = []
    deletions: list[str] = []
    unread: list[tuple[str, str]] = []
    text_types = (*_MAIN_TYPES, *_HEADER_FOOTER_TYPES, *_NOTES_TYPES, _COMMENTS_TYPE)
    for content_type in text_types:
        for part in parts.get(content_type, []):
            try:
                root = _parse(package, part)
            except Exception as exc:
                unread.append(
                    (f"part:{part}", f"{name}: {part} cannot be read ({type(exc).__name__})")
                )
                continue
            deletions.extend(_deleted_texts(root))
            if content_type == _COMMENTS_TYPE:
                comments.extend(
                    text for c in root.iter(f"{_W}comment") if (text := _paragraphs(c)).strip()
                )
    return comments, deletions, unread


def _paragraphs(element: Element) -> str:
    """The element's text as Word shows it: paragraphs as lines, tabs and breaks as spaces;
    deleted text left out (it is read as a tracked change)."""
    lines = []
    for paragraph in element.iter(f"{_W}p"):
        pieces = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                pieces.append(node.text)
            elif node.tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
                pieces.append(" ")
        lines.append("".join(pieces))
    return "\n".join(lines)


def _deleted_texts(root: Element) -> Iterator[str]:
    """The text of each deletion (`w:del`, `w:moveFrom`), one string per deletion."""
    for tag in (f"{_W}del", f"{_W}moveFrom"):
        for change in root.iter(tag):
            text = "".join(
                node.text or ""
                for node in change.iter()
                if node.tag in (f"{_W}delText", f"{_W}t", f"{_W}delInstrText")
            )
            if text.strip():
                yield text


_SETTINGS_ROOT = re.compile(rb"<(?:(\w+):)?settings\b[^>]*>")


def _final_view(package: zipfile.ZipFile, parts: dict[str, list[str]]) -> bytes:
    """The package with its settings asking for the final view (tracked deletions hidden):
    `w:revisionView w:insDel="0"` in the settings part, or in a settings part added for it."""
    settings = parts.get(_SETTINGS_TYPE, [])
    main = _main_part(parts)
    folder = main.rpartition("/")[0]
    rels = f"{folder}/_rels/{main.rpartition('/')[2]}.rels".lstrip("/")
    new_part = f"{folder}/pii-settings.xml".lstrip("/")
    relationship = (
        f'<Relationship Id="rIdPiiSettings" Type="{_SETTINGS_REL}" Target="pii-settings.xml"/>'
    ).encode()
    names = set(package.namelist())
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in package.infolist():
            content = package.read(info)
            if settings and info.filename == settings[0]:
                content = _hide_revisions(content)
            elif not settings and info.filename == "[Content_Types].xml":
                override = f'<Override PartName="/{new_part}" ContentType="{_SETTINGS_TYPE}"/>'
                content = content.replace(b"</Types>", override.encode() + b"</Types>")
            elif not settings and info.filename == rels:
                content = content.replace(b"</Relationships>", relationship + b"</Relationships>")
            target.writestr(info, content)
        if not settings:
            if rels not in names:
                target.writestr(
                    rels,
                    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                    b'relationships">' + relationship + b"</Relationships>",
                )
            target.writestr(
                new_part,
                f'<w:settings xmlns:w="{_W[1:-1]}"><w:revisionView w:insDel="0"/></w:settings>',
            )
    return out.getvalue()


def _main_part(parts: dict[str, list[str]]) -> str:
    return next((p for t in _MAIN_TYPES for p in parts.get(t, [])), "word/document.xml")


def _hide_revisions(settings: bytes) -> bytes:
    root = _SETTINGS_ROOT.search(settings)
    if root is None:
        return settings
    prefix = root.group(1).decode() + ":" if root.group(1) else ""
    element = f'<{prefix}revisionView {prefix}insDel="0"/>'.encode()
    existing = re.compile(rb"<" + prefix.encode() + rb"revisionView\b[^>]*/>")
    if existing.search(settings):
        return existing.sub(element, settings, count=1)
    return settings[: root.end()] + element + settings[root.end() :]
