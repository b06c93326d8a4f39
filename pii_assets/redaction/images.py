"""Image redaction with Pillow: every entity's box (padded) filled black on its frame, the image
written again in its own format without its metadata (EXIF, XMP, text chunks can hold names,
places and dates). Multi-frame TIFF and GIF keep every frame.

Boxes are normalised to the frame as the pipeline read it; Pillow's `ImageOps.exif_transpose`
turns a JPEG the way its EXIF orientation says, as viewers show it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps, ImageSequence

from pii_assets.models import Entity
from pii_assets.redaction.common import padded, placed_on_pages

# Pillow's format names for the formats written back as they came.
PILLOW_FORMATS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff": "TIFF",
    "gif": "GIF",
    "bmp": "BMP",
    "webp": "WEBP",
}
_SAVE_OPTIONS = {
    "JPEG": {"quality": 95},
    "TIFF": {"compression": "tiff_deflate"},
    "WEBP": {"lossless": True},
}


def _filled(frame: Image.Image, boxes: list[tuple[float, float, float, float]]) -> Image.Image:
    image = ImageOps.exif_transpose(frame.copy())
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    draw = ImageDraw.Draw(image)
    width, height = image.size
    for box in boxes:
        x0, y0, x1, y1 = padded(box)
        draw.rectangle(
            [x0 * width, y0 * height, x1 * width, y1 * height],
            fill=0 if image.mode == "L" else (0, 0, 0),
        )
    return image


def redact_image(data: bytes, kind: str, entities: Sequence[Entity]) -> bytes:
    """The redacted copy's bytes in the image's own format (`PILLOW_FORMATS`)."""
    fmt = PILLOW_FORMATS[kind]
    with Image.open(io.BytesIO(data)) as source:
        frames = [frame.copy() for frame in ImageSequence.Iterator(source)]
    by_page = placed_on_pages(entities, len(frames))
    images = [_filled(frame, by_page.get(index + 1, [])) for index, frame in enumerate(frames)]
    out = io.BytesIO()
    options = dict(_SAVE_OPTIONS.get(fmt, {}))
    if len(images) > 1:
        options.update(save_all=True, append_images=images[1:])
    # No `exif=`, `pnginfo=` or `icc_profile=`: the copy carries pixels only.
    images[0].save(out, format=fmt, **options)
    return out.getvalue()
