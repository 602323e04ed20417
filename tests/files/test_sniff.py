"""Type by content: what is accepted, and every kind of file that is refused."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from app.files.sniff import JPEG, PDF, PNG, Refused, sniff
from tests.files.conftest import jpeg, pdf, png


def sniffed(data: bytes):  # type: ignore[no-untyped-def]
    return sniff(io.BytesIO(data))


def refused(data: bytes) -> str:
    with pytest.raises(Refused) as caught:
        sniffed(data)
    assert caught.value.message  # a sentence for the person
    return caught.value.code


def test_jpeg_png_and_pdf_are_accepted_with_their_sizes() -> None:
    assert (sniffed(jpeg(640, 480)).content_type, sniffed(jpeg(640, 480)).width) == (JPEG, 640)
    assert sniffed(png(500, 400)).height == 400
    assert sniffed(png()).content_type == PNG
    found = sniffed(pdf())
    assert (found.content_type, found.pages) == (PDF, 1)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", pixels)
        + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "type"),
        (b"<!doctype html><html><body>hi</body></html>", "type"),
        (b"GIF89a" + b"\x00" * 100, "type"),
        (b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif", "type"),  # HEIC: test_heic.py
        (jpeg()[:-2000], "damaged"),
        (png()[:200], "damaged"),
        (png_declaring(100_000, 100_000), "pixels"),  # Pillow's own bomb limit
        (png_declaring(8000, 6000), "pixels"),  # 48 MP: past ours
        (pdf(b"/OpenAction << /S /JavaScript /JS (app.alert(1)) >> "), "script"),
        (pdf(b"/OpenAction << /S /J#61vaScript >> "), "script"),  # a hex-escaped name
        (pdf(b"/AA << /O << /S /Launch /F (cmd.exe) >> >> "), "script"),
        (pdf(b"/Names << /EmbeddedFiles 4 0 R >> "), "script"),
        (pdf()[:-8], "damaged"),  # no %%EOF: cut off
        (jpeg()[:-2] + b"<script>alert(1)</script>\xff\xd9", "script"),
        (b"\xff\xd8\xff" + b"not really a jpeg" * 10, "damaged"),
    ],
    ids=[
        "empty",
        "svg",
        "html",
        "gif",
        "avif",
        "truncated-jpeg",
        "truncated-png",
        "png-bomb",
        "png-48mp",
        "pdf-javascript",
        "pdf-hex-escaped-javascript",
        "pdf-launch",
        "pdf-embedded-file",
        "pdf-truncated",
        "jpeg-with-script",
        "jpeg-header-only",
    ],
)
def test_refused(data: bytes, code: str) -> None:
    assert refused(data) == code


def test_a_pdf_name_like_json_is_not_mistaken_for_js() -> None:
    assert sniffed(pdf(b"/JSON 1 /JSFoo 2 ")).content_type == PDF
