"""Office documents rendered to PDF by LibreOffice, and decrypting protected ones.

Word (docx, with its extra parts in `word`), legacy Word (doc), RTF, OpenDocument text (odt),
PowerPoint (ppt, pptx) and OpenDocument presentations (odp) are rendered with LibreOffice headless
so that they end up with page images and text positions. Spreadsheets are not rendered: they are
read from their cells (`spreadsheets`), where no column width clips a value. What the rendering
leaves out of the zip packages (pptx, odt, odp) is read from the package (`ooxml_parts`): their
document properties and a presentation's speaker notes.

Each conversion runs in a fresh temporary directory that also holds its own
LibreOffice profile (so conversions never share or corrupt a user profile and can run side by
side), in its own process group, and is killed with all its children when it exceeds its timeout.

Messages name the document and the cause only: never passwords, never document content, never
LibreOffice's own output (which can quote the document).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pii_assets.documents import ooxml_parts
from pii_assets.documents.base import DocumentLimits, DocumentReader, PageContent, ToolError
from pii_assets.documents.ooxml_parts import PagesAndUnits
from pii_assets.models import Coverage, DocumentError, ErrorClass
from pii_assets.mupdf_gate import MUPDF_GATE

# LibreOffice import filters (their names in LibreOffice's filter configuration,
# filter/source/config/fragments/filters): naming the filter stops LibreOffice from falling back
# to importing a damaged file as plain text (which would "succeed" with garbage).
_IMPORT_FILTERS = {
    "docx": "MS Word 2007 XML",
    "doc": "MS Word 97",
    "rtf": "Rich Text Format",
    "odt": "writer8",
    "pptx": "Impress MS PowerPoint 2007 XML",
    "ppt": "MS PowerPoint 97",
    "odp": "impress8",
}
_LABELS = {
    "docx": "Word document",
    "doc": "Word 97-2003 document",
    "rtf": "RTF document",
    "odt": "OpenDocument text",
    "pptx": "PowerPoint presentation",
    "ppt": "PowerPoint 97-2003 presentation",
    "odp": "OpenDocument presentation",
}
# PDF export options (LibreOffice's PDF export filter, JSON form of its filter options, 7.4+):
# what a printout leaves out is exported too. Comments become PDF text annotations (read with
# the PDF's annotations); docx comments are read from the package instead (`word`), so not
# twice. Hidden slides are exported with the others.
_TRUE = '{"type":"boolean","value":"true"}'
_EXPORT = {
    **{kind: f'pdf:writer_pdf_Export:{{"ExportNotes":{_TRUE}}}' for kind in ("doc", "rtf", "odt")},
    **{
        kind: f'pdf:impress_pdf_Export:{{"ExportNotes":{_TRUE},"ExportHiddenSlides":{_TRUE}}}'
        for kind in ("ppt", "pptx", "odp")
    },
}
_MAX_MANIFEST_BYTES = 4 << 20
_MAC_SOFFICE = "/Applications/LibreOffice.app/Contents/MacOS/soffice"


@lru_cache(maxsize=1)
def soffice_path() -> str | None:
    """The LibreOffice binary, or None when it is not installed."""
    for candidate in ("soffice", "libreoffice"):
        found = shutil.which(candidate)
        if found:
            return found
    return _MAC_SOFFICE if os.path.isfile(_MAC_SOFFICE) else None


def convert_to_pdf(data: bytes, *, kind: str, name: str, timeout_s: float) -> bytes:
    """The document rendered to PDF by LibreOffice; raises DocumentError or ToolError."""
    label = _LABELS[kind]
    binary = soffice_path()
    if binary is None:
        raise ToolError(f"{name}: LibreOffice (soffice) is not installed; cannot render {kind}")
    with tempfile.TemporaryDirectory(prefix="pii-office-") as tmp:
        work = Path(tmp)
        source = work / f"document.{kind}"
        source.write_bytes(data)
        outdir = work / "out"
        command = [
            binary,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--invisible",
            "--nodefault",
            "--nofirststartwizard",
            "--nolockcheck",
            "--nologo",
            "--norestore",
            f"--infilter={_IMPORT_FILTERS[kind]}",
            "--convert-to",
            _EXPORT.get(kind, "pdf"),
            "--outdir",
            str(outdir),
            str(source),
        ]
        # HOME inside the temporary directory too: nothing is written to the user's home.
        env = {**os.environ, "HOME": tmp, "SAL_USE_VCLPLUGIN": "svp"}
        # A separate program, seconds long: other documents' threads may use MuPDF meanwhile.
        with MUPDF_GATE.released():
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=tmp,
                    env=env,
                    start_new_session=True,  # its own process group, killed as one
                )
            except OSError as exc:
                raise ToolError(f"{name}: LibreOffice could not be started") from exc
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                raise DocumentError(
                    ErrorClass.TIMEOUT,
                    f"{name}: rendering the {label} to PDF took longer than {timeout_s:g} s",
                ) from None
            finally:
                _kill_group(process)
        pdf = outdir / "document.pdf"
        if returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
            status = f" (exit status {returncode})" if returncode else ""
            raise DocumentError(
                ErrorClass.CONVERSION_FAILED,
                f"{name}: LibreOffice could not render the {label} to PDF{status}; "
                "it is probably damaged",
            )
        return pdf.read_bytes()


def open_rendered(
    data: bytes, *, kind: str, name: str, passwords: Sequence[str], limits: DocumentLimits
) -> DocumentReader:
    """A reader over the document as LibreOffice renders it to PDF (doc, rtf, odt, ppt, pptx,
    odp), then, for the zip packages (pptx, odt, odp), their document properties and speaker
    notes (`ooxml_parts`); raises DocumentError (damaged, timed out, encrypted) or ToolError."""
    from pii_assets.documents.pdf import open_pdf

    if kind in ("odt", "odp") and odf_encrypted(data):
        raise DocumentError(
            ErrorClass.ENCRYPTED_NO_PASSWORD,
            f"{name}: {_LABELS[kind]} is encrypted; ODF encryption is not supported",
        )
    extras = package_extras(data, kind=kind) if kind in _PACKAGES else None
    pdf = convert_to_pdf(data, kind=kind, name=name, timeout_s=limits.conversion_timeout_s)
    if extras is None:
        return open_pdf(pdf, name=name, passwords=(), limits=limits)
    # The PDF's information dictionary and XMP are LibreOffice's copy of the properties read
    # from the package: dropped, so that each value is read once.
    reader = open_pdf(without_metadata(pdf), name=name, passwords=(), limits=limits)
    extras.record(reader.coverage, name=name)
    return PagesAndUnits(reader, extras.units)


_PACKAGES = ("pptx", "odt", "odp")


@dataclass
class PackageExtras:
    """Units read from an Office package besides its rendered pages, and what could not be read."""

    units: list[PageContent] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # PART_KINDS -> count read
    unread: list[tuple[str, str]] = field(default_factory=list)  # (part, message w/o name)

    def record(self, coverage: Coverage, *, name: str) -> None:
        """Counts what was read in `coverage` and records the unread parts (CORRUPT)."""
        for kind, count in self.counts.items():
            coverage.read(kind, count)
        for part, message in self.unread:
            coverage.unreadable(part, ErrorClass.CORRUPT, f"{name}: {message}")


def package_extras(data: bytes, *, kind: str) -> PackageExtras:
    """The document properties of an OOXML or ODF package (`kind` docx, pptx, xlsx, odt, odp,
    ods) as one "metadata" unit, and a presentation's speaker notes, one paged unit per slide
    that has notes (area "speaker_notes"). A package that is not a readable zip gives nothing
    here: its own reader reports it."""
    extras = PackageExtras()
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError):
        return extras
    with package:
        found = ooxml_parts.properties(package, kind=kind)
        extras.unread.extend(found.unread)
        extras.units.extend(ooxml_parts.text_units(found.texts, area="metadata"))
        extras.counts["metadata"] = len(found.texts)
        if kind in ("pptx", "odp"):
            read = ooxml_parts.speaker_notes if kind == "pptx" else ooxml_parts.odp_speaker_notes
            notes, unread = read(package)
            extras.unread.extend(unread)
            for slide, text in notes:
                extras.units.extend(
                    ooxml_parts.text_units([text], area="speaker_notes", number=slide, paged=True)
                )
            extras.counts["speaker_notes"] = len(notes)
    return extras


def without_metadata(pdf: bytes) -> bytes:
    """The PDF without its document information dictionary and XMP metadata stream."""
    import pymupdf

    with pymupdf.open(stream=pdf, filetype="pdf") as document:
        document.set_metadata({})
        document.del_xml_metadata()
        document.xref_set_key(-1, "Info", "null")
        return document.tobytes()


def odf_encrypted(data: bytes) -> bool:
    """Whether an OpenDocument package is password-protected: its manifest describes how its
    parts are encrypted (ODF 1.2 Part 3 §4.8.2 <manifest:encryption-data>)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            info = package.getinfo("META-INF/manifest.xml")
            if info.file_size > _MAX_MANIFEST_BYTES:
                return False
            return b"encryption-data" in package.read(info)
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError):
        return False  # no manifest to tell: the conversion says whether it can be read


