"""Archives: zip, tar and gzip (a .tar.gz is one archive). Every member is a part of the archive
("member:<path>"), read through `children` like any embedded document, nested archives included.

The zip's own comment and its members' comments are read as one unit of area "metadata".

Against archive bombs (`DocumentLimits`): members nest at most `max_depth` levels, at most
`max_members` of one archive are read (the rest are recorded as unread), one member may hold at
most `max_part_bytes`, and all members together at most `max_expansion_ratio` times the
archive's own size. Declared sizes are never trusted: every member is decompressed with a cap of
what it may still hold, and refused as soon as it goes over. A zip whose directory lists far
more entries than could ever be read is refused before its directory is parsed.

An encrypted zip member (traditional PKWARE encryption) is tried with each configured password;
without one that opens it, it is unread `encrypted_no_password`. Members zipfile cannot
decompress (WinZip AES, Deflate64) are unread `unsupported_format`.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from typing import IO

from pii_assets.documents.base import DocumentLimits, PageContent
from pii_assets.documents.children import Child, read_children
from pii_assets.documents.sniff import sniff_format
from pii_assets.documents.virtual import UnitsReader
from pii_assets.documents.virtual_page import text_unit
from pii_assets.models import Coverage, DocumentError, ErrorClass

_CHUNK = 1 << 20  # bytes decompressed per read
# A zip directory listing more than this many times `max_members` entries is a bomb in itself
# (zipfile would hold every entry's record in memory before one member is read).
_DIRECTORY_FACTOR = 10
_EOCD = b"PK\x05\x06"  # end of central directory record (APPNOTE.TXT §4.3.16)
_ZIP64_LOCATOR = b"PK\x06\x07"  # §4.3.15
_ZIP_ENCRYPTED = 0x1  # general purpose bit 0 (§4.4.4)
_ZIP_UTF8 = 0x800  # general purpose bit 11: names and comments are UTF-8


def open_archive(
    data: bytes,
    *,
    kind: str,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits,
) -> UnitsReader:
    """A reader over the members of a zip, tar or gzip archive (`kind` from `sniff`).

    Raises DocumentError (CORRUPT) when the archive's directory cannot be read, (LIMIT_EXCEEDED)
    when it lists far more members than the limit.
    """
    budget = _Budget(limits.max_expansion_ratio * len(data), limits=limits)
    if kind == "zip":
        archive = _open_zip(data, name=name, limits=limits)

        def zip_units(coverage: Coverage) -> Iterator[PageContent]:
            with archive:
                yield from _zip_comments(archive, coverage)
                children = [
                    _zip_member(archive, info, name=name, passwords=passwords, budget=budget)
                    for info in archive.infolist()
                    if not info.is_dir()
                ]
                yield from _read(children, name, coverage, passwords, limits)

        return UnitsReader(zip_units)
    if kind == "tar":
        return UnitsReader(
            lambda coverage: _tar_units(data, name, coverage, passwords, limits, budget)
        )
    if kind == "gzip":
        return UnitsReader(
            lambda coverage: _gzip_units(data, name, coverage, passwords, limits, budget)
        )
    raise DocumentError(ErrorClass.UNSUPPORTED_FORMAT, f"{name}: {kind} archives are not supported")


class _Budget:
    """What the archive's members may still expand to, in bytes."""

    def __init__(self, total: float, *, limits: DocumentLimits) -> None:
        self.left = int(total)
        self.limits = limits

    def check_declared(self, size: int, *, where: str) -> None:
        """Refuses, before decompressing anything, a member whose declared size alone is over
        what is left (a smaller declared size is not believed: the read is capped anyway)."""
        if size > self.left:
            raise self._exceeded(where)

    def _exceeded(self, where: str) -> DocumentError:
        return DocumentError(
            ErrorClass.LIMIT_EXCEEDED,
            f"{where}: the archive expands to more than {self.limits.max_expansion_ratio:g} "
            "times its size; this member is not read",
        )


def _read(
    children: Sequence[Child],
    name: str,
    coverage: Coverage,
    passwords: Sequence[str],
    limits: DocumentLimits,
) -> Iterator[PageContent]:
    return read_children(
        children,
        name=name,
        parent_part=None,
        coverage=coverage,
        kind="members",
        passwords=passwords,
        limits=limits,
    )


