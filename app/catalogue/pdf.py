"""The personal checklist as a PDF to print or keep (个性化材料清单).

The page handler localises every string and hands over a ``PrintableChecklist``; this module
only lays it out (reportlab platypus, A4) and returns the bytes. The output depends on the
document and the font alone: reportlab's ``invariant`` mode fixes the document id, and the
creation date is the checklist's own ``generated_on``.

Chinese needs a font the reader can draw. We embed a subset of a CJK font with TrueType
outlines (reportlab cannot embed CFF outlines, so Noto/Source Han ``.otf``/``.ttc`` are
refused and skipped) — ``TONGBAN_PDF_FONT``, else the first of ``SYSTEM_FONTS`` found — and
otherwise name Adobe's STSong-Light CID font, which is not embedded: readers with Asian font
support substitute their own Song face. Subsets carry a ToUnicode map, so the text can be
searched and copied. The font is registered once per process.

Rendering is pure CPU work (a few tens of milliseconds for a typical checklist): an async
handler should run it in a worker thread. The document holds personal data (name, masked ID
number): nothing here logs its content.
"""

from __future__ import annotations

import datetime
import io
import re
from collections.abc import Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import msgspec
from babel.dates import format_date
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from app.config import get_settings
from app.core.logging import get_logger

log = get_logger("catalogue.pdf")

AUTHOR = "通办 Tongban"
CID_FONT = "STSong-Light"
# Debian paths of CJK fonts with TrueType outlines, best first (face 0 of a collection):
# fonts-wqy-microhei (the Docker image and CI install it), fonts-wqy-zenhei,
# fonts-arphic-uming / -ukai, fonts-droid-fallback.
SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
)
# A font without these is no CJK font (DejaVu, Liberation…), whatever its outlines.
_CJK_PROBE = "通办材料清单√□"

MARK_HELD = "√"  # U+221A, in GB2312, so in every Chinese font; 打√ as on paper forms
MARK_TODO = "□"  # U+25A1: a box to tick once the material is ready

INK = colors.HexColor("#111827")
MUTED = colors.HexColor("#4b5563")
HELD_INK = colors.HexColor("#6b7280")
HELD_FILL = colors.HexColor("#f3f4f6")
RULE = colors.HexColor("#d1d5db")
ACCENT = colors.HexColor("#1d4ed8")

MARGIN_X = 20 * mm
MARGIN_TOP = 18 * mm
MARGIN_BOTTOM = 26 * mm
HEADING_ROOM = 35 * mm
FRAME_PADDING = 6  # points: platypus frames inset their content by this much


class ChecklistLine(msgspec.Struct, frozen=True):
    name: str  # material name, localised
    how: str  # how to provide it, localised: "免于提交（电子证照库已有）", "上传扫描件；可告知承诺"
    note: str = ""  # what exactly to provide
    held: bool = False  # the licence library holds it (免于提交): ticked and grey


class PrintableChecklist(msgspec.Struct, frozen=True):
    locale: str  # "zh_Hans" or "en"
    title: str  # item or bundle name, localised
    subtitle: str  # department name, or "一件事"
    reference: str  # the item or bundle code
    generated_on: datetime.date
    # (label, value) prefilled from the account, ID and phone masked; empty for anonymous readers
    applicant: tuple[tuple[str, str], ...]
    answers: tuple[tuple[str, str], ...]  # (guide question, chosen options)
    facts: tuple[tuple[str, str], ...]  # ("承诺时限", "5 个工作日"), ("收费", "不收费")
    lines: tuple[ChecklistLine, ...]
    label_applicant: str
    label_answers: str
    label_materials: str
    footer: str  # disclaimer and the item's URL


class PdfFont(msgspec.Struct, frozen=True):
    """A font registered with reportlab under ``name``."""

    name: str
    embedded: bool
    source: str  # the font file, or the CID font's name


def _usable_truetype(path: Path) -> PdfFont | None:
    try:
        font = TTFont(f"TongbanCJK-{path.stem}", str(path), subfontIndex=0)
    except (TTFError, OSError) as exc:
        # CFF outlines ("postscript outlines are not supported"), not a font, unreadable.
        log.warning("checklist_pdf_font_refused", path=str(path), reason=str(exc))
        return None
    missing = [char for char in _CJK_PROBE if ord(char) not in font.face.charToGlyph]
    if missing:
        log.warning("checklist_pdf_font_refused", path=str(path), reason="no CJK glyphs")
        return None
    pdfmetrics.registerFont(font)
    return PdfFont(name=font.fontName, embedded=True, source=str(path))