def _kill_group(process: subprocess.Popen) -> None:
    """Kill whatever is left of the conversion's process group (soffice forks soffice.bin)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def decrypt_office(data: bytes, *, name: str, passwords: Sequence[str]) -> bytes:
    """The decrypted content of a password-protected Office file: the OOXML package of a
    docx/xlsx/pptx (an OLE compound file), or the decrypted workbook of an xls (RC4).

    The passwords are tried in order; no exception raised here carries one, or chains to an
    exception that could.
    """
    import msoffcrypto  # imported on use: most buckets hold no protected Office files
    from msoffcrypto.exceptions import DecryptionError, InvalidKeyError

    try:
        office = msoffcrypto.OfficeFile(io.BytesIO(data))
        encrypted = office.is_encrypted()
    except Exception:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: encrypted Office file is damaged and cannot be read"
        ) from None
    if not encrypted:
        raise DocumentError(
            ErrorClass.UNSUPPORTED_FORMAT, f"{name}: OLE compound file without an Office package"
        )
    # OOXML files check the password before decrypting; xls files (RC4) take no such option and
    # check it while decrypting.
    verify = "verify_password" in inspect.signature(office.load_key).parameters
    for password in passwords:
        out = io.BytesIO()
        try:
            office.load_key(password=password, **({"verify_password": True} if verify else {}))
            office.decrypt(out)
        except (InvalidKeyError, DecryptionError):
            continue
        except Exception:
            raise DocumentError(
                ErrorClass.CORRUPT, f"{name}: encrypted Office file is damaged and cannot be read"
            ) from None
        return out.getvalue()
    if not passwords:
        reason = "no password is configured"
    else:
        count = len(passwords)
        reason = f"none of the {count} configured password{'s' if count > 1 else ''} opens it"
    raise DocumentError(
        ErrorClass.ENCRYPTED_NO_PASSWORD, f"{name}: Office file is encrypted and {reason}"
    )
