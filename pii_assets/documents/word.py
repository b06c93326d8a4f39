"""Word documents (docx, docm, dotx): the pages as LibreOffice prints them, plus what printing
leaves out.

The pages carry the body, headers and footers, text boxes, footnotes and endnotes, and inserted
text (LibreOffice renders all of them; tests/test_word.py checks it). Two things a printout does
not show are read from the package's XML (ECMA-376 Part 1, WordprocessingML) and added as units
of their own:

- comments (§17.13.4, the comments part): area "comment";
- text deleted under tracked changes (§17.13.5.14 `w:del`, §17.13.5.22 `w:moveFrom`), in the
  body, headers, footers, notes and comments: area "tracked_change";
- text formatted hidden (§17.3.2.41 `w:vanish`, on the run or through its character or
  paragraph style), which LibreOffice does not print, in the body, headers, footers and notes:
  area "hidden_text";
- the targets of hyperlinks (`links.link_line`): the external hyperlink relationships of the
  body, headers, footers, notes and comments (§17.16.22 `w:hyperlink` r:id, ECMA-376 Part 2
  §9.3) and `HYPERLINK` field instructions (§17.16.5.25, in `w:instrText` and `w:fldSimple`
  @w:instr) with their screen tips (`\\o`, `w:tooltip`): a printout shows a link's display
  text, never where it goes ("write to us" for "mailto:ann@mail.test"): area "link";
- the document properties (`ooxml_parts`): area "metadata".

LibreOffice prints deleted text struck through where a document shows its changes; so that it is
read once, as a tracked change, the document is rendered in its final view (the settings part's
`w:revisionView w:insDel="0"`, §17.15.1.69, which LibreOffice honours).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from pii_assets.documents.base import DocumentLimits
from pii_assets.documents.links import link_line
from pii_assets.documents.office import convert_to_pdf, package_extras, without_metadata
from pii_assets.documents.ooxml_parts import (
    PagesAndUnits,
    hyperlink_targets,
    parse,
    parts_by_type,
    text_units,
)
from pii_assets.models import DocumentError, ErrorClass

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
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
_STYLES_TYPE = f"{_WML}styles+xml"
_SETTINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings"


def open_word(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> PagesAndUnits:
    """A reader over the Word document's pages, comments, deleted and hidden text and document
    properties; raises DocumentError (damaged, conversion failed or timed out) or ToolError (no
    LibreOffice)."""
    from pii_assets.documents.pdf import open_pdf

    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        parts = parts_by_type(package)
    except DocumentError:
        raise
    except Exception:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: Word document (zip) is damaged and cannot be read"
        ) from None
    with package:
        texts = _extras(package, parts, name=name)
        rendered = _final_view(package, parts) if texts.deletions else data
        header_footer_parts = sum(len(parts.get(t, [])) for t in _HEADER_FOOTER_TYPES)
    properties = package_extras(data, kind="docx")
    pdf = convert_to_pdf(rendered, kind="docx", name=name, timeout_s=limits.conversion_timeout_s)
    # LibreOffice copies the properties into the PDF's metadata: read once, from the package.
    reader = open_pdf(without_metadata(pdf), name=name, passwords=(), limits=limits)
    coverage = reader.coverage
    for part, message in texts.unread:
        coverage.unreadable(part, ErrorClass.CORRUPT, message)
    coverage.read("headers_footers", header_footer_parts)
    coverage.read("comments", len(texts.comments))
    coverage.read("tracked_changes", len(texts.deletions))
    coverage.read("hidden_text", len(texts.hidden))
    coverage.read("links", len(texts.links))
    properties.record(coverage, name=name)
    extras = [
        *text_units(texts.comments, area="comment"),
        *text_units(texts.deletions, area="tracked_change"),
        *text_units(texts.hidden, area="hidden_text"),
        *text_units(texts.links, area="link"),
        *properties.units,
    ]
    return PagesAndUnits(reader, extras)


@dataclass
class _Texts:
    comments: list[str] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    unread: list[tuple[str, str]] = field(default_factory=list)  # (part, message)


def _extras(package: zipfile.ZipFile, parts: dict[str, list[str]], *, name: str) -> _Texts:
    """The comment, deleted and hidden texts of the package, and the parts that cannot be read."""
    texts = _Texts()
    hidden_styles = _hidden_styles(package, parts, texts.unread, name=name)
    text_types = (*_MAIN_TYPES, *_HEADER_FOOTER_TYPES, *_NOTES_TYPES, _COMMENTS_TYPE)
    for content_type in text_types:
        for part in parts.get(content_type, []):
            try:
                root = parse(package, part)
            except Exception as exc:
                texts.unread.append(
                    (f"part:{part}", f"{name}: {part} cannot be read ({type(exc).__name__})")
                )
                continue
            texts.deletions.extend(_deleted_texts(root))
            try:
                targets = hyperlink_targets(package, part)
            except Exception as exc:
                rels = f"{part.rpartition('/')[0]}/_rels/{part.rpartition('/')[2]}.rels"
                texts.unread.append(
                    (f"part:{rels}", f"{name}: {rels} cannot be read ({type(exc).__name__})")
                )
                targets = []
            lines = [*map(link_line, targets), *_field_links(root)]
            texts.links.extend(line for line in lines if line)
            if content_type == _COMMENTS_TYPE:
                # Comments are read whole, their hidden runs included.
                texts.comments.extend(
                    text for c in root.iter(f"{_W}comment") if (text := _paragraphs(c)).strip()
                )
            else:
                texts.hidden.extend(_hidden_texts(root, hidden_styles))
    return texts


def _hidden_styles(
    package: zipfile.ZipFile,
    parts: dict[str, list[str]],
    unread: list[tuple[str, str]],
    *,
    name: str,
) -> frozenset[str]:
    """Ids of the styles whose run properties hide text (`w:vanish`, §17.3.2.41), directly or
    through the styles they are based on (§17.7.4.3)."""
    vanish: dict[str, bool] = {}
    based_on: dict[str, str] = {}
    for part in parts.get(_STYLES_TYPE, []):
        try:
            root = parse(package, part)
        except Exception as exc:
            unread.append((f"part:{part}", f"{name}: {part} cannot be read ({type(exc).__name__})"))
            continue
        for style in root.iter(f"{_W}style"):
            style_id = style.get(f"{_W}styleId") or ""
            properties = style.find(f"{_W}rPr")
            flag = _vanish(properties) if properties is not None else None
            if flag is not None:
                vanish[style_id] = flag
            parent = style.find(f"{_W}basedOn")
            if parent is not None:
                based_on[style_id] = parent.get(f"{_W}val") or ""
    hidden = set()
    for style_id in {*vanish, *based_on}:
        current, seen = style_id, set()
        while current and current not in vanish and current not in seen:
            seen.add(current)
            current = based_on.get(current, "")
        if vanish.get(current):
            hidden.add(style_id)
    return frozenset(hidden)


def _vanish(properties: Element) -> bool | None:
    """Whether run properties hide the text: True, False (`w:val` "0"/"false"/"off", ST_OnOff
    §17.17.4), or None when they say nothing."""
    element = properties.find(f"{_W}vanish")
    if element is None:
        return None
    return (element.get(f"{_W}val") or "true").lower() not in ("0", "false", "off")


def _hidden_texts(root: Element, hidden_styles: frozenset[str]) -> Iterator[str]:
    """The text of each paragraph's hidden runs (`w:r` whose properties, character style or
    paragraph style hide it), consecutive hidden runs joined; deleted text is not here (it is
    `w:delText`, read as a tracked change). A text box's paragraphs are their own; its copy in
    a markup-compatibility fallback (`mc:Fallback`, ECMA-376 Part 3 §10.2.1) is not read twice."""
    for paragraph in _outside_fallbacks(root, f"{_W}p"):
        paragraph_style = paragraph.find(f"{_W}pPr/{_W}pStyle")
        paragraph_hidden = (
            paragraph_style is not None and paragraph_style.get(f"{_W}val") in hidden_styles
        )
        pieces: list[str] = []
        for run in _outside_fallbacks(paragraph, f"{_W}r", stop=f"{_W}p"):
            if _run_hidden(run, paragraph_hidden, hidden_styles):
                pieces.append(_run_text(run))
            elif pieces:
                pieces.append("\n")
        for line in "".join(pieces).split("\n"):
            if line.strip():
                yield line


_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def _outside_fallbacks(element: Element, tag: str, *, stop: str | None = None) -> Iterator[Element]:
    """The descendants of `element` with `tag`, in document order, not inside an `mc:Fallback`
    nor inside a nested `stop` element (a text box's paragraph inside a paragraph's run)."""
    for child in element:
        if child.tag in (_FALLBACK, stop):
            continue
        if child.tag == tag:
            yield child
        yield from _outside_fallbacks(child, tag, stop=stop)


# A HYPERLINK field's target (quoted or not) and its screen tip switch (§17.16.5.25).
_HYPERLINK_FIELD = re.compile(r'^\s*HYPERLINK\s+(?:"([^"]*)"|(\S+))', re.IGNORECASE)
_SCREEN_TIP = re.compile(r'\\o\s+"([^"]*)"')


def _field_links(root: Element) -> Iterator[str]:
    """Lines (`link_line`) of the targets of the part's HYPERLINK fields, complex (`w:instrText`
    runs between a `w:fldChar` begin and its separator, §17.16.18) and simple (`w:fldSimple`
    @w:instr); a screen tip (`\\o "..."`, or `w:hyperlink` @w:tooltip) as "screen tip: text".
    Deleted instructions (`w:delInstrText`) are read as tracked changes."""
    instructions, pieces = [], []
    for node in root.iter():
        if node.tag == f"{_W}fldChar" and node.get(f"{_W}fldCharType") == "begin":
            instructions.append("".join(pieces))
            pieces = []
        elif node.tag == f"{_W}instrText" and node.text:
            pieces.append(node.text)
        elif node.tag == f"{_W}fldSimple":
            instructions.append(node.get(f"{_W}instr") or "")
        elif node.tag == f"{_W}hyperlink" and (tip := node.get(f"{_W}tooltip")):
            yield _line("screen tip", tip)
    instructions.append("".join(pieces))
    for instruction in instructions:
        match = _HYPERLINK_FIELD.match(instruction)
        if match:
            yield link_line(match.group(1) if match.group(1) is not None else match.group(2))
            yield from (_line("screen tip", tip) for tip in _SCREEN_TIP.findall(instruction))


def _line(label: str, text: str) -> str:
    text = " ".join(text.split())
    return f"{label}: {text}" if text else ""


def _run_hidden(run: Element, paragraph_hidden: bool, hidden_styles: frozenset[str]) -> bool:
    properties = run.find(f"{_W}rPr")
    if properties is not None:
        direct = _vanish(properties)
        if direct is not None:
            return direct
        style = properties.find(f"{_W}rStyle")
        if style is not None and style.get(f"{_W}val") in hidden_styles:
            return True
    return paragraph_hidden


def _run_text(run: Element) -> str:
    pieces = []
    for node in run:
        if node.tag == f"{_W}t" and node.text:
            pieces.append(node.text)
        elif node.tag in (f"{_W}tab", f"{_W}br", f"{_W}cr"):
            pieces.append(" ")
    return "".join(pieces)


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