@cache
def cid_font() -> PdfFont:
    """Adobe's STSong-Light, named but not embedded: the fallback every CJK-aware reader draws."""
    pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return PdfFont(name=CID_FONT, embedded=False, source=CID_FONT)


@cache
def resolve_font(
    configured: Path | None = None, candidates: Sequence[Path] = SYSTEM_FONTS
) -> PdfFont:
    """The configured font, else the first usable system font, else STSong-Light; cached."""
    for path in (configured, *candidates):
        if path is None or not path.is_file():
            continue
        font = _usable_truetype(path)
        if font is not None:
            log.info("checklist_pdf_font_selected", path=str(path))
            return font
    log.warning("checklist_pdf_font_fallback", font=CID_FONT, install="fonts-wqy-microhei")
    return cid_font()


def default_font() -> PdfFont:
    return resolve_font(get_settings().pdf_font)


class _Styles:
    def __init__(self, font: str, cjk: bool) -> None:
        wrap = "CJK" if cjk else None
        self.font = font

        def style(
            name: str, size: float, leading_ratio: float = 1.5, **extra: Any
        ) -> ParagraphStyle:
            extra.setdefault("textColor", INK)
            return ParagraphStyle(
                name,
                fontName=font,
                fontSize=size,
                leading=round(size * leading_ratio, 1),
                wordWrap=wrap,
                **extra,
            )

        self.title = style("title", 18, 1.35, spaceAfter=2 * mm)
        self.subtitle = style("subtitle", 11, textColor=MUTED)
        self.meta = style("meta", 9, textColor=MUTED, alignment=TA_RIGHT)
        self.heading = style("heading", 12, textColor=ACCENT, spaceBefore=6 * mm, spaceAfter=2 * mm)
        self.label = style("label", 9.5, textColor=MUTED)
        self.value = style("value", 9.5)
        self.name = style("name", 10.5)
        self.note = style("note", 8.5, textColor=MUTED)
        self.held_name = style("held_name", 10.5, textColor=HELD_INK)
        self.how = style("how", 9.5)
        self.held_how = style("held_how", 9.5, textColor=HELD_INK)
        self.number = style("number", 10.5, alignment=TA_CENTER)
        self.held_number = style("held_number", 10.5, alignment=TA_CENTER, textColor=HELD_INK)
        self.mark = style("mark", 13, 1.2, alignment=TA_CENTER)
        self.held_mark = style("held_mark", 13, 1.2, alignment=TA_CENTER, textColor=MUTED)
        self.footer = style("footer", 8, textColor=MUTED)


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def label_value_table(
    rows: Sequence[Sequence[Any]],
    *,
    font: str,
    width: float,
    label_width: float,
    padding: float = 1.5,
) -> Table:
    """Rows of (label, value) flowables as a two-column table with a hairline under each row,
    labels ``label_width`` wide; the signed-document PDF lays out its facts the same way."""
    table = Table(
        [list(row) for row in rows], colWidths=[label_width, width - label_width], hAlign="LEFT"
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),  # else Helvetica joins the PDF
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), padding),
                ("BOTTOMPADDING", (0, 0), (-1, -1), padding),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ]
        )
    )
    return table


def _pairs(rows: Sequence[tuple[str, str]], styles: _Styles, width: float) -> Table:
    return label_value_table(
        [(_p(label, styles.label), _p(value, styles.value)) for label, value in rows],
        font=styles.font,
        width=width,
        label_width=38 * mm,
    )


def _materials(lines: Sequence[ChecklistLine], styles: _Styles, width: float) -> Table:
    mark_width, number_width, how_width = 9 * mm, 9 * mm, 56 * mm
    rows = []
    for number, line in enumerate(lines, start=1):
        name_style = styles.held_name if line.held else styles.name
        what: list[Flowable] = [_p(line.name, name_style)]
        if line.note:
            what.append(_p(line.note, styles.note))
        rows.append(
            [
                _p(MARK_HELD, styles.held_mark) if line.held else _p(MARK_TODO, styles.mark),
                _p(f"{number}.", styles.held_number if line.held else styles.number),
                what,
                _p(line.how, styles.held_how if line.held else styles.how),
            ]
        )
    table = Table(
        rows,
        colWidths=[
            mark_width,
            number_width,
            width - mark_width - number_width - how_width,
            how_width,
        ],
        hAlign="LEFT",
    )
    commands: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), styles.font),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ("LEFTPADDING", (0, 0), (1, -1), 1),
        ("RIGHTPADDING", (0, 0), (1, -1), 1),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, INK),
    ]
    commands += [
        ("BACKGROUND", (0, row), (-1, row), HELD_FILL)
        for row, line in enumerate(lines)
        if line.held
    ]
    table.setStyle(TableStyle(commands))
    return table


