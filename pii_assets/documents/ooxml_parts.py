"""Text an Office package holds outside what its pages or cells show: the document properties of
OOXML (docx, xlsx, pptx and their macro and template variants) and OpenDocument packages, and a
presentation's speaker notes. `word`, `office` and `workbooks` add it as units of their own.

- Document properties (area "metadata"): the core properties (ECMA-376 Part 2 §11, Dublin Core:
  title, subject, creator, keywords, description, last modified by, category, content status,
  identifier), the extended properties' Company, Manager and HyperlinkBase (ECMA-376 Part 1
  §22.2), every custom property (§22.3) as "name: value"; an ODF package's meta.xml (ODF 1.2
  Part 1 §4: title, description, subject, keywords, initial creator, creator, printed by, and
  user-defined fields). Dates, counts, the producing application and its version are left out:
  they name no one, and "Application: LibreOffice/7.4" would only feed false positives.
- Speaker notes (area "speaker_notes"): the notes slide of each slide (ECMA-376 Part 1 §13.3.5),
  found through the relationships from the presentation's slide list, one unit per slide located
  on that slide's page; in an ODP, each `draw:page`'s `presentation:notes` (ODF 1.2 §16.17).
  Neither LibreOffice's PDF export (without notes pages) nor a printout holds them.

Each text is one "label: value" line; every part is parsed with defusedxml and refused above
`MAX_PART_BYTES`. A part that cannot be parsed is returned as unread (part, message): messages
name the part and the exception type, never content.
"""

from __future__ import annotations

import posixpath
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from pii_assets.documents.base import DocumentReader, PageContent
from pii_assets.documents.virtual import name_words
from pii_assets.documents.virtual_page import text_unit

# A package's XML parts are a few MB at most; a bigger one is a bomb, recorded as unread.
MAX_PART_BYTES = 64 * 1024 * 1024
# Texts per unit of properties or notes.
TEXTS_PER_UNIT = 50

_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CORE_TYPE = "application/vnd.openxmlformats-package.core-properties+xml"
_APP_TYPE = "application/vnd.openxmlformats-officedocument.extended-properties+xml"
_CUSTOM_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CP = "{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}"
_APP = "{http://schemas.openxmlformats.org/officeDocument/2006/extended-properties}"
_CUSTOM = "{http://schemas.openxmlformats.org/officeDocument/2006/custom-properties}"
# Core properties that hold text someone wrote (dates and the revision number are left out).
_CORE_FIELDS = {
    f"{_DC}title": "title",
    f"{_DC}subject": "subject",
    f"{_DC}creator": "author",
    f"{_CP}keywords": "keywords",
    f"{_DC}description": "comments",
    f"{_CP}lastModifiedBy": "last modified by",
    f"{_CP}category": "category",
    f"{_CP}contentStatus": "status",
    f"{_DC}identifier": "identifier",
}
_APP_FIELDS = {f"{_APP}Company": "company", f"{_APP}Manager": "manager"}
_APP_FIELDS[f"{_APP}HyperlinkBase"] = "hyperlink base"
_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_PRESENTATION = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_SLIDE_REL = f"{_OFFICE_RELS}/slide"
_NOTES_REL = f"{_OFFICE_RELS}/notesSlide"
_ODF_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_ODF_META = "{urn:oasis:names:tc:opendocument:xmlns:meta:1.0}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
_ODF_PRESENTATION = "{urn:oasis:names:tc:opendocument:xmlns:presentation:1.0}"
_ODF_FIELDS = {
    f"{_DC}title": "title",
    f"{_DC}description": "comments",
    f"{_DC}subject": "subject",
    f"{_ODF_META}keyword": "keywords",
    f"{_ODF_META}initial-creator": "author",
    f"{_DC}creator": "last modified by",
    f"{_ODF_META}printed-by": "printed by",
}


@dataclass
class PackageTexts:
    """What was read from a package: texts ("label: value" lines), and the parts that could not
    be read as (part, message)."""

    texts: list[str] = field(default_factory=list)
    unread: list[tuple[str, str]] = field(default_factory=list)


def parse(package: zipfile.ZipFile, part: str) -> Element:
    """The part's XML (defusedxml: no entity expansion, no external resources); raises KeyError
    (no such part), ValueError (over `MAX_PART_BYTES`) or the parser's error."""
    from defusedxml.ElementTree import fromstring

    info = package.getinfo(part)
    if info.file_size > MAX_PART_BYTES:
        raise ValueError("part too large")
    return fromstring(package.read(info))