def _read_capped(stream: IO[bytes], budget: _Budget, *, where: str) -> bytes:
    """The stream's bytes, decompressed a chunk at a time and stopped as soon as they exceed
    what the member may hold: over `max_part_bytes`, TOO_LARGE; over what the archive may still
    expand to, LIMIT_EXCEEDED. What was decompressed is spent from the budget either way (a
    bomb's members cost work too)."""
    limit = min(budget.limits.max_part_bytes, budget.left)
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    left = budget.left
    budget.left = max(0, left - size)
    if size > budget.limits.max_part_bytes:
        megabytes = budget.limits.max_part_bytes / 1024 / 1024
        raise DocumentError(
            ErrorClass.TOO_LARGE, f"{where} is over the {megabytes:g} MB limit for an embedded part"
        )
    if size > left:
        raise budget._exceeded(where)
    return b"".join(chunks)


# --- zip ---------------------------------------------------------------------------------------


def _open_zip(data: bytes, *, name: str, limits: DocumentLimits) -> zipfile.ZipFile:
    listed = _zip_entry_count(data)
    if listed is not None and listed > _DIRECTORY_FACTOR * limits.max_members:
        raise DocumentError(
            ErrorClass.LIMIT_EXCEEDED,
            f"{name}: zip lists {listed:,} entries, far over the limit of "
            f"{limits.max_members:,} members; not read",
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: zip directory is damaged or truncated"
        ) from exc


def _zip_comments(archive: zipfile.ZipFile, coverage: Coverage) -> Iterator[PageContent]:
    """The zip's comment and its members' comments (APPNOTE.TXT §4.3.16 .ZIP file comment,
    §4.3.12 file comment) as one unit of area "metadata"; a member's comment's words carry the
    member's label as `ref`."""
    texts: list[tuple[str | None, str]] = []
    if archive.comment.strip():
        texts.append((None, "archive comment: " + _zip_text(archive.comment, utf8=False)))
    for info in archive.infolist():
        if info.comment.strip():
            text = _zip_text(info.comment, utf8=bool(info.flag_bits & _ZIP_UTF8))
            texts.append((f"member:{info.filename}", "member comment: " + text))
    if not texts:
        return
    coverage.read("metadata", len(texts))
    yield text_unit(texts, area="metadata")


