"""The signed document as a PDF: the document, the signer, the evidence, a QR code that reads as
the verify URL, numbered pages; and the platform's PAdES seal over it.

pdfium (the engine of Chrome's viewer) opens and renders every PDF here; pyHanko's own validator
checks the seal against the development certificate. The bundle is sealed for real with the
platform's Ed25519 key (app/signing/evidence.py): the PDF verifies nothing, but it prints what a
real bundle holds.
"""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime
from typing import Any

import pypdfium2 as pdfium
import pytest
import segno
from PIL import Image
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from app.catalogue.pdf import PdfFont, cid_font
from app.config import ConfigError, get_settings, load_settings
from app.core.i18n import current_locale
from app.signing.evidence import (
    FORMAT,
    document_data,
    document_hash,
    fingerprint,
    seal,
    seal_public_key,
    timestamp,
)
from app.signing.pdf import (
    QR_BOX,
    QR_QUIET_ZONE,
    SEAL_FIELD,
    development_seal,
    seal_pdf,
    signed_pdf,
)
from tests.catalogue.test_pdf import embedded_font

TITLE = "食品经营许可证核发告知承诺书"
FIRST_SENTENCE = "本人承诺：所提交的经营场所使用证明真实、合法、有效。"
BODY = (
    FIRST_SENTENCE + "如有虚假，愿意承担相应的法律责任。\n\n"
    "本人知悉，承诺内容将作为审批依据，并接受事中事后监管。"
)
URL = "https://tongban.example.gov.cn/signatures/1234/verify"
CREDENTIAL = "Xk3b9QeRr0vT1kL2mN4pQ6sU8wY0aC2eG4iK6mO8qS0uW2yA4cE6gI8kM0oQ2sU4"
SIGNED_AT = datetime(2026, 11, 24, 10, 3, 5, 123456, tzinfo=UTC)  # 18:03:05 in Beijing
DPI = 100


def bundle(body: str = BODY, **fields: Any) -> dict[str, Any]:
    """A sealed evidence bundle as the service makes one (its assertion shortened: the PDF does
    not print it)."""
    document = document_data(
        kind="pledge",
        title=TITLE,
        body=body,
        signer_account_id=42,
        signer_name_masked="李*",
        signer_phone_masked="138****0000",
        references=[],
        created_at=datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
    )
    unsealed = {
        "format": FORMAT,
        "id": 1234,
        "document": document,
        "document_sha256": document_hash(document),
        "signer": {"account_id": 42, "name_masked": "李*", "phone_masked": "138****0000"},
        "credential": {"id": CREDENTIAL, "public_key": "pQECAyYgASFYIA"},
        "assertion": {
            "authenticator_data": "SZYN5YgO",
            "client_data_json": "eyJ0eXBlIjoi",
            "signature": "MEUCIQ",
            "user_handle": None,
        },
        "challenge": "AAAAAAAAAAAAAAAAAAAAAA",
        "flags": {"up": True, "uv": True, "be": True, "bs": False},
        "sign_count": 7,
        "rp_id": "tongban.example.gov.cn",
        "origin": "https://tongban.example.gov.cn",
        "signed_at": timestamp(SIGNED_AT),
        "client_hash": "9f" * 32,
        **fields,
    }
    return seal(unsealed)


def pdf(
    data: dict[str, Any] | None = None, locale: str = "zh-Hans", font: PdfFont | None = None
) -> bytes:
    return signed_pdf(
        bundle() if data is None else data,
        verify_url=URL,
        locale=locale,
        font=font or embedded_font(),
    )


def texts(data: bytes) -> list[str]:
    """Each page's text as pdfium extracts it, runs of white space made one space."""
    return [
        re.sub(r"\s+", " ", page.get_textpage().get_text_range())
        for page in pdfium.PdfDocument(data)
    ]


def squeezed(text: str) -> str:
    """Without any white space: where a wrapped line breaks does not matter."""
    return re.sub(r"\s+", "", text)


def render(data: bytes, dpi: int = DPI, page: int = 0) -> Image.Image:
    return pdfium.PdfDocument(data)[page].render(scale=dpi / 72).to_pil().convert("L")