def parts_by_type(package: zipfile.ZipFile) -> dict[str, list[str]]:
    """Part names (without the leading "/") by content type, from `[Content_Types].xml`
    (ECMA-376 Part 2 §10.1.2.2); raises like `parse`."""
    types = parse(package, "[Content_Types].xml")
    parts: dict[str, list[str]] = {}
    for override in types.iter(f"{_CT}Override"):
        name = (override.get("PartName") or "").lstrip("/")
        parts.setdefault(override.get("ContentType") or "", []).append(name)
    return parts


def relationships(package: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """The part's internal relationships as (id, type, target part name), targets resolved
    against the part's folder (ECMA-376 Part 2 §9.3); [] when it has none."""
    folder, _, base = part.rpartition("/")
    rels_part = f"{folder}/_rels/{base}.rels".lstrip("/")
    if rels_part not in package.NameToInfo:
        return []
    found = []
    for rel in parse(package, rels_part).iter(f"{_RELS}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target") or ""
        resolved = posixpath.normpath(posixpath.join("/", folder, target)).lstrip("/")
        found.append((rel.get("Id") or "", rel.get("Type") or "", resolved))
    return found


def external_targets(package: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """The part's external relationships (`TargetMode="External"`, ECMA-376 Part 2 §9.3.2.2:
    hyperlinks, linked files) as {id: (type, target as written)}; {} when it has none. Raises
    like `parse`."""
    folder, _, base = part.rpartition("/")
    rels_part = f"{folder}/_rels/{base}.rels".lstrip("/")
    if rels_part not in package.NameToInfo:
        return {}
    return {
        rel.get("Id") or "": (rel.get("Type") or "", rel.get("Target") or "")
        for rel in parse(package, rels_part).iter(f"{_RELS}Relationship")
        if rel.get("TargetMode") == "External"
    }


def hyperlink_targets(package: zipfile.ZipFile, part: str) -> list[str]:
    """The targets of the part's external hyperlink relationships (§9.3, relationship type
    ".../hyperlink"), referenced or not, in the order written. Raises like `parse`."""
    return [
        target
        for kind, target in external_targets(package, part).values()
        if kind.endswith("/hyperlink") and target.strip()
    ]


def properties(package: zipfile.ZipFile, *, kind: str) -> PackageTexts:
    """The package's document properties as "label: value" texts: OOXML packages' core, extended
    and custom properties, ODF packages' meta.xml (`kind` "odt", "ods" or "odp")."""
    if kind in ("odt", "ods", "odp"):
        return _odf_properties(package)
    read = PackageTexts()
    try:
        parts = parts_by_type(package)
    except Exception as exc:
        read.unread.append(_unread("[Content_Types].xml", exc))
        return read
    for content_type, texts in (
        (_CORE_TYPE, _core_texts),
        (_APP_TYPE, _app_texts),
        (_CUSTOM_TYPE, _custom_texts),
    ):
        for part in parts.get(content_type, []):
            try:
                read.texts.extend(texts(parse(package, part)))
            except Exception as exc:
                read.unread.append(_unread(part, exc))
    return read


def _unread(part: str, exc: Exception) -> tuple[str, str]:
    return f"part:{part}", f"{part} cannot be read ({type(exc).__name__})"


def _line(label: str, value: str | None) -> str | None:
    value = " ".join((value or "").split())
    return f"{label}: {value}" if value else None


def _core_texts(root: Element) -> Iterator[str]:
    for element in root:
        label = _CORE_FIELDS.get(element.tag)
        if label and (line := _line(label, "".join(element.itertext()))):
            yield line


def _app_texts(root: Element) -> Iterator[str]:
    for element in root:
        label = _APP_FIELDS.get(element.tag)
        if label and (line := _line(label, element.text)):
            yield line


def _custom_texts(root: Element) -> Iterator[str]:
    """Custom properties (§22.3.2.2 `property`): the name as the label, the value's text."""
    for prop in root.iter(f"{_CUSTOM}property"):
        value = " ".join(t for t in prop.itertext() if t.strip())
        if line := _line(name_words(prop.get("name") or "property"), value):
            yield line


def _odf_properties(package: zipfile.ZipFile) -> PackageTexts:
    read = PackageTexts()
    if "meta.xml" not in package.NameToInfo:
        return read
    try:
        root = parse(package, "meta.xml")
    except Exception as exc:
        read.unread.append(_unread("meta.xml", exc))
        return read
    for meta in root.iter(f"{_ODF_OFFICE}meta"):
        for element in meta:
            if element.tag == f"{_ODF_META}user-defined":
                label = name_words(element.get(f"{_ODF_META}name") or "property")
            else:
                label = _ODF_FIELDS.get(element.tag, "")
            if label and (line := _line(label, "".join(element.itertext()))):
                read.texts.append(line)
    return read


# --- Speaker notes ------------------------------------------------------------------------------


def speaker_notes(package: zipfile.ZipFile) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    """A pptx's speaker notes: ([(slide number, text)], unread parts). Slides are numbered in the
    presentation's slide list order (§19.2.1.34 `sldIdLst`), as LibreOffice renders them."""
    notes: list[tuple[int, str]] = []
    unread: list[tuple[str, str]] = []
    try:
        main = next(
            (
                target
                for _, kind, target in relationships(package, "")
                if kind.endswith("/officeDocument")
            ),
            "ppt/presentation.xml",
        )
        presentation = parse(package, main)
        targets = {rid: target for rid, _, target in relationships(package, main)}
    except Exception as exc:
        return notes, [_unread("ppt/presentation.xml", exc)]
    slide_ids = presentation.iter(f"{_PRESENTATION}sldId")
    for number, slide_id in enumerate(slide_ids, start=1):
        slide = targets.get(slide_id.get(f"{{{_OFFICE_RELS}}}id") or "")
        if slide is None:
            continue
        try:
            notes_parts = [t for _, kind, t in relationships(package, slide) if kind == _NOTES_REL]
            for part in notes_parts:
                if text := _drawing_text(parse(package, part)):
                    notes.append((number, text))
        except Exception as exc:
            unread.append(_unread(f"{slide} notes", exc))
    return notes, unread


def _drawing_text(root: Element) -> str:
    """DrawingML text (§21.1.2): paragraphs as lines, breaks and tabs as spaces."""
    lines = []
    for paragraph in root.iter(f"{_A}p"):
        pieces = []
        for node in paragraph.iter():
            if node.tag == f"{_A}t" and node.text:
                pieces.append(node.text)
            elif node.tag in (f"{_A}br", f"{_A}tab"):
                pieces.append(" ")
        lines.append("".join(pieces))
    return "\n".join(line for line in lines if line.strip())


def odp_speaker_notes(
    package: zipfile.ZipFile,
) -> tuple[list[tuple[int, str]], list[tuple[str, str]]]:
    """An ODP's speaker notes: ([(page number, text)], unread parts); the text frames of each
    page's `presentation:notes`, the page thumbnail aside."""
    try:
        root = parse(package, "content.xml")
    except Exception as exc:
        return [], [_unread("content.xml", exc)]
    notes = []
    for number, page in enumerate(root.iter(f"{_ODF_DRAW}page"), start=1):
        for element in page.iter(f"{_ODF_PRESENTATION}notes"):
            lines = ["".join(p.itertext()) for p in element.iter() if p.tag in _ODF_PARAGRAPHS]
            text = "\n".join(line for line in lines if line.strip())
            if text:
                notes.append((number, text))
    return notes, []


_ODF_PARAGRAPHS = (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h")


# --- Units -------------------------------------------------------------------------------------


def text_units(
    texts: Sequence[str], *, area: str, number: int = 0, paged: bool = False
) -> Iterator[PageContent]:
    """Texts as units of at most `TEXTS_PER_UNIT` texts (`source` "plain"), each text its own
    lines; `number` and `paged` as `PageContent` has them (a slide's notes: its page number)."""
    for start in range(0, len(texts), TEXTS_PER_UNIT):
        batch = texts[start : start + TEXTS_PER_UNIT]
        yield text_unit([(None, text) for text in batch], area=area, number=number, paged=paged)


class PagesAndUnits:
    """A `DocumentReader`: the rendered pages, then units read from the package. Units without a
    page (`paged=False`) are numbered after the pages; paged ones (a slide's notes) keep the
    number of their page."""

    def __init__(self, pages: DocumentReader, extras: list[PageContent]) -> None:
        self._pages = pages
        self._extras = extras
        self.page_count = pages.page_count
        self.truncated = pages.truncated
        self.coverage = pages.coverage

    def pages(self) -> Iterator[PageContent]:
        yield from self._pages.pages()
        number = self.page_count
        for unit in self._extras:
            if not unit.paged:
                number += 1
                unit.number = number
            yield unit

    def close(self) -> None:
        self._pages.close()
