"""Images (PNG, JPEG, multi-page TIFF, GIF, BMP, WEBP, HEIC/HEIF): sizes checked from headers
before anything is decoded, truncated files rejected, then every frame OCR'd as a page through
PyMuPDF.

MuPDF cannot decode WEBP or HEIC: Pillow (with pillow-heif's HEIF plugin) decodes their frames,
one at a time, into a lossless multi-page TIFF that MuPDF then reads like any scanned TIFF.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import pillow_heif
import pymupdf
from PIL import Image, ImageSequence, UnidentifiedImageError

from pii_assets.documents.base import DocumentLimits
from pii_assets.documents.paged import MupdfReader
from pii_assets.models import DocumentError, ErrorClass

# Pillow opens HEIC/HEIF through pillow-heif's plugin (headers parsed on open, pixels on load).
pillow_heif.register_heif_opener()


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


def open_decoded_image(
    data: bytes,
    *,
    kind: str,
    name: str,
    passwords: Sequence[str] = (),
    limits: DocumentLimits,
) -> MupdfReader:
    """A reader over the frames of a WEBP or HEIC/HEIF image (`kind` "webp" or "heic"): pixel
    sizes checked from the headers first, then every frame (up to `max_pages`) decoded and OCR'd.
    Raises DocumentError for oversized or damaged images."""
    sizes = image_sizes(data, name=name, limits=limits)
    label = kind.upper()
    try:
        tiff = _frames_as_tiff(data, limits.max_pages)
        doc = pymupdf.open(stream=tiff, filetype="tiff")
    except Exception as exc:
        raise DocumentError(
            ErrorClass.CORRUPT, f"{name}: {label} is damaged and cannot be decoded"
        ) from exc
    if doc.page_count < 1:
        doc.close()
        raise DocumentError(ErrorClass.CORRUPT, f"{name}: {label} has no readable frames")
    # The image's own frame count (a WEBP animation, a HEIF collection) is the page count, so
    # that frames beyond `max_pages` show as truncated.
    reader = MupdfReader(doc, name=name, image_sizes=sizes, limits=limits)
    reader.page_count = _frame_count(data)
    reader.truncated = reader.page_count > limits.max_pages
    return reader


def _frame_count(data: bytes) -> int:
    with Image.open(io.BytesIO(data)) as image:
        return int(getattr(image, "n_frames", 1))


def _frames_as_tiff(data: bytes, max_frames: int) -> bytes:
    """The first `max_frames` frames, decoded one at a time, as a deflate-compressed TIFF."""
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as image:
            frames = (
                _ocr_mode(frame)
                for _, frame in zip(range(max_frames), ImageSequence.Iterator(image), strict=False)
            )
            first = next(frames)
            first.save(
                out, "TIFF", save_all=True, append_images=frames, compression="tiff_adobe_deflate"
            )
    return out.getvalue()


def _ocr_mode(frame: Image.Image) -> Image.Image:
    """The frame in a mode TIFF and MuPDF take: transparency flattened onto white."""
    if frame.mode in ("RGBA", "LA", "PA") or "transparency" in frame.info:
        rgba = frame.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return frame.convert("L" if frame.mode in ("1", "L", "I;16") else "RGB")


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
