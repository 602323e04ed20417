"""A signed document as a PDF to keep or print, optionally sealed (docs/signing.md, "The
signed document as a PDF").

``signed_pdf`` lays out one evidence bundle (app/signing/evidence.py) on A4 pages: page 1 is the
document as it was signed — its kind, title and body, the signer (masked) and when they signed —
with a QR code to the online verify page in the top right corner; an appendix lists the
evidence and says how to check it without us. The PDF proves nothing by itself: the bundle does,
and the appendix tells the reader where to get it and how to verify it.

Fonts come from the checklist renderer (app/catalogue/pdf.py): an embedded CJK subset, else
STSong-Light. The output depends on the bundle, the URL, the locale and the font alone
(reportlab's ``invariant`` mode; the creation date is the signing time).

``seal_pdf`` adds a PAdES signature (ETSI EN 319 142-1, baseline B-B) by the platform's
certificate with pyHanko, so a PDF reader shows whether the file changed since we made it. The
certificate is ``TONGBAN_PDF_SEAL_CERT``/``TONGBAN_PDF_SEAL_KEY``; dev makes a self-signed one
under ``var/``; prod without them hands out unsealed PDFs and says so once in the log.

Both functions are synchronous CPU work: an async handler runs them in a worker thread. The
document holds personal data (masked): nothing here logs its content.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import segno
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.catalogue.pdf import (
    ACCENT,
    AUTHOR,
    FRAME_PADDING,
    INK,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    MARGIN_X,
    MUTED,
    NumberedCanvas,
    PdfFont,
    default_font,
    label_value_table,
)
from app.config import Settings, get_settings
from app.core.i18n import DEFAULT_LOCALE, _, current_locale, normalise
from app.core.logging import get_logger
from app.signing.evidence import fingerprint, from_b64url

log = get_logger("signing.pdf")

# China Standard Time has been UTC+8 all year since 1991: a fixed offset needs no tz database.
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
VERIFY_COMMAND = "tongban signature verify <file>"

QR_SIZE = 32 * mm
QR_QUIET_ZONE = 4  # modules of white around the symbol (ISO/IEC 18004, the quiet zone)
HEADER_GAP = 6 * mm
PAGE_WIDTH, PAGE_HEIGHT = A4
# Where the QR code's quiet zone sits on page 1, in points from the page's top-left corner
# (left, top, right, bottom): the top of the frame, flush right.
QR_BOX = (
    PAGE_WIDTH - MARGIN_X - FRAME_PADDING - QR_SIZE,
    MARGIN_TOP + FRAME_PADDING,
    PAGE_WIDTH - MARGIN_X - FRAME_PADDING,
    MARGIN_TOP + FRAME_PADDING + QR_SIZE,
)

SEAL_FIELD = "TongbanSeal"
DEV_SEAL_NAME = "Tongban development seal"
DEV_SEAL_DIR = "pdf-seal"


def kind_label(kind: str) -> str:
    labels = {
        "pledge": _("Pledge"),  # 承诺书
        "declaration": _("Declaration"),  # 申报声明
        "authorisation": _("Authorisation"),  # 授权书
        "receipt": _("Receipt"),  # 签收单
    }
    return labels.get(kind, kind)


def _has_cjk(text: str) -> bool:
    return any("\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef" for char in text)


def _at(data: Any, *keys: str) -> Any:
    """``data[k1][k2]…``, or None where the bundle lacks it: a PDF is no place to fail."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _signed_at(bundle: dict[str, Any]) -> datetime | None:
    try:
        return datetime.strptime(str(bundle.get("signed_at")), "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def _seal_fingerprint(bundle: dict[str, Any]) -> str | None:
    try:
        return fingerprint(from_b64url(_at(bundle, "seal", "public_key")))
    except (ValueError, TypeError):
        return None


def _flags(bundle: dict[str, Any]) -> str:
    # WebAuthn §6.1 authenticator data flags: user present, user verified, backup eligible,
    # backed up.
    return "  ".join(
        f"{name.upper()}={'1' if _at(bundle, 'flags', name) else '0'}"
        for name in ("up", "uv", "be", "bs")
    )


class QrCode(Flowable):
    """A QR code drawn as filled rectangles, one per run of dark modules: vector, crisp at any
    zoom or print resolution, and without an image library."""

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        # Never a Micro QR (segno.make picks one for short data): phone cameras skip those.
        self.matrix = segno.make_qr(data, error="m").matrix
        self.size = size
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        count = len(self.matrix)
        module = self.size / (count + 2 * QR_QUIET_ZONE)
        # Rows overlap by a hair so that anti-aliasing shows no seam between them.
        overlap = module * 0.02
        path = self.canv.beginPath()
        for row_number, row in enumerate(self.matrix):
            y = self.size - (QR_QUIET_ZONE + row_number + 1) * module
            column = 0
            while column < count:
                if not row[column]:
                    column += 1
                    continue
                start = column
                while column < count and row[column]:
                    column += 1
                path.rect(
                    (QR_QUIET_ZONE + start) * module,
                    y - overlap,
                    (column - start) * module,
                    module + overlap,
                )
        self.canv.setFillColor(colors.black)
        self.canv.drawPath(path, stroke=0, fill=1)


class _Styles:
    def __init__(self, font: str, cjk_labels: bool, cjk_document: bool) -> None:
        def style(name: str, size: float, leading: float, wrap: bool, **extra: Any) -> Any:
            extra.setdefault("textColor", INK)
            return ParagraphStyle(
                name,
                fontName=font,
                fontSize=size,
                leading=round(size * leading, 1),
                wordWrap="CJK" if wrap else None,
                **extra,
            )

        self.font = font
        self.meta = style("meta", 9, 1.4, cjk_labels, textColor=MUTED)
        self.kind = style("kind", 12, 1.4, cjk_labels, textColor=ACCENT, spaceAfter=2 * mm)
        self.title = style("title", 18, 1.35, cjk_document)
        self.body = style("body", 11, 1.75, cjk_document, spaceAfter=2 * mm)
        self.heading = style(
            "heading", 12, 1.4, cjk_labels, textColor=ACCENT, spaceBefore=6 * mm, spaceAfter=2 * mm
        )
        self.label = style("label", 9.5, 1.5, cjk_labels, textColor=MUTED)
        self.value = style("value", 10.5, 1.5, True)
        self.sentence = style("sentence", 10, 1.6, cjk_labels)
        # Hashes, ids and URLs have no spaces: they break anywhere ("CJK" wrapping does that).
        self.code = style("code", 8.5, 1.45, True)
        self.url = style("url", 6.5, 1.3, True, textColor=MUTED)
        self.footer = style("footer", 8, 1.5, cjk_labels, textColor=MUTED)
        self.right = style("right", 9, 1.4, cjk_labels, textColor=MUTED, alignment=TA_RIGHT)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _pairs(
    rows: list[tuple[str, Paragraph]], styles: _Styles, width: float, label_width: float
) -> Table:
    return label_value_table(
        [(_p(label, styles.label), value) for label, value in rows],
        font=styles.font,
        width=width,
        label_width=label_width,
        padding=2,
    )


def _url_lines(url: str, style: ParagraphStyle) -> str:
    """Paragraph markup of ``url`` broken after a "/" where a line is full, rather than
    wherever: a reader copying it by hand sees where the parts end."""
    lines = [""]
    for part in re.findall(r"[^/]*/+|[^/]+$", url):
        if lines[-1] and stringWidth(lines[-1] + part, style.fontName, style.fontSize) > QR_SIZE:
            lines.append("")
        lines[-1] += part
    return "<br/>".join(escape(line) for line in lines)


def _header(bundle: dict[str, Any], verify_url: str, styles: _Styles, width: float) -> Table:
    """Kind and title on the left, the QR code and its URL flush right (at ``QR_BOX``)."""
    document = bundle.get("document") if isinstance(bundle.get("document"), dict) else {}
    left = [
        _p(kind_label(_text(_at(document, "kind"))), styles.kind),
        _p(_text(_at(document, "title")), styles.title),
    ]
    right: list[Flowable] = []
    if verify_url:
        right = [
            QrCode(verify_url, QR_SIZE),
            Paragraph(_url_lines(verify_url, styles.url), styles.url),
        ]
    table = Table([[left, right]], colWidths=[width - QR_SIZE, QR_SIZE], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), styles.font),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (0, 0), HEADER_GAP),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def _body(text: str, styles: _Styles) -> list[Flowable]:
    """One paragraph per line of the body; an empty line is a little space."""
    story: list[Flowable] = []
    for line in text.splitlines():
        if line.strip():
            story.append(_p(line.strip(), styles.body))
        else:
            story.append(Spacer(0, 2 * mm))
    return story


