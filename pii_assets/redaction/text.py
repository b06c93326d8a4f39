"""Text redaction (plain text, XML, HTML): each value's characters, located by the entity's
`char_start`..`char_end` in the decoded text, replaced by its entity type ("[US_SSN]"); the
text is encoded again in its own encoding (a byte-order mark kept).

With raw values, every remaining occurrence of each value is replaced too, and the copy is
refused if one is still found. An HTML copy then drops what the page does not show as text
(`html_hidden`: comments, scripts, text-carrying attribute values) and is checked for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from pii_assets.documents.text import decoded, document_encoding
from pii_assets.models import Entity
from pii_assets.redaction import html_hidden
from pii_assets.redaction.common import NotRedactable, RedactionFailed, replacement


def replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, entity type) span replaced by the type; overlapping spans
    are joined and take the first one's type."""
    joined: list[list] = []
    for start, end, entity_type in sorted(spans):
        if joined and start < joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end, entity_type])
    out, position = [], 0
    for start, end, entity_type in joined:
        out.append(text[position:start])
        out.append(replacement(entity_type))
        position = end
    out.append(text[position:])
    return "".join(out)


def replace_values(text: str, entities: Sequence[Entity]) -> str:
    """Every occurrence of each raw value replaced, longest values first."""
    for entity in sorted(entities, key=lambda e: -len(e.text or "")):
        if entity.text:
            text = text.replace(entity.text, replacement(entity.entity_type))
    return text


def check_values(text: str, entities: Sequence[Entity]) -> None:
    left = sum(1 for e in entities if e.text and e.text in text)
    if left:
        raise RedactionFailed(f"{left} values still found after redaction")


def redact_text(data: bytes, kind: str, entities: Sequence[Entity], *, raw_values: bool) -> bytes:
    """The redacted copy's bytes. Raises NotRedactable when a value has no character offsets
    and its raw value is not kept to find it by."""
    encoding = document_encoding(data, kind=kind)
    if encoding is None:
        raise NotRedactable("unsupported_format", "content is not text")
    text = decoded(data, encoding).read()
    spans = []
    for entity in entities:
        if entity.part is not None:
            raise NotRedactable("embedded_parts", "values inside embedded parts")
        if entity.area == "link":
            # Read decoded from a URL ("%40" for "@"): its characters are not at its offsets.
            raise NotRedactable("unlocated_entities", "a value read from a link's URL")
        if entity.char_start is not None and entity.char_end is not None:
            written = text[entity.char_start : entity.char_end]
            if raw_values and entity.text and written != entity.text:
                # Decoded from an escape (CSS, an attribute's character references): the span
                # would blank other characters and leave the value.
                raise NotRedactable("unlocated_entities", "a value not written as read")
            spans.append((entity.char_start, entity.char_end, entity.entity_type))
        elif not (raw_values and entity.text):
            raise NotRedactable("unlocated_entities", "an entity has no character offsets")
    # Spans first: their offsets are those of the original text.
    text = replace_spans(text, spans)
    if raw_values:
        text = replace_values(text, entities)
    if kind == "html":
        text = html_hidden.drop_hidden(text)
        html_hidden.check_hidden(text)
    if raw_values:
        check_values(text, entities)
    # The codec's own byte-order mark (utf-8-sig, utf-16, utf-32) is written again by encode().
    return text.encode(encoding, errors="replace")
