"""Archives (zip, tar, gzip) read for real: members as parts, limits against bombs."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
import tracemalloc
import zipfile
import zlib
from dataclasses import replace

import pytest

from pii_assets.documents import DocumentLimits, sniff_format
from pii_assets.extraction import OfflineExtractor, extract_document
from pii_assets.models import DocumentResult, ErrorClass, Status
from pii_pipeline.corpus import single_page_pdf
from tests.five_values import EMAIL, LINES, NAME, SSN

LETTER = single_page_pdf(LINES)
PASSWORD = "Zip-Secret-42"


def extract(data: bytes, key: str, **kwargs: object) -> DocumentResult:
    return extract_document(
        data, document_key=key, etag="e", extractor=OfflineExtractor(), **kwargs
    )


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def measured(work):  # noqa: ANN001, ANN201 - a callable and its result
    tracemalloc.start()
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return result, elapsed, peak


def test_zip_with_a_pdf_a_nested_zip_and_a_damaged_member() -> None:
    nested = zip_of({"notes/ssn.txt": f"SSN: {SSN}\n".encode()})
    data = zip_of(
        {
            "2024/letter.pdf": LETTER,
            "nested.zip": nested,
            "scans/": b"",
            "broken.pdf": LETTER[:300],
        }
    )
    assert sniff_format(data) == "zip"
    result = extract(data, "bundle.zip")
    assert result.status == Status.PARTIAL
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("member:broken.pdf", "corrupt")
    assert result.error_message == (
        "bundle.zip: 1 part could not be read "
        "(first: bundle.zip: member:broken.pdf: PDF is damaged and cannot be opened)"
    )
    # letter.pdf, nested.zip and ssn.txt inside it; the directory entry is no member.
    assert result.coverage.parts == {"members": 3, "pages": 1, "lines": 1}
    places = {(e.text, e.part, e.page, e.line) for e in result.entities}
    assert (NAME, "member:2024/letter.pdf", 1, None) in places
    assert (EMAIL, "member:2024/letter.pdf", 1, None) in places
    assert (SSN, "member:nested.zip > member:notes/ssn.txt", None, 1) in places


def test_a_member_whose_compressed_data_is_damaged_is_unread() -> None:
    data = bytearray(zip_of({"a.txt": f"Email: {EMAIL}\n".encode() * 50, "b.pdf": LETTER}))
    start = data.find(b"a.txt") + len("a.txt")
    data[start + 5 : start + 25] = bytes(20)  # inside a.txt's deflate stream
    result = extract(bytes(data), "damaged.zip")
    assert result.status == Status.PARTIAL
    (unread,) = result.coverage.unread
    assert unread.part == "member:a.txt" and unread.error_class == "corrupt"
    assert {e.part for e in result.entities} == {"member:b.pdf"}


def _crc_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    return table


def zipcrypto_zip(name: str, content: bytes, password: str) -> bytes:
    """A zip with one stored member encrypted with traditional PKWARE encryption (APPNOTE.TXT
    §6.1), which zipfile reads but cannot write."""
    table = _crc_table()
    keys = [0x12345678, 0x23456789, 0x34567890]

    def update(byte: int) -> None:
        keys[0] = (keys[0] >> 8) ^ table[(keys[0] ^ byte) & 0xFF]
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = (keys[2] >> 8) ^ table[(keys[2] ^ (keys[1] >> 24)) & 0xFF]

    for byte in password.encode():
        update(byte)
    crc = zlib.crc32(content)
    header = os.urandom(11) + bytes([crc >> 24])  # the last byte checks the password
    encrypted = bytearray()
    for byte in header + content:
        temp = (keys[2] | 2) & 0xFFFF
        encrypted.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        update(byte)
    data = bytearray(zip_of({name: bytes(encrypted)}, zipfile.ZIP_STORED))
    # Mark it encrypted, with the plain text's CRC and size (zipfile wrote the cipher text's).
    for signature, flags, crc_at, size_at in (
        (b"PK\x03\x04", 6, 14, 22),
        (b"PK\x01\x02", 8, 16, 24),
    ):
        at = data.find(signature)
        data[at + flags] |= 0x01
        data[at + crc_at : at + crc_at + 4] = crc.to_bytes(4, "little")
        data[at + size_at : at + size_at + 4] = len(content).to_bytes(4, "little")
    return bytes(data)


def test_an_encrypted_member_opens_with_a_configured_password() -> None:
    data = zipcrypto_zip("hr/record.txt", "\n".join(LINES).encode(), PASSWORD)
    result = extract(data, "locked.zip", passwords=["wrong", PASSWORD])
    assert result.status == Status.OK, result.error_message
    assert {e.text for e in result.entities} >= {NAME, SSN, EMAIL}
    assert {e.part for e in result.entities} == {"member:hr/record.txt"}


@pytest.mark.parametrize("passwords", [(), ("wrong-one", "another")])
def test_an_encrypted_member_without_its_password_is_unread(passwords: tuple[str, ...]) -> None:
    data = zipcrypto_zip("hr/record.txt", "\n".join(LINES).encode(), PASSWORD)
    result = extract(data, "locked.zip", passwords=list(passwords))
    assert (result.status, result.error_class) == (Status.FAILED, "encrypted_no_password")
    (unread,) = result.coverage.unread
    assert unread.part == "member:hr/record.txt"
    reason = (
        "none of the 2 configured passwords opens it" if passwords else "no password is configured"
    )
    assert unread.message == f"locked.zip: member:hr/record.txt is encrypted and {reason}"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """1 GB of zeros deflated into a ~1 MB zip member."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("zeros.bin", "w") as member,
    ):
        chunk = bytes(1 << 20)
        for _ in range(1024):
            member.write(chunk)
    return out.getvalue()