def _signer(bundle: dict[str, Any], styles: _Styles, width: float) -> Flowable:
    moment = _signed_at(bundle)
    when = (
        moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S")
        if moment
        else _text(None)
    )
    rows = [
        (_("Signer"), _p(_text(_at(bundle, "signer", "name_masked")), styles.value)),
        (_("Mobile number"), _p(_text(_at(bundle, "signer", "phone_masked")), styles.value)),
    ]
    return KeepTogether(
        [
            Spacer(0, 6 * mm),
            _pairs(rows, styles, width * 0.6, 28 * mm),
            Spacer(0, 2 * mm),
            _p(_("Signed with a passkey at %(time)s (UTC+8).", time=when), styles.sentence),
        ]
    )


def _evidence(bundle: dict[str, Any], verify_url: str, styles: _Styles, width: float) -> list[Any]:
    def code(value: Any) -> Paragraph:
        return _p(_text(value), styles.code)

    rows = [
        (_("Signature ID"), code(bundle.get("id"))),
        (_("Document SHA-256"), code(bundle.get("document_sha256"))),
        (_("Passkey credential ID"), code(_at(bundle, "credential", "id"))),
        (_("Signer account ID"), code(_at(bundle, "signer", "account_id"))),
        (_("Authenticator flags"), code(_flags(bundle))),
        (_("Signature counter"), code(bundle.get("sign_count"))),
        (_("Relying party ID"), code(bundle.get("rp_id"))),
        (_("Origin"), code(bundle.get("origin"))),
        (_("Signed at (UTC)"), code(bundle.get("signed_at"))),
        (_("Client hash"), code(bundle.get("client_hash"))),
        (_("Seal algorithm"), code(_at(bundle, "seal", "alg"))),
        (_("Seal key fingerprint"), code(_seal_fingerprint(bundle))),
    ]
    return [
        PageBreak(),
        _p(_("Evidence appendix"), styles.heading),
        _p(
            _(
                "What was kept when this document was signed. The passkey signed the "
                "document's SHA-256; the platform sealed the whole record with its own key."
            ),
            styles.sentence,
        ),
        Spacer(0, 3 * mm),
        _pairs(rows, styles, width, 42 * mm),
        CondPageBreak(30 * mm),
        _p(_("How to verify"), styles.heading),
        _p(
            _(
                "Offline: download the evidence bundle (a JSON file) and run %(command)s; it "
                "checks the passkey's signature, the document's hash and the platform's seal. "
                "Online: open the link in the QR code, %(url)s",
                command=VERIFY_COMMAND,
                url=verify_url,
            ),
            styles.sentence,
        ),
    ]


