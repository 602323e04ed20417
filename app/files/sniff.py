"""What a file is, decided by its bytes and never by its name or the browser's Content-Type.

Accepted: JPEG, PNG and HEIC (an iPhone's default photo, decoded by libheif through
pillow-heif) that decode completely within a pixel limit, and PDF with a header and an
end-of-file marker and none of the names that run or carry something (scripts, launch actions,
embedded files). A HEIC is kept only until the worker's check re-encodes it as JPEG
(app/files/images.py). Everything else is refused with a sentence for the person: SVG and HTML
(a browser runs their scripts), AVIF and other HEIF files that are not HEVC-coded, empty,
truncated or damaged files, decompression bombs (a few KB that declare gigapixels).

The PDF scan reads the file's own bytes, so names inside compressed object streams are not
seen; the files are served only as attachments with ``nosniff`` (app/files/controllers.py), and
the officer's viewer is the second line.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import IO

from PIL import Image
from pillow_heif import register_heif_opener

from app.core.i18n import _

# Pillow opens HEIF as the format "HEIF" from here on. Only the primary image is decoded:
# thumbnails, depth maps and auxiliary images are not read (less to parse, nothing we keep).
# libheif's own security limits stay on, under Pillow's bomb check and ours.
register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# Decoded pixels allowed: 40 megapixels covers any phone camera (a 48 MP sensor saves 12 MP
# by default) and bounds a decode to about 160 MB of RGBA.
MAX_PIXELS = 40_000_000
CHUNK = 256 * 1024
HEAD = 1024
PDF_TAIL = 1024  # ISO 32000-1 §7.5.5: %%EOF on the last line; allow trailing junk like readers do

JPEG = "image/jpeg"
PNG = "image/png"
HEIC = "image/heic"
PDF = "application/pdf"
EXTENSIONS = {JPEG: "jpg", PNG: "png", HEIC: "heic", PDF: "pdf"}
# The Pillow decoder each image type is opened with, and no other.
PILLOW_FORMATS = {JPEG: "JPEG", PNG: "PNG", HEIC: "HEIF"}

# PDF names that run code or carry other files (ISO 32000-1 §12.6.4.16 JavaScript actions,
# §12.6.4.5 Launch actions, §7.11.4 embedded file streams; RichMedia from Adobe's extension).
_FORBIDDEN_PDF_NAMES = {
    b"JavaScript",
    b"JS",
    b"Launch",
    b"EmbeddedFile",
    b"EmbeddedFiles",
    b"RichMedia",
}
_PDF_NAME = re.compile(rb"/([A-Za-z0-9#]{1,64})")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
# Markup that makes a file readable as HTML or SVG by a browser that sniffs: refused anywhere
# in any file (an image/HTML polyglot), since no genuine photo or scan carries it.
_MARKUP = re.compile(rb"<(?:script|html|svg|iframe|object|embed)[\s>/]", re.IGNORECASE)
# ISO/IEC 23008-12 (HEIF) brands in the ftyp box. The HEVC ones are HEIC and are decoded; the
# generic mif1/msf1 say nothing of the codec, and AVIF (AV1) is refused: phones do not default
# to it, and every decoder accepted is one more parser of hostile bytes.
_HEVC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"}
_HEIF_BRANDS = _HEVC_BRANDS | {b"mif1", b"msf1", b"avif", b"avis"}
OVERLAP = 80


class Refused(ValueError):
    """The file is not accepted; ``message`` is localised, ``code`` is safe to log."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Sniffed:
    content_type: str
    width: int | None = None
    height: int | None = None
    pages: int | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def _not_accepted() -> Refused:
    return Refused("type", _("Only JPEG, PNG, HEIC and PDF files are accepted."))


def _damaged() -> Refused:
    return Refused(
        "damaged", _("The file is damaged or incomplete. Please upload it again or re-scan it.")
    )


def sniff(handle: IO[bytes]) -> Sniffed:
    """The type of a seekable binary file, or ``Refused``. Reads it from the start."""
    handle.seek(0)
    head = handle.read(HEAD)
    if not head:
        raise Refused("empty", _("The file is empty."))
    brands = _ftyp_brands(head)
    if brands & _HEVC_BRANDS and head[8:12] not in {b"avif", b"avis"}:
        kind = HEIC
    elif brands & _HEIF_BRANDS:
        raise _not_accepted()
    elif head.startswith(b"\xff\xd8\xff"):
        kind = JPEG
    elif head.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = PNG
    elif head.startswith(b"%PDF-"):
        kind = PDF
    else:
        raise _not_accepted()
    pages = _scan(handle, pdf=kind == PDF)
    if kind == PDF:
        return Sniffed(PDF, pages=pages or None)
    width, height = _decode(handle, PILLOW_FORMATS[kind])
    return Sniffed(kind, width=width, height=height)


def _ftyp_brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ISO base media file's leading ftyp box
    (ISO/IEC 14496-12 §4.3), as far as ``head`` holds them; empty for any other file."""
    if head[4:8] != b"ftyp" or len(head) < 12:
        return set()
    end = min(int.from_bytes(head[:4], "big"), len(head))
    return {head[8:12]} | {head[offset : offset + 4] for offset in range(16, end - 3, 4)}


def _scan(handle: IO[bytes], *, pdf: bool) -> int:
    """One pass over the bytes: refuse markup (and, in a PDF, forbidden names); count pages."""
    handle.seek(0)
    pages = 0
    previous = b""
    while chunk := handle.read(CHUNK):
        window = previous + chunk
        if _MARKUP.search(window):
            raise Refused("script", _("The file carries a script or web page and is refused."))
        if pdf:
            for match in _PDF_NAME.finditer(window):
                if match.end() <= len(previous) or match.end() == len(window):
                    # Seen whole with the previous chunk, or perhaps cut by this one's end
                    # (then it is seen whole next time: a valid PDF ends with %%EOF anyway).
                    continue
                name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
                if name in _FORBIDDEN_PDF_NAMES:
                    raise Refused(
                        "script", _("The PDF carries scripts or attached files and is refused.")
                    )
            pages += len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", chunk))
        previous = window[-OVERLAP:]
    if pdf:
        handle.seek(0, 2)
        end = handle.tell()
        handle.seek(max(0, end - PDF_TAIL))
        if b"%%EOF" not in handle.read():
            raise _damaged()
    return pages


def _decode(handle: IO[bytes], expected: str) -> tuple[int, int]:
    """Decode the whole image once: truncated data, a lying header or too many pixels raise."""
    too_big = Refused(
        "pixels", _("The image has too many pixels. Please upload a smaller photo or scan.")
    )
    with warnings.catch_warnings():
        # Pillow warns past its own limit and raises past twice it: both are bombs here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            handle.seek(0)
            with Image.open(handle, formats=[expected]) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise too_big
                image.verify()
            handle.seek(0)
            with Image.open(handle, formats=[expected]) as image:
                image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise too_big from exc
        except Refused:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise _damaged() from exc
    if width < 1 or height < 1:
        raise _damaged()
    return width, height
