"""The text content of HTML and XML, as rows whose words keep their line and character offset in
the decoded source.

Parsed with the standard library's `html.parser`, fed in chunks: it is lenient (a damaged page
still gives its text), never fetches anything and never expands entities declared in a DTD, so
an XML entity bomb ("billion laughs") is inert text here.

- HTML: text flows into rows as a browser lays it out: block elements (p, div, br, li, tr, h1...)
  start a new row, table cells are separated by a column gap; script and style contents are not
  text. Attributes that carry text are read as rows "attribute: value": `alt`, `title`, `value`,
  `placeholder`, `label`, `aria-label` and `content` (browsers show or submit them), every
  `data-*` attribute (a page's data for its scripts: "data customer email: ..."), and the
  targets of links and embedded resources (`href`, `src`, `action`, `cite`, `poster`,
  `formaction`), decoded by `links.link_line`: a `mailto:` or `tel:` link's address ("email:
  ...", "phone: ..."), another URL's path, query and fragment ("link: people ann@mail.test");
  `data:`, `javascript:` and similar URLs aside (an image's bytes, a script).
- Text a browser shows that is not in the text flow: the strings of CSS `content` declarations
  (CSS 2.1 §12.2, `::before`/`::after`; CSS escapes decoded) in `<style>` elements and `style`
  attributes ("content: ..."), and an `<iframe srcdoc>` document (HTML Living Standard §4.8.5),
  parsed as HTML, each of its rows a row "frame: ..." located at the attribute.
- Comments (`<!-- ... -->`, HTML and XML) are read as rows "comment: text": markup comments
  are where debugging output and notes end up.
- XML: each text run is a row labelled with its element ("full name: Maria Gonzalez" for
  `<full_name>`), each attribute a row "attribute: value" (namespace declarations aside): XML
  data files keep their values in both.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html.parser import HTMLParser

from pii_assets.documents.links import link_line
from pii_assets.documents.virtual import MAX_ROW_CHARS, Row, name_words, split_words
from pii_assets.models import DocumentError, ErrorClass

_READ_CHARS = 64 * 1024
# Elements that start a new row (HTML Living Standard §15.3 "flow content" rendered as blocks).
_BLOCKS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "body", "br", "caption", "dd"),
        *("details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "iframe"),
        *("legend", "li", "main", "nav", "ol", "option", "p", "pre", "section", "summary"),
        *("table", "tbody", "textarea", "tfoot", "thead", "title", "tr", "ul"),
    )
)
_CELLS = frozenset({"td", "th"})
_CELL_GAP = 4  # columns between table cells: wider than `COLUMN_GAP`, so a column break
_HTML_ATTRIBUTES = frozenset(
    {"alt", "title", "value", "content", "placeholder", "label", "aria-label"}
)
# Attributes holding a URL a page links to or loads (HTML Living Standard §4.6, §4.8, §4.10).
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "cite", "poster", "formaction"})
# URL schemes whose "path" is content, not text someone wrote: an inline resource, a script.
_CONTENT_SCHEMES = ("data:", "javascript:", "vbscript:", "blob:", "about:", "cid:")
# A CSS `content` declaration's value (up to ";" or "}" outside strings) and its strings.
_CSS_CONTENT = re.compile(
    r"""(?<![\w-])content\s*:((?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^;}"'])*)""",
    re.IGNORECASE | re.DOTALL,
)
_CSS_STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'""", re.DOTALL)
# CSS escapes (CSS Syntax Level 3 §4.3.7): hex digits and an optional space, or a character.
_CSS_ESCAPE = re.compile(r"\\([0-9A-Fa-f]{1,6})[ \t\n]?|\\(\n)|\\(.)", re.DOTALL)
# Nested `srcdoc` documents read at most this deep.
_MAX_FRAME_DEPTH = 4
# html.parser lowercases names; XML names keep their case ("dateOfBirth") from the raw tag.
_RAW_NAME = re.compile(r"<\s*([^\s/>]+)")
_RAW_ATTRIBUTE = re.compile(r"""\s([^\s=/>"']+)\s*=""")


def rows(stream: io.TextIOBase, *, xml: bool, name: str) -> Iterator[Row]:
    """Rows of the text content of the HTML or XML document read from `stream`; each row counts
    the source lines it completes (`Row.items`), so the rows add up to the source's lines.
    Raises DocumentError (CORRUPT) naming `name` when html.parser gives up on the markup."""
    parser = _TextParser(xml=xml)
    try:
        while chunk := stream.read(_READ_CHARS):
            parser.feed(chunk)
            yield from parser.take()
        parser.close()
    except AssertionError as exc:  # html.parser's way of giving up on a construct
        line, _ = parser.getpos()
        raise DocumentError(ErrorClass.CORRUPT, f"markup cannot be parsed at line {line}") from exc
    parser.end_row()
    yield from parser.take()
    # Lines after the last text (closing tags, blank lines) are read too.
    if parser.lines_total > parser.lines_counted:
        yield Row(items=parser.lines_total - parser.lines_counted)


