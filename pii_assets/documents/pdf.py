"""PDF documents: opening (with the configured passwords) and reading every page.

Pages are read by `paged.MupdfReader`.
"""

from __future__ import annotations

from collections.abc import Sequence

import pymupdf

from pii_assets.documents.base import DocumentLimits
from pii_assets.documents.paged import MupdfReader
from pii_assets.models import DocumentError, ErrorClass


def open_pdf(
    data: bytes, *, kind: str = "pdf", name: str, passwords: Sequence[str], limits: DocumentLimits
) -> MupdfReader:
    """A reader over the PDF; raises DocumentError when it cannot be opened or decrypted."""
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: PDF is damaged and cannot be opened"
        ) from exc
    try:
        if doc.needs_pass:
            authenticate(doc, name=name, passwords=passwords)
        # MuPDF repairs what it can; a document left without pages has nothing to read.
        if doc.page_count < 1:
            raise DocumentError(ErrorClass.CORRUPT, f"{name}: PDF has no readable pages")
    except BaseException:
        doc.close()
        raise
    return MupdfReader(doc, name=name, image_sizes=None, limits=limits)


def authenticate(doc: pymupdf.Document, *, name: str, passwords: Sequence[str]) -> None:
    """Opens a protected PDF with the first password that works; raises DocumentError
    (ENCRYPTED_NO_PASSWORD) naming how many were tried, never which."""
    for password in passwords:
        if doc.authenticate(password):
            return
    if not passwords:
        reason = "no password is configured"
    else:
        count = len(passwords)
        reason = f"none of the {count} configured password{'s' if count > 1 else ''} opens it"
    raise DocumentError(ErrorClass.ENCRYPTED_NO_PASSWORD, f"{name}: PDF is encrypted and {reason}")