def signed_pdf(
    bundle: dict[str, Any], *, verify_url: str, locale: str, font: PdfFont | None = None
) -> bytes:
    """The signed document and its evidence on A4 pages, labels in ``locale`` ("zh-Hans",
    "en"); ``font`` defaults to the process's chosen CJK font."""
    chosen = normalise(locale) or DEFAULT_LOCALE
    token = current_locale.set(chosen)
    try:
        return _render(bundle, verify_url, chosen, font or default_font())
    finally:
        current_locale.reset(token)


def _render(bundle: dict[str, Any], verify_url: str, locale: str, font: PdfFont) -> bytes:
    document = bundle.get("document") if isinstance(bundle.get("document"), dict) else {}
    title, body = _text(_at(document, "title")), str(_at(document, "body") or "")
    cjk_labels = locale.startswith("zh")
    styles = _Styles(font.name, cjk_labels, _has_cjk(title + body))
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        author=AUTHOR,
        subject=kind_label(_text(_at(document, "kind"))),
        creator=AUTHOR,
        lang="zh-Hans" if cjk_labels else "en",
        invariant=1,
        initialFontName=font.name,  # else Helvetica is listed too, though nothing uses it
    )
    width = template.width - 2 * FRAME_PADDING
    story: list[Flowable] = [
        _header(bundle, verify_url, styles, width),
        Spacer(0, 8 * mm),
        *_body(body, styles),
        _signer(bundle, styles, width),
        *_evidence(bundle, verify_url, styles, width),
    ]
    moment = _signed_at(bundle)

    def creation_date(*_: int) -> str:
        # The signing time, so the same bundle gives the same bytes.
        return f"D:{moment:%Y%m%d%H%M%S}Z" if moment else "D:19700101000000Z"

    def first_page(canvas: Canvas, _: SimpleDocTemplate) -> None:
        canvas.setDateFormatter(creation_date)

    footer = f"{AUTHOR} · " + _("Signature %(id)s", id=_text(bundle.get("id")))
    template.build(
        story,
        onFirstPage=first_page,
        canvasmaker=partial(
            NumberedCanvas, footer=footer, footer_style=styles.footer, font=font.name
        ),
    )
    return buffer.getvalue()


