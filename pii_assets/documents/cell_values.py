"""A spreadsheet cell's value as a reader sees it: the text the recognizers read.

Readers (openpyxl, xlrd, python-calamine) give typed values; what Excel shows depends on the cell's
number format. Only what changes the value a reader sees is applied here:

- digit masks such as `000-00-0000` (an SSN stored as a number), `(000) 000-0000` or `00000`
  (a ZIP code with its leading zero): digit placeholders `0` / `#` / `?` and literal text, as
  ECMA-376 Part 1 §18.8.31 (numFmts) defines them;
- dates and times (the libraries already turned them into `datetime` values): ISO 8601, one
  unambiguous form of the date the cell shows, which the date recognizers read;
- every other number in Excel's General form: integers without ".0", other numbers with up to
  15 significant digits (Excel's precision; ECMA-376 Part 1 §18.17.4.1).

Decimal, percent, currency and scientific formats are left in General form: they do not turn a
number into (or out of) a PII value.
"""

from __future__ import annotations

import datetime as dt
import re

# Excel keeps 15 significant digits.
_SIGNIFICANT = 15
# Format characters that mean anything other than a plain digit mask (outside quotes/escapes):
# decimal point, percent, exponent, fraction, text placeholder, thousands separator, dates.
_NOT_A_MASK = re.compile(r"[.%Ee/@,yYmMdDhHsSgGbB]")
_PLACEHOLDERS = "0#?"


def display_text(value: object, number_format: str | None = None) -> str:
    """The cell's value as displayed text ("" for an empty cell).

    `value` is what the reading library gives: str, bool, int, float, datetime/date/time,
    timedelta or None; `number_format` is the cell's format code ("General", "000-00-0000").
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int | float):
        if number_format and number_format != "General":
            masked = _digit_mask(float(value), number_format)
            if masked is not None:
                return masked
        return general(value)
    return str(value)


def general(number: float | int) -> str:
    """A number as Excel's General format shows it in a wide column."""
    if isinstance(number, int):
        return str(number)
    if number != number or number in (float("inf"), float("-inf")):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = f"{number:.{_SIGNIFICANT}g}"
    if "e" not in text and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _tokens(section: str) -> list[tuple[str, str]] | None:
    """The section as ("digit", placeholder) and ("text", literal) tokens; None when it is not
    a plain digit mask."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(section):
        char = section[i]
        if char == '"':
            end = section.find('"', i + 1)
            if end < 0:
                return None
            tokens.append(("text", section[i + 1 : end]))
            i = end + 1
        elif char == "\\" and i + 1 < len(section):
            tokens.append(("text", section[i + 1]))
            i += 2
        elif char == "_" and i + 1 < len(section):
            tokens.append(("text", " "))  # the width of the next character: a space
            i += 2
        elif char == "*" and i + 1 < len(section):
            i += 2  # fill character: repeats to the column's width, nothing to read
        elif char == "[":
            end = section.find("]", i)
            if end < 0:
                return None
            i = end + 1  # colour or condition
        elif char in _PLACEHOLDERS:
            tokens.append(("digit", char))
            i += 1
        elif _NOT_A_MASK.match(char):
            return None
        else:
            tokens.append(("text", char))
            i += 1
    return tokens if any(kind == "digit" for kind, _ in tokens) else None


def _first_section(number_format: str) -> str:
    """The format's first section (positive numbers): sections are split by ';' outside quotes."""
    quoted = False
    for index, char in enumerate(number_format):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return number_format[:index]
    return number_format


def _digit_mask(number: float, number_format: str) -> str | None:
    """The integer `number` through a digit mask; None when the format is no digit mask or the
    number has a fraction (the mask would round it: General shows more)."""
    if not number.is_integer() or abs(number) >= 1e15:
        return None
    tokens = _tokens(_first_section(number_format))
    if tokens is None:
        return None
    digits = str(abs(int(number)))
    slots = sum(1 for kind, _ in tokens if kind == "digit")
    # Digits beyond the mask's placeholders all go to the first one (as Excel shows them).
    pieces = [digits[: max(0, len(digits) - slots)]] if len(digits) > slots else []
    remaining = digits[-slots:] if len(digits) >= slots else digits
    pad = slots - len(remaining)
    out: list[str] = []
    seen = 0
    for kind, text in tokens:
        if kind == "text":
            out.append(text)
            continue
        if seen < pad:
            out.append({"0": "0", "?": " ", "#": ""}[text])
        else:
            if seen == pad and pieces:
                out.append(pieces[0])
            out.append(remaining[seen - pad])
        seen += 1
    sign = "-" if number < 0 else ""
    return sign + "".join(out)
