"""Text an xlsx workbook holds outside its cells and comments, read from the package's XML for
`workbooks` (openpyxl's read-only reader skips all of it):

- each sheet's print headers and footers (ECMA-376 Part 1 §18.3.1.46 `headerFooter`: odd, even
  and first-page headers and footers), their formatting codes (§18.3.1.39: "&L", "&P", "&"font"",
  "&12", "&KFF0000"...) removed: area "header_footer";
- each sheet's data validations (§18.3.1.32 `dataValidation`, also Excel 2010's `x14:`
  extension): the string constants of `formula1`/`formula2` (a list validation's choices) and
  the prompt and error titles and messages: area "data_validation";
- the workbook's defined names (§18.2.5 `definedName`): the string and number constants of their
  formulas ("ssn_const" = `"495-41-3921"`) and their comments, as "name: value": area
  "defined_name". References to cells are not read again (the cells are);
- each sheet's cell hyperlinks (§18.3.1.47 `hyperlink`): the target of its external relationship
  (r:id, decoded by `links.link_line`: "email: ..." for a mailto: link), its `location` (a place
  in the workbook, "location: ...") and its `tooltip` ("screen tip: ..."): area "link", the
  reference the linked cell. The cell's display text is the cell's value, read with the cells;
- the sheet names (§18.2.19 `sheet` @name) as "sheet name: ..." lines: area "metadata" (a name
  shows on a tab, and is read nowhere else).

A sheet part is scanned for these elements (bytes, streamed) before it is parsed, so that sheets
without them cost one decompression; when parsed, rows are dropped as they end. Parts are parsed
with defusedxml.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator

from pii_assets.documents.links import link_line
from pii_assets.documents.ooxml_parts import external_targets, parse, relationships
from pii_assets.documents.virtual import name_words

_SCAN_CHUNK = 1 << 20
_MARKERS = (b"headerFooter", b"dataValidation", b"hyperlink")
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_HEADER_FOOTER = {
    "oddHeader": "header",
    "oddFooter": "footer",
    "evenHeader": "even page header",
    "evenFooter": "even page footer",
    "firstHeader": "first page header",
    "firstFooter": "first page footer",
}
_VALIDATION_ATTRIBUTES = ("promptTitle", "prompt", "errorTitle", "error")
# Header/footer formatting codes (§18.3.1.39): a font ("&"Arial,Bold""), a colour ("&KFF0000",
# a theme colour "&K01+000"), a font size ("&12"), a field or a switch (&P page, &N pages, &D
# date, &T time, &A sheet, &F file, &Z path, &G picture, &B &I &U &E &S &X &Y &O &H styles);
# "&&" is an ampersand. Sections (&L, &C, &R) become line breaks.
_CODE = re.compile(
    r'&&|&"[^"]*"|&K(?:[0-9A-Fa-f]{6}|\d\d[+-]\d{3})|&\d+|&[LCR]|&[PNDTAFZGBIUESXYOH]'
)
_STRING = re.compile(r'"((?:[^"]|"")*)"')
_NUMBER = re.compile(r"=?\s*[-+]?\d[\d.,]*")


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def header_footer_text(code: str) -> str:
    """A header or footer as it reads: formatting codes removed, sections as lines."""

    def replace(match: re.Match[str]) -> str:
        token = match.group()
        if token == "&&":
            return "&"
        if token in ("&L", "&C", "&R"):
            return "\n"
        return " " if token in ("&P", "&N", "&D", "&T", "&A", "&F", "&Z", "&G") else ""

    return "\n".join(" ".join(line.split()) for line in _CODE.sub(replace, code).splitlines())


def string_constants(formula: str) -> list[str]:
    """The string constants of a formula ('"a,b"' -> ['a,b']; "" inside is a quote)."""
    return [match.replace('""', '"') for match in _STRING.findall(formula)]


def sheet_texts(
    archive: zipfile.ZipFile, sheet_part: str, prefix: str
) -> Iterator[tuple[str, str | None, str]]:
    """(area, reference, text) of the sheet's headers, footers, data validations and hyperlinks;
    the reference is the sheet ("Staff!"), the validated range's first cell ("Staff!D2") or the
    linked cell. The part is streamed (any size); raises KeyError (no such part) or the parser's
    error."""
    from defusedxml.ElementTree import iterparse

    if not mentions(archive, sheet_part):
        return
    targets: dict[str, tuple[str, str]] | None = None
    with archive.open(sheet_part) as stream:
        for _, element in iterparse(stream, events=("end",)):
            name = _local(element.tag)
            if name == "row":
                element.clear()  # the cells are read by openpyxl
            elif name in _HEADER_FOOTER and element.text:
                if text := header_footer_text(element.text).strip():
                    yield "header_footer", prefix, f"{_HEADER_FOOTER[name]}: {text}"
            elif name == "dataValidation":
                yield from _validation_texts(element, prefix)
            elif name == "hyperlink":
                if targets is None:
                    targets = external_targets(archive, sheet_part)
                yield from _hyperlink_texts(element, targets, prefix)


def _hyperlink_texts(
    element,  # noqa: ANN001 - an ElementTree element
    targets: dict[str, tuple[str, str]],
    prefix: str,
) -> Iterator[tuple[str, str | None, str]]:
    cell = (element.get("ref") or "").split(":")[0]
    ref = f"{prefix}{cell}" if cell else prefix
    _, target = targets.get(element.get(_R_ID) or "", ("", ""))
    lines = [link_line(target) if target else ""]
    for attribute, label in (("location", "location"), ("tooltip", "screen tip")):
        value = " ".join((element.get(attribute) or "").split())
        lines.append(f"{label}: {value}" if value else "")
    for line in lines:
        if line:
            yield "link", ref, line


def sheet_name_texts(archive: zipfile.ZipFile) -> list[str]:
    """ "sheet name: ..." for each sheet the workbook part lists (§18.2.20 `sheets`), hidden ones
    included. Raises KeyError/ValueError or the parser's error when it cannot be read."""
    root = parse(archive, _workbook_part(archive))
    names = (element.get("name") or "" for element in root.iter() if _local(element.tag) == "sheet")
    return [f"sheet name: {' '.join(name.split())}" for name in names if name.strip()]