def test_a_zip_bomb_is_refused_quickly_from_its_declared_size(bomb: bytes) -> None:
    result, elapsed, peak = measured(lambda: extract(bomb, "bomb.zip"))
    assert (result.status, result.error_class) == (Status.FAILED, "too_large")
    assert elapsed < 2 and peak < 5_000_000
    assert result.error_message == (
        "bomb.zip: member:zeros.bin is 1024.0 MB, over the 50 MB limit for an embedded part"
    )


def test_a_zip_bomb_that_lies_about_its_size_is_read_only_as_far_as_declared(bomb: bytes) -> None:
    lying = bytearray(bomb)
    # Declare 1000 bytes in the local header (what zipfile reads by) and the central directory.
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = lying.find(signature)
        lying[at + size_at : at + size_at + 4] = (1000).to_bytes(4, "little")
    result, elapsed, peak = measured(lambda: extract(bytes(lying), "lying.zip"))
    # zipfile stops at the declared size and the CRC then fails: damaged, not a huge read.
    assert (result.status, result.error_class) == (Status.FAILED, "corrupt")
    assert elapsed < 5 and peak < 60_000_000


def test_members_expanding_past_the_ratio_are_refused_before_decompressing() -> None:
    data = zip_of({"a.txt": b"a" * 5_000_000, "b.txt": f"Email: {EMAIL}\n".encode()})
    result, elapsed, _ = measured(lambda: extract(data, "ratio.zip"))
    assert elapsed < 1
    assert result.status == Status.PARTIAL
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("member:a.txt", "limit_exceeded")
    assert "expands to more than 100 times its size" in unread.message
    assert [e.part for e in result.entities] == ["member:b.txt"]


def test_the_expansion_ratio_is_checked_while_decompressing() -> None:
    """A gzip declares no size it could be refused by: it is decompressed with the cap of what
    it may expand to, and refused once it passes it."""
    data = gzip.compress(b"a" * 2_000_000)  # ~2 KB
    result, elapsed, peak = measured(lambda: extract(data, "text.gz"))
    assert (result.status, result.error_class) == (Status.FAILED, "limit_exceeded")
    assert result.error_message == (
        "text.gz: member:text: the archive expands to more than 100 times its size; "
        "this member is not read"
    )
    assert elapsed < 1 and peak < 2_000_000


def test_a_deeply_nested_zip_stops_at_the_depth_limit() -> None:
    data = f"Email: {EMAIL}\n".encode()
    names = ["deep.txt"] + [f"level{i}.zip" for i in range(1, 30)]
    for name in names:
        data = zip_of({name: data})
    result, elapsed, peak = measured(lambda: extract(data, "nested.zip"))
    assert elapsed < 2 and peak < 5_000_000
    assert (result.status, result.error_class) == (Status.FAILED, "limit_exceeded")
    (unread,) = result.coverage.unread
    assert (
        unread.part
        == "member:level29.zip > member:level28.zip > member:level27.zip > member:level26.zip"
    )
    assert "nested deeper than the limit allows" in unread.message


def test_members_beyond_the_limit_are_unread() -> None:
    data = zip_of({f"m{i}.txt": f"line {i}\n".encode() for i in range(5)})
    result = extract(data, "many.zip", limits=replace(DocumentLimits(), max_members=3))
    assert result.status == Status.PARTIAL
    assert result.coverage.parts == {"members": 3, "lines": 3}
    (unread,) = result.coverage.unread
    assert (unread.part, unread.error_class) == ("2 more members", "limit_exceeded")