# --- The PAdES seal ---------------------------------------------------------------------


def development_seal(var_dir: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for dev and tests, made once under ``var_dir`` and
    reused: (certificate, key), PEM. Several processes may race to make it: each builds its
    own in a private folder and renames it into place; the first rename wins."""
    folder = var_dir / DEV_SEAL_DIR
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    if cert_path.is_file() and key_path.is_file():
        return cert_path, key_path
    var_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{DEV_SEAL_DIR}-", dir=var_dir))  # mode 0700
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, DEV_SEAL_NAME),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tongban"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # Non-repudiation (content commitment) is what signature validators ask of a
        # document signing key (RFC 5280 §4.2.1.3).
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    (staging / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (staging / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    try:
        staging.rename(folder)
        log.info("signing_pdf_seal_created", path=str(folder))
    except OSError:  # another process got there first: its seal is as good as ours
        shutil.rmtree(staging, ignore_errors=True)
    return cert_path, key_path


@cache
def seal_signer(settings: Settings) -> signers.SimpleSigner | None:
    """The platform's seal for PDFs, or None when there is none to use (logged once)."""
    if settings.pdf_seal_cert and settings.pdf_seal_key:
        cert_path, key_path = settings.pdf_seal_cert, settings.pdf_seal_key
    elif settings.is_dev:
        cert_path, key_path = development_seal(settings.var_dir)
    else:
        log.warning(
            "signing_pdf_seal_unconfigured",
            hint="set TONGBAN_PDF_SEAL_CERT and TONGBAN_PDF_SEAL_KEY to seal signed PDFs",
        )
        return None
    signer = signers.SimpleSigner.load(key_file=str(key_path), cert_file=str(cert_path))
    if signer is None:
        log.error("signing_pdf_seal_unusable", cert=str(cert_path), key=str(key_path))
    return signer


def seal_pdf(pdf: bytes, *, settings: Settings | None = None) -> bytes:
    """``pdf`` with the platform's PAdES signature in the field ``TongbanSeal``, added as an
    incremental update; unchanged when there is no seal to use. Not deterministic: the
    signature carries its own time."""
    signer = seal_signer(settings or get_settings())
    if signer is None:
        return pdf
    metadata = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        name=AUTHOR,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    output = signers.sign_pdf(writer, metadata, signer=signer)
    return bytes(output.getbuffer())
