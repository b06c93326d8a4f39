"""Documents inside documents: PDF attachments, e-mail attachments, archive members.

They are read as part of their parent (one row per S3 object stays true): each child is opened
with `open_document`, its units are yielded with `part` naming where it sits ("attachment:a.pdf",
"member:2024/b.pdf", nested as "member:x.zip > member:y.pdf"), and its coverage is added to the
parent's. A child that cannot be read (damaged, unsupported, over a limit, nested too deep) is
recorded as an unread part: the parent becomes `partial`, never silently `ok`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.virtual_page import text_unit
from pii_assets.models import Coverage, DocumentError, ErrorClass

PART_SEPARATOR = " > "


@dataclass(frozen=True)
class Child:
    """One embedded document: its label ("attachment:a.pdf"), its size if known before it is
    loaded, and a loader for its bytes (called only when the child is read)."""

    label: str
    load: Callable[[], bytes]
    size: int | None = None


def part_label(parent: str | None, label: str) -> str:
    return label if parent is None else f"{parent}{PART_SEPARATOR}{label}"


def read_children(
    children: Sequence[Child],
    *,
    name: str,
    parent_part: str | None,
    coverage: Coverage,
    kind: str,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> Iterator[PageContent]:
    """Units of every child in order, each child's coverage merged into `coverage` and counted
    as one part of `kind` ("attachments" or "members"); unreadable children recorded as unread.

    `limits.max_depth` is how many more levels may nest below this one.
    """
    from pii_assets.documents import open_document  # the package entry point opens any format

    read: list[Child] = []
    for index, child in enumerate(children):
        label = part_label(parent_part, child.label)
        where = f"{name}: {child.label}"
        if index >= limits.max_members:
            remaining = len(children) - index
            coverage.unreadable(
                part_label(parent_part, f"{remaining} more {kind}"),
                ErrorClass.LIMIT_EXCEEDED,
                f"{name}: {remaining} {kind} beyond the limit of {limits.max_members} not read",
            )
            break
        if limits.max_depth <= 0:
            coverage.unreadable(
                label,
                ErrorClass.LIMIT_EXCEEDED,
                f"{where} is nested deeper than the limit allows; not read",
            )
            continue
        if child.size is not None and child.size > limits.max_part_bytes:
            coverage.unreadable(
                label,
                ErrorClass.TOO_LARGE,
                f"{where} is {child.size / 1024 / 1024:.1f} MB, over the "
                f"{limits.max_part_bytes / 1024 / 1024:g} MB limit for an embedded part",
            )
            continue
        try:
            data = child.load()
            if len(data) > limits.max_part_bytes:
                raise DocumentError(
                    ErrorClass.TOO_LARGE,
                    f"{where} is over the {limits.max_part_bytes / 1024 / 1024:g} MB limit "
                    "for an embedded part",
                )
            deeper = replace(limits, max_depth=limits.max_depth - 1)
            produced = False
            with open_document(data, name=where, passwords=passwords, limits=deeper) as doc:
                for unit in doc.pages():
                    unit.part = part_label(label, unit.part) if unit.part else label
                    produced = True
                    yield unit
                coverage.merge(_relabelled(doc.coverage, label))
        except DocumentError as exc:
            coverage.unreadable(label, exc.error_class, str(exc))
            continue
        coverage.read(kind)
        if produced:
            read.append(child)
    # After the children, once one of them gave something to read: a container none of whose
    # children could be read has failed, whatever its names say. Then every child's name is read,
    # the unreadable ones' too (their row is `partial`, but a value in a name is still a value).
    names = _names_unit(children[: limits.max_members], parent_part) if read else None
    if names is not None:
        yield names


# A child's file extension, left out of its name's text: "ann@mail.test.pdf" is no address.
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def _names_unit(children: Sequence[Child], parent_part: str | None) -> PageContent | None:
    """The children's file names as text (area "metadata"), one line each ("attached
    file: …", "archive member: …"): people name files after what they hold ("scan of passport
    634-12-9087.pdf"). Not counted as a part of its own: the names belong to the attachments or
    members."""
    lines: list[tuple[str | None, str]] = []
    for child in children:
        kind, _, name = child.label.partition(":")
        stem = _EXTENSION.sub("", name.rsplit("/", 1)[-1]).replace("_", " ").strip()
        if stem:
            heading = "attached file" if kind == "attachment" else "archive member"
            lines.append((child.label, f"{heading}: {stem}"))
    return text_unit(lines, area="metadata", part=parent_part) if lines else None


def _relabelled(child: Coverage, label: str) -> Coverage:
    """The child's coverage, its unread parts named from the parent ("member:a.zip > page 3")."""
    unread = [replace(u, part=part_label(label, u.part)) for u in child.unread]
    return Coverage(
        pages_text=child.pages_text,
        pages_ocr=child.pages_ocr,
        pages_text_and_ocr=child.pages_text_and_ocr,
        parts=dict(child.parts),
        unread=unread,
    )
