"""Text formats: plain text, JSON, JSON Lines, XML and HTML, read as decoded text.

The bytes are decoded as they are read (`sniff.text_encoding`: byte-order mark, UTF-8, else
Windows-1252; XML/HTML also honour a declared charset) and laid out on virtual pages
(`virtual`), a bounded number of rows per unit:

- plain text: one row per line (a longer line cut at whitespace into several rows); each word
  carries its 1-based `line` and its character `offset` in the decoded text (after any
  byte-order mark), so entities get `line`, `char_start`, `char_end`. Area "text".
- JSON / JSON Lines: one row per scalar value, "key path: value", every word carrying the
  value's JSON path as `ref` (`$.customers[3].email`; JSON Lines `$[7].email`, 7 being the
  0-based record), so entities get their JSON path in `data_path`. Area "json". A JSON
  document is parsed as a stream (ijson), never held whole; a JSON Lines record is parsed on its
  own, and a record that is not JSON is recorded as an unread part ("line 12") while the others
  are read.
- XML / HTML: the text content (`markup`), with lines and offsets into the decoded source.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import ijson

from pii_assets.documents import markup
from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.sniff import TEXT_SAMPLE_BYTES, text_encoding
from pii_assets.documents.virtual import (
    MAX_ROW_CHARS,
    Row,
    UnitsReader,
    cut,
    name_words,
    paginate,
)
from pii_assets.models import Coverage, DocumentError, ErrorClass

# Characters decoded per read; lines are assembled from these.
_READ_CHARS = 64 * 1024
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The JSON path separator in a row's label ("customers[3] > full name: ..."): not a letter, so
# a recognizer never reads the previous key as a qualifier of the next ("person name").
_LABEL_SEPARATOR = " > "


def open_text(
    data: bytes,
    *,
    kind: str,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits,
) -> UnitsReader:
    """A reader over a text, JSON, JSON Lines, XML or HTML document (`kind` from `sniff`).

    Raises DocumentError (UNSUPPORTED_FORMAT) when the bytes are not text after all.
    """
    encoding = document_encoding(data, kind=kind)
    if encoding is None:
        raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: content is not text")

    def units(coverage: Coverage) -> Iterator[PageContent]:
        if kind == "json":
            yield from _json_units(data, encoding, name=name, coverage=coverage)
            return
        if kind == "jsonl":
            yield from _jsonl_units(decoded(data, encoding), name=name, coverage=coverage)
            return
        if kind in ("xml", "html"):
            rows = markup.rows(decoded(data, encoding), xml=kind == "xml", name=name)
        else:
            rows = line_rows(text_lines(decoded(data, encoding)))
        for unit, lines in paginate(rows, area="text"):
            coverage.read("lines", lines)
            if unit is not None:
                yield unit

    return UnitsReader(units)


def document_encoding(data: bytes, *, kind: str) -> str | None:
    """The codec for the document: `sniff.text_encoding`, except that XML and HTML that are not
    UTF-8 are decoded with the charset they declare (XML 1.0 §4.3.3, HTML's `<meta charset>`)
    when Python knows it."""
    sample = data[:TEXT_SAMPLE_BYTES]
    encoding = text_encoding(sample)
    if encoding == "cp1252" and kind in ("xml", "html"):
        declared = re.search(rb"""(?:encoding|charset)\s*=\s*["']?([A-Za-z0-9._:-]+)""", sample)
        if declared:
            try:
                return codecs.lookup(declared[1].decode("ascii")).name
            except LookupError:
                pass
    return encoding


def decoded(data: bytes, encoding: str) -> io.TextIOWrapper:
    """The document as a text stream that keeps line breaks as they are (so character offsets
    are those of the decoded text); undecodable bytes become U+FFFD."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")


def text_lines(stream: io.TextIOBase) -> Iterator[tuple[int, int, str]]:
    """(line number, offset, piece) for every line of the stream without its line break; a line
    longer than `MAX_ROW_CHARS` comes in several pieces with the same number. Blank lines give
    one empty piece. Lines end at LF, CRLF or CR (universal newlines)."""
    number, offset = 1, 0
    pending, pending_offset = "", 0
    split_crlf = False  # the read limit fell between a CR and its LF
    while chunk := stream.readline(_READ_CHARS):
        if split_crlf and chunk.startswith("\n"):
            pending_offset += 1
            chunk = chunk[1:]
            if not chunk:
                continue
        split_crlf = len(chunk) == _READ_CHARS and chunk.endswith("\r")
        body = chunk.rstrip("\r\n")
        if body != chunk:
            pending += body
            for index, piece in cut(pending):
                yield number, pending_offset + index, piece
            offset = pending_offset + len(pending) + len(chunk) - len(body)
            number, pending, pending_offset = number + 1, "", offset
        else:
            pending += chunk
            if len(pending) > MAX_ROW_CHARS:
                pieces = list(cut(pending))
                for index, piece in pieces[:-1]:
                    yield number, pending_offset + index, piece
                index, pending = pieces[-1]
                pending_offset += index
    if pending:
        for index, piece in cut(pending):
            yield number, pending_offset + index, piece


def line_rows(lines: Iterable[tuple[int, int, str]]) -> Iterator[Row]:
    """One row per piece of `text_lines`, counting one item per line."""
    previous: Row | None = None
    previous_number = 0
    for number, offset, piece in lines:
        if previous is not None:
            previous.items = 1 if number != previous_number else 0
            yield previous
        row = Row()
        row.add_text(piece, line=number, offset=offset)
        previous, previous_number = row, number
    if previous is not None:
        previous.items = 1
        yield previous


# --- JSON ------------------------------------------------------------------------------------


class _Utf8Stream(io.RawIOBase):
    """A decoded text stream re-encoded as UTF-8 bytes, for the JSON parser (RFC 8259 §8.1: JSON
    exchanged between systems is UTF-8, but files in UTF-16 exist)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while len(self._buffer) < len(target):
            chunk = self._text.read(_READ_CHARS)
            if not chunk:
                break
            self._buffer += chunk.encode("utf-8")
        count = min(len(target), len(self._buffer))
        target[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        return count


def _json_units(
    data: bytes, encoding: str, *, name: str, coverage: Coverage
) -> Iterator[PageContent]:
    if encoding in ("utf-8", "utf-8-sig"):
        source: Any = io.BytesIO(data[3:] if encoding == "utf-8-sig" else data)
    else:
        source = io.BufferedReader(_Utf8Stream(decoded(data, encoding)))
    progress = _Progress()
    for unit, count in paginate(_json_rows(source, progress), area="json"):
        coverage.read("json_values", count)
        if unit is not None:
            yield unit
    if progress.failed:
        values = progress.values
        coverage.unreadable(
            "json_values",
            ErrorClass.CORRUPT,
            f"{name}: JSON is malformed or truncated after {values} value"
            f"{'' if values == 1 else 's'}; the rest was not read",
        )


class _Progress:
    values = 0
    failed = False


def _json_rows(source: Any, progress: _Progress) -> Iterator[Row]:
    """One row per scalar of the streamed JSON document, from ijson's basic events; stops at
    the first syntax error (`progress.failed`), the rows before it kept."""
    # Each frame: [key or index, is_array]; the path is rebuilt from it per value.
    stack: list[list[Any]] = []
    events = ijson.basic_parse(source, use_float=False)
    while True:
        try:
            event, value = next(events)
        except StopIteration:
            return
        except ijson.JSONError:
            progress.failed = True
            return
        if event == "map_key":
            stack[-1][0] = value
            continue
        if event in ("end_map", "end_array"):
            stack.pop()
            continue
        if stack and stack[-1][1]:
            stack[-1][0] += 1
        if event == "start_map":
            stack.append([None, False])
        elif event == "start_array":
            stack.append([-1, True])
        else:
            progress.values += 1
            yield from value_rows([frame[0] for frame in stack], value, prefix="$")


def _jsonl_units(stream: io.TextIOBase, *, name: str, coverage: Coverage) -> Iterator[PageContent]:
    def rows() -> Iterator[Row]:
        record = 0
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                coverage.unreadable(
                    f"line {number}",
                    ErrorClass.CORRUPT,
                    f"{name}: line {number} is not a JSON value; not read",
                )
            else:
                yield from json_value_rows(value, prefix=f"$[{record}]")
            record += 1

    for unit, count in paginate(rows(), area="json"):
        coverage.read("json_values", count)
        if unit is not None:
            yield unit


def json_value_rows(value: Any, *, prefix: str = "$") -> Iterator[Row]:
    """Rows of every scalar in a parsed JSON value, depth first, in document order."""
    pending: list[tuple[list[Any], Any]] = [([], value)]
    while pending:
        keys, item = pending.pop()
        if isinstance(item, dict):
            pending.extend((keys + [key], child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            indexed = reversed(list(enumerate(item)))
            pending.extend((keys + [index], child) for index, child in indexed)
        else:
            yield from value_rows(keys, item, prefix=prefix)


def value_rows(keys: list[Any], value: Any, *, prefix: str = "$") -> Iterator[Row]:
    """The rows of one scalar: "key path: value" (a value of several lines or a very long one
    continues on the next rows), every word referring to the value's JSON path."""
    path = json_path(keys, prefix=prefix)
    rows = [Row()]
    label = _label(keys)
    if label:
        rows[0].add_text(label + ":", ref=path)
    first = True
    for line in _scalar_text(value).splitlines() or [""]:
        for _, piece in cut(line):
            if not first:
                rows.append(Row())
            rows[-1].add_text(piece, ref=path)
            first = False
    rows[-1].items = 1  # the value is counted with its last row
    yield from rows


def _scalar_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def json_path(keys: list[Any], *, prefix: str = "$") -> str:
    """`$.customers[3].email`: dot notation for identifier keys, RFC 9535 §2.5.1 bracket
    notation with single quotes otherwise (`$['first name']`)."""
    parts = [prefix]
    for key in keys:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        elif _IDENTIFIER.fullmatch(key):
            parts.append(f".{key}")
        else:
            escaped = key.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"['{escaped}']")
    return "".join(parts)


def _label(keys: list[Any]) -> str:
    """The key path as words a reader (and a recognizer) takes for a label: "full_name" and
    "fullName" read "full name"; array indices stay as "[3]"."""
    segments: list[str] = []
    for key in keys:
        if isinstance(key, int):
            if segments:
                segments[-1] += f"[{key}]"
            else:
                segments.append(f"[{key}]")
        else:
            segments.append(name_words(str(key)))
    return _LABEL_SEPARATOR.join(segments)