def test_a_zip_directory_listing_millions_of_entries_is_refused_before_parsing() -> None:
    data = bytearray(zip_of({"a.txt": b"x"}))
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8 : eocd + 12] = (60_000).to_bytes(2, "little") * 2
    result = extract(bytes(data), "listing.zip")
    assert (result.status, result.error_class) == (Status.FAILED, "limit_exceeded")
    assert result.error_message == (
        "listing.zip: zip lists 60,000 entries, far over the limit of 1,000 members; not read"
    )


def tar_of(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return out.getvalue()


def test_a_tar_gz_is_one_archive() -> None:
    data = tar_of({"docs/letter.pdf": LETTER, "ssn.txt": f"SSN: {SSN}\n".encode()}, "w:gz")
    assert sniff_format(data) == "gzip"
    result = extract(data, "backup.tar.gz")
    assert result.status == Status.OK, result.error_message
    assert result.coverage.parts == {"members": 2, "pages": 1, "lines": 1}
    assert {(e.text, e.part) for e in result.entities} >= {
        (NAME, "member:docs/letter.pdf"),
        (SSN, "member:ssn.txt"),
    }


def test_a_plain_tar_and_a_truncated_one() -> None:
    data = tar_of({"a.txt": f"Email: {EMAIL}\n".encode(), "b.pdf": LETTER})
    assert sniff_format(data) == "tar"
    assert extract(data, "x.tar").status == Status.OK
    cut = extract(data[:1700], "cut.tar")  # a.txt whole, b.pdf's header and part of its data
    assert cut.status == Status.PARTIAL
    assert [e.part for e in cut.entities] == ["member:a.txt"]
    assert cut.coverage.unread[0].part == "member:b.pdf"


def test_a_gzip_of_a_text_file_names_its_member_from_the_header() -> None:
    out = io.BytesIO()
    with gzip.GzipFile(filename="export/notes.txt", mode="wb", fileobj=out) as stream:
        stream.write(f"Customer notes\nEmail: {EMAIL}\n".encode())
    result = extract(out.getvalue(), "notes.gz")
    assert result.status == Status.OK
    (entity,) = result.entities
    assert (entity.part, entity.area, entity.line, entity.char_start) == (
        "member:notes.txt",
        "text",
        2,
        22,
    )
    nameless = extract(gzip.compress(b"Email: " + EMAIL.encode(), mtime=0), "folder/notes.txt.gz")
    assert [e.part for e in nameless.entities] == ["member:notes.txt"]


def test_a_gzip_bomb_is_refused_in_bounded_memory() -> None:
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip wrapper
    chunk = bytes(1 << 20)
    data = b"".join(compressor.compress(chunk) for _ in range(200)) + compressor.flush()
    limits = replace(DocumentLimits(), max_part_bytes=5 * 1024 * 1024, max_expansion_ratio=1e6)
    result, elapsed, peak = measured(lambda: extract(data, "zeros.gz", limits=limits))
    assert (result.status, result.error_class) == (Status.FAILED, ErrorClass.TOO_LARGE)
    assert elapsed < 2 and peak < 15_000_000


def test_a_truncated_gzip_is_corrupt() -> None:
    data = gzip.compress(b"x" * 10_000 + EMAIL.encode())
    result = extract(data[: len(data) // 2], "cut.txt.gz")
    assert (result.status, result.error_class) == (Status.FAILED, "corrupt")


def test_the_names_of_the_members_read_are_read_too() -> None:
    """People name files after what they hold: a value in a member's name is found (area
    `metadata`, after the members), and a row is `ok` only with it."""
    data = zip_of(
        {
            "hr/scan_of_ssn_372-81-5533.pdf": single_page_pdf(["Nothing personal here."]),
            "notes.txt": b"Nothing personal either.\n",
        }
    )
    result = extract(data, "bundle.zip")
    assert result.status == Status.OK
    (found,) = [e for e in result.entities if e.entity_type == "US_SSN"]
    assert (found.text, found.area, found.part) == ("372-81-5533", "metadata", None)
    assert result.coverage.parts["members"] == 2 and "metadata" not in result.coverage.parts

    # A member that cannot be read: the row is partial, and its name is read all the same.
    broken = zip_of({"notes.txt": b"Nothing.\n", "ssn 372-81-5534.pdf": b"%PDF-1.7\n1 0 obj <<"})
    result = extract(broken, "broken.zip")
    assert result.status == Status.PARTIAL
    assert [e.text for e in result.entities if e.entity_type == "US_SSN"] == ["372-81-5534"]