def _link(value: str) -> tuple[str, str]:
    """(label, text) of a link target: ("email", "a@b.test") for "mailto:a@b.test", ("link",
    "people ann") for "https://x.test/people/ann"; ("", "") when it holds no text."""
    if value.lstrip()[:12].lower().startswith(_CONTENT_SCHEMES):
        return "", ""
    label, _, text = link_line(value).partition(": ")
    return (label, text) if text else ("", "")


def css_content_strings(css: str) -> Iterator[tuple[int, str]]:
    """(index in `css`, decoded text) of each string of the CSS `content` declarations in `css`
    (a style sheet or a `style` attribute's declarations)."""
    for declaration in _CSS_CONTENT.finditer(css):
        for string in _CSS_STRING.finditer(css, declaration.start(1), declaration.end(1)):
            raw = string.group(1) if string.group(1) is not None else string.group(2)
            text = _CSS_ESCAPE.sub(_css_unescape, raw)
            if text.strip():
                yield string.start() + 1, text


def _css_unescape(match: re.Match[str]) -> str:
    if match.group(1):
        code = int(match.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    return "" if match.group(2) else match.group(3)


def label(name: str) -> str:
    """An element or attribute name as words ("ns:dateOfBirth" reads "date of birth")."""
    return name_words(name.rsplit(":", 1)[-1])


class _TextParser(HTMLParser):
    def __init__(self, *, xml: bool, depth: int = 0) -> None:
        super().__init__(convert_charrefs=True)
        self._depth = depth  # how deep in `srcdoc` documents
        self._in_style = False
        if xml:
            # XML has no script or style elements whose content is not text.
            self.CDATA_CONTENT_ELEMENTS = ()
        self._xml = xml
        self._rows: list[Row] = []
        self._row = Row()
        self._gap = 1
        self._elements: list[str] = []  # open XML elements
        self._fed = 0  # characters fed so far
        self._base = 0  # absolute offset of `rawdata[0]` during the current feed
        self._at = 0  # index in `rawdata` where the current event starts
        self._skipping = 0  # depth inside HTML script/style
        self._ends_with_newline = False
        self.lines_counted = 0

    # Positions: html.parser calls `updatepos(i, j)` after each event with the event's end, so
    # the last `j` is where the next event (the one being handled) starts in `rawdata`.
    def updatepos(self, i: int, j: int) -> int:
        self._at = j
        return super().updatepos(i, j)

    def feed(self, data: str) -> None:
        self._base = self._fed - len(self.rawdata)
        self._fed += len(data)
        if data:
            self._ends_with_newline = data.endswith("\n")
        super().feed(data)

    def close(self) -> None:
        self._base = self._fed - len(self.rawdata)
        super().close()

    @property
    def lines_total(self) -> int:
        """Lines of the source read so far (a final line break ends the last line)."""
        return self.lineno - 1 if self._ends_with_newline else self.lineno

    def take(self) -> list[Row]:
        taken, self._rows = self._rows, []
        return taken

    def end_row(self) -> None:
        if self._row.tokens:
            # Count the source lines up to the row's last word.
            last = self._row.tokens[-1].line
            self._row.items = max(0, last - self.lines_counted)
            self.lines_counted += self._row.items
            self._rows.append(self._row)
        self._row = Row()
        self._gap = 1

    # --- Events ----------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._xml:
            self.end_row()
            raw_tag = self.get_starttag_text() or ""
            name = _RAW_NAME.match(raw_tag)
            self._elements.append(name[1] if name else tag)
            names = {n.lower(): n for n in _RAW_ATTRIBUTE.findall(raw_tag)}
            wanted = [(names.get(k, k), v) for k, v in attrs if v and not k.startswith("xmlns")]
        else:
            if tag in ("script", "style"):
                self._skipping += 1
                self._in_style = tag == "style"
            if tag in _BLOCKS:
                self.end_row()
            if tag in _CELLS:
                self._gap = _CELL_GAP
            wanted = [
                (k, v) for k, v in attrs if v and (k in _HTML_ATTRIBUTES or k.startswith("data-"))
            ]
            wanted.extend(_link(v) for k, v in attrs if k in _URL_ATTRIBUTES and v)
            for k, v in attrs:
                if k == "style" and v:
                    wanted.extend(("content", text) for _, text in css_content_strings(v))
                elif k == "srcdoc" and v and tag == "iframe":
                    wanted.extend(("frame", text) for text in self._frame_rows(v))
            wanted = [(k, v) for k, v in wanted if k]
            if tag == "meta":  # <meta name="author" content="...">: the name labels the content
                names = dict(attrs)
                meta = names.get("name") or names.get("property") or names.get("itemprop")
                wanted = [(meta or k, v) for k, v in wanted]
        if wanted:
            self._attribute_rows(wanted)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if self._xml:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._xml:
            self.end_row()
            open_elements = [element.lower() for element in self._elements]
            if tag in open_elements:
                del self._elements[len(open_elements) - 1 - open_elements[::-1].index(tag) :]
            return
        if tag in ("script", "style") and self._skipping:
            self._skipping -= 1
            self._in_style = False
        if tag in _BLOCKS:
            self.end_row()

    def handle_data(self, data: str) -> None:
        if self._in_style and not self._xml:
            self._style_rows(data)
            return
        if self._skipping or not data.strip():
            return
        line, _ = self.getpos()
        raw_start = self._at
        if self._xml:
            self.end_row()
            if self._elements:
                self._row.add_text(label(self._elements[-1]) + ":", line=line)
        self._add(data, line=line, raw_start=raw_start)
        if self._xml:
            self.end_row()

    def handle_comment(self, data: str) -> None:
        """A comment as a row of its own, "comment: text"; the text starts 4 characters after
        the "<" of "<!--"."""
        if self._skipping or not data.strip():
            return
        line, _ = self.getpos()
        self.end_row()
        self._row.add_text("comment:", line=line)
        self._add(data, line=line, raw_start=self._at + 4)
        self.end_row()

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """`<![keyword[...]]>` with a keyword html.parser does not know is skipped as markup
        (its content then reads as text) instead of stopping the parse."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            return i + 3

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):  # <![CDATA[...]]>: text, 9 characters after the "<"
            line, _ = self.getpos()
            text = data[len("CDATA[") :]
            if text.strip():
                if self._xml:
                    self.end_row()
                    if self._elements:
                        self._row.add_text(label(self._elements[-1]) + ":", line=line)
                self._add(text, line=line, raw_start=self._at + 9)
                if self._xml:
                    self.end_row()

    # --- Rows ------------------------------------------------------------------------------

    def _add(self, text: str, *, line: int, raw_start: int) -> None:
        """The words of `text` (unescaped source text starting at `rawdata[raw_start]`) on the
        current row, each with its line and its offset in the decoded source."""
        raw = self.rawdata
        cursor = raw_start
        gap = self._gap
        for index, word in split_words(text):
            found = raw.find(word, cursor, cursor + len(word) + 4 * (index + 64))
            # A word written with character references ("M&uuml;ller") is not in the source as
            # it reads; it is placed where the source's reading had got to.
            position = found if found >= 0 else cursor
            cursor = position + (len(word) if found >= 0 else 0)
            self._row.add_text(
                word,
                line=line + text.count("\n", 0, index),
                offset=self._base + position,
                gap=gap,
            )
            gap = 1
            if self._row.width > MAX_ROW_CHARS:
                self.end_row()
        self._gap = 1

    def _style_rows(self, css: str) -> None:
        """The strings of a style sheet's `content` declarations as rows "content: text"."""
        line, _ = self.getpos()
        start = self._at
        for index, text in css_content_strings(css):
            self.end_row()
            at = line + css.count("\n", 0, index)
            self._row.add_text("content:", line=at)
            self._add(text, line=at, raw_start=start + index)
            self.end_row()

    def _frame_rows(self, document: str) -> list[str]:
        """The rows of an `<iframe srcdoc>` document as texts (its words, its own attribute rows
        and frames included)."""
        if self._depth >= _MAX_FRAME_DEPTH:
            return [document]  # read as it is rather than not at all
        frame = _TextParser(xml=False, depth=self._depth + 1)
        frame.feed(document)
        frame.close()
        frame.end_row()
        texts = [" ".join(token.text for token in row.tokens) for row in frame.take()]
        return [text for text in texts if text.strip()]

    def _attribute_rows(self, attrs: list[tuple[str, str | None]]) -> None:
        raw_tag = self.get_starttag_text() or ""
        line, _ = self.getpos()
        saved, self._row, self._gap = self._row, Row(), 1
        for name, value in attrs:
            assert value is not None
            if not value.strip():
                continue
            self._row.add_text(label(name) + ":", line=line)
            found = raw_tag.find(value)
            position = self._at + (found if found >= 0 else 0)
            self._add(value, line=line + raw_tag.count("\n", 0, max(found, 0)), raw_start=position)
            self.end_row()
        self._row = saved