class NumberedCanvas(Canvas):
    """Holds every page back until the end, then draws the footer with "page / pages".

    Made with ``partial(NumberedCanvas, footer=…, footer_style=…, font=…)`` as a platypus
    ``canvasmaker``; the signed-document PDF (app/signing/pdf.py) uses it too."""

    def __init__(
        self, *args: Any, footer: str, footer_style: ParagraphStyle, font: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._footer = footer
        self._footer_style = footer_style
        self._font = font
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, total)
            super().showPage()
        super().save()

    def _draw_footer(self, number: int, total: int) -> None:
        page_width, _ = self._pagesize
        left, right = MARGIN_X + FRAME_PADDING, page_width - MARGIN_X - FRAME_PADDING
        top = MARGIN_BOTTOM - 5 * mm
        self.setStrokeColor(RULE)
        self.setLineWidth(0.4)
        self.line(left, top, right, top)
        numbers = f"{number} / {total}"
        numbers_width = pdfmetrics.stringWidth(numbers, self._font, 8) + 6 * mm
        if self._footer:
            # A URL starts its own line rather than being cut wherever the line is full.
            markup = re.sub(r"\s+(?=https?://)", "<br/>", escape(self._footer))
            text = Paragraph(markup, self._footer_style)
            _, height = text.wrap(right - left - numbers_width, MARGIN_BOTTOM)
            text.drawOn(self, left, top - 2 * mm - height)
        self.setFont(self._font, 8)
        self.setFillColor(MUTED)
        self.drawRightString(right, top - 2 * mm - 8, numbers)


def checklist_pdf(doc: PrintableChecklist, *, font: PdfFont | None = None) -> bytes:
    """The checklist on A4 pages; ``font`` defaults to the process's chosen CJK font."""
    font = font or default_font()
    cjk = doc.locale.lower().startswith("zh")
    styles = _Styles(font.name, cjk)
    buffer = io.BytesIO()
    template = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=doc.title,
        author=AUTHOR,
        subject=doc.subtitle,
        creator=AUTHOR,
        lang="zh-Hans" if cjk else "en",
        invariant=1,
        initialFontName=font.name,  # else Helvetica is listed too, though nothing uses it
    )
    width = template.width - 2 * FRAME_PADDING
    when = format_date(doc.generated_on, format="long", locale="zh_Hans" if cjk else "en")

    story: list[Flowable] = [
        _p(f"{doc.reference} · {when}", styles.meta),
        Spacer(0, 3 * mm),
        _p(doc.title, styles.title),
    ]
    if doc.subtitle:
        story.append(_p(doc.subtitle, styles.subtitle))
    if doc.facts:
        story += [Spacer(0, 4 * mm), _pairs(doc.facts, styles, width)]
    # A heading goes to the next page unless a few rows fit under it. (keepWithNext would move
    # a long table whole, leaving the page above it empty.)
    if doc.applicant:
        story += [
            CondPageBreak(HEADING_ROOM),
            _p(doc.label_applicant, styles.heading),
            _pairs(doc.applicant, styles, width),
        ]
    if doc.answers:
        story += [
            CondPageBreak(HEADING_ROOM),
            _p(doc.label_answers, styles.heading),
            _pairs(doc.answers, styles, width),
        ]
    story += [CondPageBreak(HEADING_ROOM), _p(doc.label_materials, styles.heading)]
    if doc.lines:
        story.append(_materials(doc.lines, styles, width))

    def creation_date(*_: int) -> str:
        # The day the checklist was made, so the same checklist gives the same bytes.
        return f"D:{doc.generated_on:%Y%m%d}"

    def first_page(canvas: Canvas, _: SimpleDocTemplate) -> None:
        canvas.setDateFormatter(creation_date)

    template.build(
        story,
        onFirstPage=first_page,
        canvasmaker=partial(
            NumberedCanvas, footer=doc.footer, footer_style=styles.footer, font=font.name
        ),
    )
    return buffer.getvalue()
