"""Photographs for the identity checks: scikit-image's sample images (shipped inside its wheel,
read without any network) and hard cases made from them on the spot."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter
from skimage import data

import app.files.sniff  # noqa: F401  (registers the HEIF codec with Pillow, as the app does)

GREY = (128, 128, 128)


def astronaut() -> Image.Image:
    """Eileen Collins, NASA portrait, 512×512: one face, looking at the camera."""
    return Image.fromarray(data.astronaut())


def coffee() -> Image.Image:
    """A cup of coffee, 600×400: no face."""
    return Image.fromarray(data.coffee())


def chelsea() -> Image.Image:
    """Chelsea the cat, 451×300: a face, but not a human one."""
    return Image.fromarray(data.chelsea())


def encoded(image: Image.Image, kind: str = "JPEG", **save: object) -> bytes:
    out = io.BytesIO()
    if kind == "JPEG":
        save.setdefault("quality", 92)
    image.save(out, kind, **save)
    return out.getvalue()


def larger(image: Image.Image, factor: float) -> Image.Image:
    """Scaled up, so that the size check is not what a test is about."""
    return image.resize((round(image.width * factor), round(image.height * factor)), Image.LANCZOS)


def blurred(image: Image.Image, radius: float = 8) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def brightness(image: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(image).enhance(factor)


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    both = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), GREY)
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    return both


def on_canvas(image: Image.Image, side: int) -> Image.Image:
    """``image`` in the middle of a grey square ``side`` wide: the same face, far away."""
    canvas = Image.new("RGB", (side, side), GREY)
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas


def twelve_megapixels(seed: int = 0) -> bytes:
    """The astronaut at 4000×3000 with sensor-like noise, so it compresses like a phone photo."""
    big = np.asarray(astronaut().resize((4000, 3000), Image.BICUBIC), dtype=np.int16)
    noise = np.random.default_rng(seed).normal(0, 6, big.shape)
    pixels = np.clip(big + noise, 0, 255).astype(np.uint8)
    return encoded(Image.fromarray(pixels), quality=90)


def jpeg_declaring(data_: bytes, width: int, height: int) -> bytes:
    """A JPEG whose frame header (SOF0, ITU-T T.81 §B.2.2) claims ``width``×``height``: a
    decompression bomb of a few KB."""
    at = data_.index(b"\xff\xc0")
    return data_[: at + 5] + struct.pack(">HH", height, width) + data_[at + 9 :]


def png_declaring(data_: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR chunk (ISO/IEC 15948 §11.2.2) claims ``width``×``height``, its CRC
    made right so that only the size lies."""
    at = data_.index(b"IHDR")
    header = b"IHDR" + struct.pack(">II", width, height) + data_[at + 12 : at + 17]
    crc = struct.pack(">I", zlib.crc32(header))
    return data_[:at] + header + crc + data_[at + 21 :]
