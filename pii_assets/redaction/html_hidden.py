"""What an HTML page holds but does not show as text, dropped from a redacted copy whatever the
pipeline found in it: comments, script contents, and the values of attributes that carry text
(`data-*`, `aria-*`, title, alt, value, content, placeholder, label; links with a `mailto:`,
`tel:` or `sms:` scheme or a query string). The page keeps its structure, links and styles.

Parsed with the standard library's `html.parser` (like `documents.markup`), which reports where
each event ends through `updatepos`: a dropped event's characters are cut out, a start tag with
a text-carrying attribute is written again with that value empty.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser

from pii_assets.redaction.common import RedactionFailed

_TEXT_ATTRIBUTES = frozenset(
    {"title", "alt", "value", "content", "placeholder", "label", "summary", "abbr", "download"}
)
_TEXT_PREFIXES = ("data-", "aria-")
_LINK_ATTRIBUTES = frozenset({"href", "src", "action", "cite", "formaction", "poster"})
_PERSONAL_SCHEMES = ("mailto:", "tel:", "sms:", "callto:")


def carries_text(name: str, value: str | None) -> bool:
    """Whether an attribute's value is text a person may have written (see the module)."""
    if not value:
        return False
    if name in _TEXT_ATTRIBUTES or name.startswith(_TEXT_PREFIXES):
        return True
    if name in _LINK_ATTRIBUTES:
        link = value.strip().lower()
        return link.startswith(_PERSONAL_SCHEMES) or "?" in link
    return False


class _Hidden(HTMLParser):
    """Collects (start, end, replacement) edits of the fed text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.edits: list[tuple[int, int, str]] = []
        self.comments = 0
        self.attributes = 0
        self.scripts = 0
        self._pending: str | None = None
        self._base = 0
        self._fed = 0
        self._in_script = False

    def feed(self, data: str) -> None:
        self._base = self._fed - len(self.rawdata)
        self._fed += len(data)
        super().feed(data)

    def close(self) -> None:
        self._base = self._fed - len(self.rawdata)
        super().close()

    def updatepos(self, i: int, j: int) -> int:
        # Called after each event with its start and end in `rawdata`.
        if self._pending is not None and j > i:
            self.edits.append((self._base + i, self._base + j, self._pending))
        self._pending = None
        return super().updatepos(i, j)

    def handle_comment(self, data: str) -> None:
        self.comments += 1
        self._pending = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, closed=False)
        if tag == "script":
            self._in_script = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, closed=True)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.scripts += 1
            self._pending = ""

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        text = [name for name, value in attrs if carries_text(name, value)]
        if not text:
            return
        self.attributes += len(text)
        kept = "".join(
            f" {name}" if value is None else f' {name}="{"" if name in text else escape(value)}"'
            for name, value in attrs
        )
        self._pending = f"<{tag}{kept}{' /' if closed else ''}>"


def _parsed(text: str) -> _Hidden:
    parser = _Hidden()
    parser.feed(text)
    parser.close()
    return parser


def drop_hidden(text: str) -> str:
    """`text` (a decoded HTML page) without comments, script contents and text-carrying
    attribute values."""
    out, position = [], 0
    for start, end, replacement in sorted(_parsed(text).edits):
        if start < position:  # html.parser never reports overlapping events; be safe
            continue
        out.append(text[position:start])
        out.append(replacement)
        position = end
    out.append(text[position:])
    return "".join(out)


def check_hidden(text: str) -> None:
    """Raises RedactionFailed when the copy still holds a comment, script content or a
    text-carrying attribute value (counts only)."""
    parser = _parsed(text)
    found = {
        "comments": parser.comments,
        "attribute values": parser.attributes,
        "scripts": parser.scripts,
    }
    left = {what: count for what, count in found.items() if count}
    if left:
        raise RedactionFailed(
            "the copy still holds " + ", ".join(f"{n} {what}" for what, n in left.items())
        )
