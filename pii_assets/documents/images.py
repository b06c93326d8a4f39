"""Images (PNG, JPEG, multi-page TIFF, GIF, BMP): sizes checked from headers before anything is
decoded, truncated files rejected, then every frame OCR'd as a page through PyMuPDF."""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import pymupdf
from PIL import Image, UnidentifiedImageError

from pii_assets.documents.base import DocumentLimits
from pii_assets.documents.paged import MupdfReader
from pii_assets.models import DocumentError, ErrorClass


def open_image(
    data: bytes,
    *,
    kind: str,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits,
) -> MupdfReader:
    """A reader over the image's frames; raises DocumentError for oversized or damaged images."""
    sizes = image_sizes(data, name=name, limits=limits)
    check_complete(data, kind, name=name)
    try:
        doc = pymupdf.open(stream=data, filetype=kind)
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: {kind.upper()} is damaged and cannot be opened"
        ) from exc
    if doc.page_count < 1:
        doc.close()
        raise DocumentError(ErrorClass.CORRUPT, f"{name}: {kind.upper()} has no readable frames")
    return MupdfReader(doc, name=name, image_sizes=sizes, limits=limits)


def image_sizes(data: bytes, *, name: str, limits: DocumentLimits) -> list[tuple[int, int]]:
    """Pixel sizes of the image's frames, read from headers only; rejects oversized images."""
    too_large = DocumentError(
        ErrorClass.IMAGE_TOO_LARGE,
        f"{name}: image exceeds the limit of {limits.max_image_pixels:,} pixels",
    )
    try:
        # Pillow's own bomb check would warn or raise at its own threshold; ours decides. Its
        # error can only mean far more pixels than Pillow's (~179 M) limit, so it is ours too.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                sizes: list[tuple[int, int]] = []
                for frame in range(min(getattr(image, "n_frames", 1), limits.max_pages)):
                    if frame:
                        image.seek(frame)  # reads the next frame's header, decodes nothing
                    width, height = image.size
                    if width * height > limits.max_image_pixels:
                        raise too_large
                    sizes.append((width, height))
                return sizes
    except Image.DecompressionBombError:
        raise too_large from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError) as exc:
        raise DocumentError(ErrorClass.CORRUPT, f"{name}: image header cannot be read") from exc


def check_complete(data: bytes, kind: str, *, name: str) -> None:
    """A truncated JPEG or PNG (an interrupted upload) is corrupt, not a page with a grey band.

    JPEG is decoded at 1/8 scale (DC coefficients only: fast, 1/64 of the pixels); PNG's chunks
    and checksums are verified without decompressing the pixels.
    """
    if kind not in ("jpeg", "png"):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if kind == "png":
                    image.verify()
                else:
                    width, height = image.size
                    image.draft("L", (max(1, width // 8), max(1, height // 8)))
                    image.load()
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: {kind.upper()} is truncated or damaged"
        ) from exc