def qr_crop(image: Image.Image, dpi: int) -> Image.Image:
    left, top, right, bottom = (round(value * dpi / 72) for value in QR_BOX)
    return image.crop((left, top, right, bottom))


def dark(image: Image.Image) -> int:
    return sum(image.histogram()[:128])


def test_page_one_is_the_document_and_the_appendix_is_the_evidence() -> None:
    data = pdf()

    pages = texts(data)
    assert len(pages) == 2
    document, appendix = pages[0], squeezed(pages[1])
    for expected in (TITLE, FIRST_SENTENCE, "李*", "138****0000", "2026-11-24 18:03:05（UTC+8）"):
        assert expected in document
    assert URL in squeezed(document)  # printed under the QR code
    for expected in (
        "1234",
        bundle()["document_sha256"],
        CREDENTIAL,  # wrapped wherever, but all there
        "UP=1UV=1BE=1BS=0",
        "tongban.example.gov.cn",
        "2026-11-24T10:03:05.123456Z",
        "9f" * 32,
        "Ed25519",
        fingerprint(seal_public_key()),
    ):
        assert expected in appendix
    assert "tongban signature verify <file>" in pages[1]
    assert pages[0].strip().endswith("1 / 2")
    assert pages[1].strip().endswith("2 / 2")
    metadata = pdfium.PdfDocument(data).get_metadata_dict()
    assert metadata["Title"] == TITLE
    assert metadata["CreationDate"] == "D:20261124100305Z"


def test_the_same_bundle_gives_the_same_bytes() -> None:
    assert pdf() == pdf()


def test_labels_follow_the_locale_given_and_leave_the_callers_alone() -> None:
    before = current_locale.get()
    english, chinese = texts(pdf(locale="en"))[0], texts(pdf(locale="zh_Hans"))[0]
    assert "Mobile number" in english
    assert "手机号码" in chinese
    assert "Mobile number" not in chinese
    assert current_locale.get() == before
    # The document is the document: its words are the same whatever the labels' language.
    assert TITLE in english and FIRST_SENTENCE in english


def test_the_qr_code_is_drawn_in_its_box_and_reads_as_the_verify_url() -> None:
    data = pdf()

    # At 100 dpi: page 1 is not blank, and the box holds a QR code's worth of ink.
    box = qr_crop(render(data), DPI)
    assert 0.25 < dark(box) / (box.width * box.height) < 0.75
    without = signed_pdf(bundle(), verify_url="", locale="zh-Hans", font=embedded_font())
    assert dark(qr_crop(render(without), DPI)) < dark(box)

    # At 600 dpi, the centre of every module is dark exactly where segno's matrix says.
    fine = 600
    crop = qr_crop(render(data, fine), fine)
    matrix = segno.make_qr(URL, error="m").matrix
    modules = len(matrix) + 2 * QR_QUIET_ZONE
    step = crop.width / modules
    for row in range(-QR_QUIET_ZONE, len(matrix) + QR_QUIET_ZONE):
        for column in range(-QR_QUIET_ZONE, len(matrix) + QR_QUIET_ZONE):
            inside = 0 <= row < len(matrix) and 0 <= column < len(matrix)
            expected = bool(matrix[row][column]) if inside else False  # the quiet zone is white
            x = int((column + QR_QUIET_ZONE + 0.5) * step)
            y = int((row + QR_QUIET_ZONE + 0.5) * step)
            pixel = crop.getpixel((x, y))
            assert isinstance(pixel, int)
            assert (pixel < 128) == expected, (row, column)


def test_a_long_body_flows_onto_numbered_pages_before_the_appendix() -> None:
    paragraphs = "\n".join(
        f"第{number:02d}条 " + "本人承诺遵守相关规定。" * 12 for number in range(1, 41)
    )
    data = pdf(bundle(body=paragraphs))

    pages = texts(data)
    assert len(pages) >= 4
    for number, page in enumerate(pages, start=1):
        assert page.strip().endswith(f"{number} / {len(pages)}")
    everything = squeezed("".join(pages[:-1]))
    assert all(f"第{number:02d}条" in everything for number in range(1, 41))
    # The signer follows the body; the evidence has the last page to itself.
    assert "李*" in pages[-2]
    assert "tongban signature verify" in pages[-1]
    assert "第40条" not in pages[-1]