def _zip_text(raw: bytes, *, utf8: bool) -> str:
    """A comment's text: UTF-8 where flagged (APPNOTE.TXT appendix D) or where it decodes as
    UTF-8 (the archive comment has no flag), else IBM code page 437."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8" if utf8 else "cp437", errors="replace")


def _zip_entry_count(data: bytes) -> int | None:
    """Entries the zip's end-of-central-directory record declares (zip64's when it says so),
    read before zipfile parses the directory; None when there is no such record."""
    at = data.rfind(_EOCD, max(0, len(data) - 65_557))  # record (22) + longest comment
    if at < 0 or at + 22 > len(data):
        return None
    count = int.from_bytes(data[at + 10 : at + 12], "little")
    locator = at - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == _ZIP64_LOCATOR:
        record = int.from_bytes(data[locator + 8 : locator + 16], "little")
        if record + 40 <= len(data):
            return int.from_bytes(data[record + 32 : record + 40], "little")
    return count


def _zip_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    name: str,
    passwords: Sequence[str],
    budget: _Budget,
) -> Child:
    label = f"member:{info.filename}"
    where = f"{name}: {label}"

    def load() -> bytes:
        budget.check_declared(info.file_size, where=where)
        if not info.flag_bits & _ZIP_ENCRYPTED:
            return _zip_read(archive, info, None, budget, where=where)
        for password in passwords:
            try:
                return _zip_read(archive, info, password.encode("utf-8"), budget, where=where)
            except _WrongPassword:
                continue
        count = len(passwords)
        reason = (
            "no password is configured"
            if not count
            else f"none of the {count} configured password{'s' if count > 1 else ''} opens it"
        )
        raise DocumentError(ErrorClass.ENCRYPTED_NO_PASSWORD, f"{where} is encrypted and {reason}")

    return Child(label=label, load=load, size=info.file_size)


class _WrongPassword(Exception):
    pass


def _zip_read(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    password: bytes | None,
    budget: _Budget,
    *,
    where: str,
) -> bytes:
    try:
        with archive.open(info, pwd=password) as member:
            return _read_capped(member, budget, where=where)
    except NotImplementedError as exc:  # WinZip AES (method 99), Deflate64 (9), ...
        raise DocumentError(
            ErrorClass.UNSUPPORTED_FORMAT,
            f"{where} uses compression method {info.compress_type}, which cannot be read",
        ) from exc
    except RuntimeError as exc:  # "Bad password for file"
        if password is not None:
            raise _WrongPassword from exc
        raise DocumentError(ErrorClass.CORRUPT, f"{where} cannot be read") from exc
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        # A wrong password can pass the one-byte check and then fail the CRC (1 in 256).
        if password is not None:
            raise _WrongPassword from exc
        raise DocumentError(ErrorClass.CORRUPT, f"{where} is damaged and cannot be read") from exc


# --- tar ---------------------------------------------------------------------------------------


def _tar_units(
    data: bytes,
    name: str,
    coverage: Coverage,
    passwords: Sequence[str],
    limits: DocumentLimits,
    budget: _Budget,
) -> Iterator[PageContent]:
    try:
        # Closed by the `with` below, once its members are read.
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:")  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: tar is damaged and cannot be read"
        ) from exc
    with tar:
        members: list[tarfile.TarInfo] = []
        beyond = 0
        damaged = False
        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, OSError, EOFError):
                damaged = True
                break
            if member is None:
                break
            if not member.isfile():
                continue  # directories, links and devices hold no content of their own
            if len(members) < limits.max_members:
                members.append(member)
            else:
                beyond += 1
        children = [_tar_member(tar, member, name=name, budget=budget) for member in members]
        yield from _read(children, name, coverage, passwords, limits)
    if beyond:
        coverage.unreadable(
            f"{beyond} more members",
            ErrorClass.LIMIT_EXCEEDED,
            f"{name}: {beyond} members beyond the limit of {limits.max_members} not read",
        )
    if damaged:
        last = f"member:{members[-1].name}" if members else "the first member"
        coverage.unreadable(
            f"members after {last}",
            ErrorClass.CORRUPT,
            f"{name}: tar is damaged or truncated after {last}; the rest was not read",
        )


def _tar_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, *, name: str, budget: _Budget
) -> Child:
    label = f"member:{member.name}"
    where = f"{name}: {label}"

    def load() -> bytes:
        budget.check_declared(member.size, where=where)
        try:
            stream = tar.extractfile(member)
            if stream is None:
                return b""
            with stream:
                return _read_capped(stream, budget, where=where)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{where} is damaged or truncated and cannot be read"
            ) from exc

    return Child(label=label, load=load, size=member.size)


# --- gzip --------------------------------------------------------------------------------------


def _gzip_units(
    data: bytes,
    name: str,
    coverage: Coverage,
    passwords: Sequence[str],
    limits: DocumentLimits,
    budget: _Budget,
) -> Iterator[PageContent]:
    """The one file a gzip holds, as a member named from its header (RFC 1952 §2.3.1 FNAME) or
    from the document's name without ".gz"; a tar inside (.tar.gz) is read as the archive."""
    label = f"member:{_gzip_member_name(data, name)}"
    where = f"{name}: {label}"
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inner = _read_capped(stream, budget, where=where)
    except DocumentError as exc:
        coverage.unreadable(label, exc.error_class, str(exc))
        return
    except (gzip.BadGzipFile, zlib.error, EOFError, OSError):
        coverage.unreadable(
            label, ErrorClass.CORRUPT, f"{where} is damaged or truncated and cannot be read"
        )
        return
    if len(inner) <= limits.max_part_bytes and sniff_format(inner) == "tar":
        # Its members, measured against the compressed size like any archive's.
        members_budget = _Budget(limits.max_expansion_ratio * len(data), limits=limits)
        yield from _tar_units(inner, name, coverage, passwords, limits, members_budget)
        return
    yield from _read([Child(label=label, load=lambda: inner)], name, coverage, passwords, limits)


def _gzip_member_name(data: bytes, name: str) -> str:
    flags = data[3] if len(data) > 3 else 0
    at = 10
    if flags & 0x04:  # FEXTRA: two-byte length, then that many bytes
        at += 2 + int.from_bytes(data[at : at + 2], "little")
    if flags & 0x08:  # FNAME: zero-terminated, ISO 8859-1
        end = data.find(b"\x00", at, at + 1024)
        if end > at:
            return os.path.basename(data[at:end].decode("latin-1"))
    # The document's name, or for a nested one the last part of "doc.zip: member:x/y.gz".
    base = os.path.basename(name.split(": ")[-1])
    if base.startswith(("member:", "attachment:")):
        base = base.split(":", 1)[1]
    for suffix in (".tgz", ".gz", ".gzip"):
        if base.lower().endswith(suffix):
            stem = base[: -len(suffix)]
            return stem + ".tar" if suffix == ".tgz" else stem
    return base or "content"
