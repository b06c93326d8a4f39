"""Damage MuPDF reports while reading a PDF: which pages were read only in part, and why.

MuPDF reads what it can of a damaged PDF and says what it skipped only as warnings in a
process-wide list (`pymupdf.TOOLS.mupdf_warnings`). A truncated file is opened by repairing it
(`Document.is_repaired`: the cross-reference table was rebuilt by scanning the file), and a page
whose content stream was cut or garbled yields the words before the damage with no exception. So
the warnings are drained right after each MuPDF call that reads a page (the caller holds the
MuPDF gate, so no other thread's warnings mix in) and sorted by kind:

- syntax errors in the content stream (MuPDF skips the operators it cannot parse);
- stream data that ended prematurely or does not decode (zlib, LZW), or content streams missing;
- in a repaired file, objects the page refers to that are not in the file.

Other kinds (fonts, colour spaces and ICC profiles, graphics states, JPX quirks, appearance
streams) change how a page looks, not what text it holds, and are not damage. A flate stream
that stops before zlib's end marker in a file that needed no repair is how some writers
(Acrobat) leave appearance streams ("input stream is complete but output may still be valid",
qpdf); only in a repaired file is "premature end of data" taken as truncation. Kinds were chosen
from MuPDF 1.28's messages over the public corpora (`bench/pdf_damage.py`).

A warning can quote the document's own tokens ("unknown keyword: '...'"): quoted text is dropped
before matching, and no warning text ever reaches a message.
"""

from __future__ import annotations

import re

import pymupdf

# Printed errors quote the document's tokens: they must not reach the logs. They are still kept in
# the warnings list, which is what is read here.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)

SYNTAX = "its content stream has syntax errors"
TRUNCATED = "its content ended prematurely"
UNDECODABLE = "its content holds data that does not decode"
MISSING_CONTENT = "part of its content is missing"
MISSING_OBJECTS = "objects it refers to are missing"
MISSING_PAGE = "its page object is missing"

# (cause, fragments of MuPDF warnings, counted only in a repaired file)
_KINDS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    (
        SYNTAX,
        (
            "syntax error in content stream",
            "unknown keyword",
            "too many syntax errors",
            "syntax error after inline image",
            "not closed before end of file",
            "cannot find XObject resource",  # a form XObject holds text too
        ),
        False,
    ),
    (UNDECODABLE, ("zlib error", "lzw decode", "read error; treating as end of file"), False),
    (MISSING_CONTENT, ("cannot load content stream", "is not a stream"), False),
    (TRUNCATED, ("premature end of data", "truncated"), True),
    # A reference to an object that does not exist is null by the PDF standard (ISO 32000-1
    # 7.3.10), so only in a repaired file does it mean the object was lost.
    (
        MISSING_OBJECTS,
        ("cannot find object in xref", "cannot load object", "missing 'endobj'"),
        True,
    ),
)

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\([^)]*\)")


def drain() -> str:
    """MuPDF's warnings since the last drain (flushing its "... repeated N times..." count),
    emptied so the next call starts clean."""
    return pymupdf.TOOLS.mupdf_warnings(reset=True)


def causes(warnings: str, *, repaired: bool) -> list[str]:
    """The damage causes (module constants, in `_KINDS` order) that `warnings` (as `drain`
    returns them) report; empty when none is damage."""
    lines = [_QUOTED.sub("", line) for line in warnings.splitlines()]
    found = []
    for cause, fragments, only_repaired in _KINDS:
        if only_repaired and not repaired:
            continue
        if any(fragment in line for line in lines for fragment in fragments):
            found.append(cause)
    return found


def page_object_missing(doc: pymupdf.Document, page: pymupdf.Page) -> bool:
    """True when a repaired file's page tree points at an object that is not a page (it was lost
    and MuPDF stands an empty page in for it)."""
    try:
        xref = page.xref
        return not 0 < xref < doc.xref_length() or doc.xref_get_key(xref, "Type") != (
            "name",
            "/Page",
        )
    except Exception:
        return True


def missing_annotations(doc: pymupdf.Document, page: pymupdf.Page) -> int:
    """How many of the page's annotation references point at no object (in a repaired file: the
    annotation was lost)."""
    try:
        kind, value = doc.xref_get_key(page.xref, "Annots")
        if kind == "xref":  # the array itself is an indirect object
            kind, value = "array", doc.xref_object(int(value.split()[0]), compressed=True)
        if kind != "array":
            return 0
        refs = [int(number) for number in re.findall(r"(\d+) \d+ R", value)]
        length = doc.xref_length()
        return sum(1 for ref in refs if not 0 < ref < length or doc.xref_object(ref) == "null")
    except Exception:
        return 0


def message(name: str, number: int, found: list[str]) -> str:
    """The unread part's message: the document, the page and the causes, never content."""
    return f"{name}: page {number}: {'; '.join(found)}; the page may be partly read"