def test_markup_in_the_document_is_printed_as_text() -> None:
    title = "<b>承诺书</b> & <br/>"
    data = pdf(bundle(document={**bundle()["document"], "title": title}))
    assert squeezed(title) in squeezed(texts(data)[0])


def test_a_bundle_missing_its_fields_still_prints() -> None:
    for broken in ({}, {"document": "not an object", "seal": {"public_key": "=="}, "flags": []}):
        pages = texts(pdf(broken))
        assert len(pages) == 2
        assert "—" in pages[1]


def test_the_cid_fallback_also_prints() -> None:
    data = pdf(font=cid_font())
    assert TITLE in texts(data)[0]
    assert b"/STSong-Light" in data


# --- The PAdES seal ---------------------------------------------------------------------


def trusting_the_dev_seal() -> ValidationContext:
    cert, _ = development_seal(get_settings().var_dir)
    return ValidationContext(trust_roots=[load_cert_from_pemder(str(cert))])


def test_the_sealed_pdf_has_the_field_and_validates_intact_and_trusted() -> None:
    sealed = seal_pdf(pdf())

    reader = PdfFileReader(io.BytesIO(sealed))
    (signature,) = reader.embedded_signatures
    assert signature.field_name == SEAL_FIELD
    status = validate_pdf_signature(signature, trusting_the_dev_seal())
    assert status.intact and status.valid and status.trusted
    assert status.bottom_line
    assert "Tongban development seal" in status.signing_cert.subject.human_friendly
    # Still the same document to a reader.
    assert TITLE in texts(sealed)[0]


def test_a_changed_byte_in_the_sealed_range_breaks_the_seal() -> None:
    sealed = seal_pdf(pdf())
    # A byte of the producer's name in the Info dictionary: inside the first signed range,
    # and the file still parses.
    at = sealed.index(b"ReportLab PDF Library")
    reader = PdfFileReader(io.BytesIO(sealed))
    start, length, *_ = (int(value) for value in reader.embedded_signatures[0].byte_range)
    assert start <= at < start + length
    changed = sealed[:at] + b"W" + sealed[at + 1 :]

    (signature,) = PdfFileReader(io.BytesIO(changed)).embedded_signatures
    status = validate_pdf_signature(signature, trusting_the_dev_seal())
    assert not status.intact
    assert not status.bottom_line


def test_the_development_seal_is_made_once_and_reused() -> None:
    var_dir = get_settings().var_dir
    first = development_seal(var_dir)
    contents = [path.read_bytes() for path in first]
    assert development_seal(var_dir) == first
    assert [path.read_bytes() for path in first] == contents


def test_a_configured_seal_is_used(tmp_path: Any) -> None:
    cert, key = development_seal(tmp_path)  # another certificate than the shared dev one
    settings = dataclasses.replace(
        get_settings(), environment="prod", pdf_seal_cert=cert, pdf_seal_key=key
    )
    (signature,) = PdfFileReader(io.BytesIO(seal_pdf(pdf(), settings=settings))).embedded_signatures
    status = validate_pdf_signature(
        signature, ValidationContext(trust_roots=[load_cert_from_pemder(str(cert))])
    )
    assert status.bottom_line
    assert not validate_pdf_signature(signature, trusting_the_dev_seal()).trusted


def test_production_without_a_seal_hands_out_the_pdf_unsealed() -> None:
    settings = dataclasses.replace(get_settings(), environment="prod")
    data = pdf()
    assert seal_pdf(data, settings=settings) == data


def test_the_seal_settings_go_together_and_must_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    cert, key = development_seal(tmp_path)
    monkeypatch.setenv("TONGBAN_PDF_SEAL_CERT", str(cert))
    with pytest.raises(ConfigError, match="go together"):
        load_settings()
    monkeypatch.setenv("TONGBAN_PDF_SEAL_KEY", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match="TONGBAN_PDF_SEAL_KEY"):
        load_settings()
    monkeypatch.setenv("TONGBAN_PDF_SEAL_KEY", str(key))
    settings = load_settings()
    assert (settings.pdf_seal_cert, settings.pdf_seal_key) == (cert.resolve(), key.resolve())
