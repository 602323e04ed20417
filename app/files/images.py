"""The worker's image check: decode safely, turn upright, re-encode clean (docs/files.md).

The clean image is a fresh JPEG of the decoded pixels only: EXIF (GPS position, camera serial,
time), ICC profiles, XMP and comments are not copied, so nothing the camera recorded about the
person survives. Orientation is applied to the pixels first (``exif_transpose``), since the
tag that said how to turn the photo is gone afterwards. A HEIC is turned by libheif itself as
it decodes (its container's irot/imir boxes, which ISO/IEC 23008-12 makes authoritative over the
EXIF tag; pillow-heif then resets the tag to 1), and leaves here as a JPEG like any other photo.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

from app.files.sniff import MAX_PIXELS, PILLOW_FORMATS

# Smaller than this and an officer cannot read a certificate's text or check a face.
MIN_SIDE = 400
JPEG_QUALITY = 88

# Reasons are stored in both languages: the officer's page shows the one it is in.
REASONS: dict[str, dict[str, str]] = {
    "too_small": {
        "zh": f"图片太小（至少 {MIN_SIDE}×{MIN_SIDE} 像素），请重新拍摄或扫描。",
        "en": f"The image is too small (at least {MIN_SIDE}×{MIN_SIDE} pixels): please take "
        "or scan it again.",
    },
    "damaged": {
        "zh": "图片已损坏或不完整，无法读取。",
        "en": "The image is damaged or incomplete and cannot be read.",
    },
    "too_many_pixels": {
        "zh": "图片像素过多，无法安全读取。",
        "en": "The image has too many pixels to be read safely.",
    },
}


@dataclass
class ImageCheck:
    ok: bool
    reasons: list[dict[str, str]] = field(default_factory=list)
    clean_jpeg: bytes | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _reason(code: str) -> dict[str, str]:
    return {"code": code, **REASONS[code]}


def check_image(path: Path) -> ImageCheck:
    """Decode ``path`` within the pixel limit, apply its orientation, re-encode it as a JPEG
    without metadata; ``ok`` is False (with reasons) when it is unreadable or too small."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=list(PILLOW_FORMATS.values())) as image:
                if image.width * image.height > MAX_PIXELS:
                    return ImageCheck(False, [_reason("too_many_pixels")])
                had = sorted(key for key in ("exif", "icc_profile", "xmp") if image.info.get(key))
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return ImageCheck(False, [_reason("too_many_pixels")])
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError):
            return ImageCheck(False, [_reason("damaged")])
    out = io.BytesIO()
    # Pillow's JPEG writer takes a comment (and more) from ``info`` when it is there: cleared,
    # and no exif=, icc_profile= or comment= arguments, nothing of the upload goes on.
    rgb.info.clear()
    rgb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    reasons = [] if min(rgb.size) >= MIN_SIDE else [_reason("too_small")]
    details = {"width": rgb.width, "height": rgb.height, "metadata_removed": had}
    return ImageCheck(not reasons, reasons, out.getvalue(), details)