def _workbook_part(archive: zipfile.ZipFile) -> str:
    return next(
        (t for _, kind, t in relationships(archive, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )


def mentions(archive: zipfile.ZipFile, part: str) -> bool:
    """Whether the part's bytes hold a header/footer or a data validation element, read a chunk
    at a time (a marker split across chunks is found in the overlap)."""
    info = archive.getinfo(part)
    tail = b""
    with archive.open(info) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            window = tail + chunk
            if any(marker in window for marker in _MARKERS):
                return True
            tail = window[-32:]
    return False


def _validation_texts(element, prefix: str) -> Iterator[tuple[str, str | None, str]]:  # noqa: ANN001
    ranges = element.get("sqref") or next(
        (child.text or "" for child in element if _local(child.tag) == "sqref"), ""
    )
    first = ranges.split()[0].split(":")[0] if ranges.split() else ""
    ref = f"{prefix}{first}" if first else prefix
    for attribute in _VALIDATION_ATTRIBUTES:
        value = " ".join((element.get(attribute) or "").split())
        if value:
            yield "data_validation", ref, value
    for child in element.iter():
        if _local(child.tag) in ("formula1", "formula2"):
            for constant in string_constants("".join(child.itertext())):
                # A list's choices are comma-separated: spaced, so each reads as a word.
                text = ", ".join(c.strip() for c in constant.split(",") if c.strip())
                if text:
                    yield "data_validation", ref, text


def defined_name_texts(archive: zipfile.ZipFile) -> Iterator[tuple[str, str | None, str]]:
    """(area "defined_name", the name, "name: value") for each constant and comment of the
    workbook's defined names. Raises KeyError/ValueError or the parser's error when the
    workbook part cannot be read."""
    for element in parse(archive, _workbook_part(archive)).iter():
        if _local(element.tag) != "definedName":
            continue
        name = element.get("name") or ""
        label = name_words(name.removeprefix("_xlnm."))
        formula = (element.text or "").strip()
        values = string_constants(formula)
        if not values and _NUMBER.fullmatch(formula):
            values = [formula.lstrip("=").strip()]
        for attribute in ("comment", "description"):
            if note := " ".join((element.get(attribute) or "").split()):
                values.append(note)
        for value in values:
            if value.strip():
                yield "defined_name", name, f"{label}: {' '.join(value.split())}"


_ODF_STYLE = "{urn:oasis:names:tc:opendocument:xmlns:style:1.0}"
_ODF_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ODF_HEADER_FOOTER = {
    f"{_ODF_STYLE}header": "header",
    f"{_ODF_STYLE}footer": "footer",
    f"{_ODF_STYLE}header-left": "even page header",
    f"{_ODF_STYLE}footer-left": "even page footer",
    f"{_ODF_STYLE}header-first": "first page header",
    f"{_ODF_STYLE}footer-first": "first page footer",
}


def ods_header_footer_texts(archive: zipfile.ZipFile) -> Iterator[tuple[str, str | None, str]]:
    """(area "header_footer", None, "header: text") for the headers and footers of an ODS's
    page styles (ODF 1.2 Part 1 §16.9 `style:master-page`, §16.10 header and footer), hidden ones
    included; fields (page number, sheet name) read as the text LibreOffice stored for them.
    Raises KeyError/ValueError or the parser's error when `styles.xml` cannot be read."""
    if "styles.xml" not in archive.NameToInfo:
        return
    for page in parse(archive, "styles.xml").iter(f"{_ODF_STYLE}master-page"):
        for element in page:
            label = _ODF_HEADER_FOOTER.get(element.tag)
            if label is None:
                continue
            lines = [
                " ".join("".join(p.itertext()).split())
                for p in element.iter()
                if p.tag in (f"{_ODF_TEXT}p", f"{_ODF_TEXT}h")
            ]
            text = "\n".join(line for line in lines if line)
            if text:
                yield "header_footer", None, f"{label}: {text}"
