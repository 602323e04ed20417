"""The checklist PDF: it opens, its Chinese is real text in a real font, and it paginates.

pdfium (the engine of Chrome's viewer) opens and renders every document here. The embedded-font
tests need a CJK TrueType font on the machine and fail, naming the Debian package, without one:
a skip would let a server that prints tofu pass unnoticed.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from app.catalogue.pdf import (
    MARK_HELD,
    MARK_TODO,
    SYSTEM_FONTS,
    ChecklistLine,
    PdfFont,
    PrintableChecklist,
    checklist_pdf,
    cid_font,
    resolve_font,
)
from app.config import ConfigError, load_settings

TITLE = "食品经营许可证核发（新办）"
HELD = "免于提交（电子证照库已有）"
DPI = 100


def line(name: str = "经营场所使用证明", **fields: object) -> ChecklistLine:
    defaults: dict[str, object] = {
        "how": "上传扫描件；可告知承诺",
        "note": "房屋产权证明或租赁合同",
    }
    return ChecklistLine(name=name, **{**defaults, **fields})  # type: ignore[arg-type]


def checklist(**fields: object) -> PrintableChecklist:
    defaults: dict[str, object] = {
        "locale": "zh_Hans",
        "title": TITLE,
        "subtitle": "上海市静安区市场监督管理局",
        "reference": "food-business-licence",
        "generated_on": datetime.date(2026, 11, 24),
        "applicant": (
            ("姓名", "李四"),
            ("证件号码", "3101**********1234"),
            ("手机号", "138****0000"),
        ),
        "answers": (("您的经营业态？", "超市"), ("是否现场制售？", "是")),
        "facts": (("承诺时限", "5 个工作日"), ("收费", "不收费")),
        "lines": (
            line("食品经营许可申请书", how="在线填写", note=""),
            line("营业执照", how=HELD, note="", held=True),
            line(),
            line("食品安全管理制度", how="原件带至窗口或邮寄", note=""),
        ),
        "label_applicant": "申请人",
        "label_answers": "您的回答",
        "label_materials": "所需材料",
        "footer": "本清单由通办智能导办生成，仅供参考；以受理部门要求为准。 "
        "https://tongban.example.gov.cn/services/food-business-licence",
    }
    return PrintableChecklist(**{**defaults, **fields})  # type: ignore[arg-type]


def embedded_font() -> PdfFont:
    font = resolve_font(None)
    if not font.embedded:
        pytest.fail(
            "No CJK font with TrueType outlines on this machine (looked for "
            + ", ".join(str(path) for path in SYSTEM_FONTS)
            + "): install the Debian package fonts-wqy-microhei "
            "(apt-get install fonts-wqy-microhei); CI and the Docker image do."
        )
    return font


def texts(data: bytes) -> list[str]:
    """Each page's text as pdfium extracts it, with line breaks and spaces removed."""
    document = pdfium.PdfDocument(data)
    return [re.sub(r"\s+", "", page.get_textpage().get_text_range()) for page in document]


def render(data: bytes, page: int = 0) -> Image.Image:
    return pdfium.PdfDocument(data)[page].render(scale=DPI / 72).to_pil().convert("L")


def ink(image: Image.Image, top: int, bottom: int) -> int:
    """Dark pixels between two rows."""
    return sum(image.crop((0, top, image.width, bottom)).histogram()[:128])


def test_the_pdf_opens_and_its_chinese_text_extracts_as_written() -> None:
    data = checklist_pdf(checklist(), font=embedded_font())

    (page,) = texts(data)
    for expected in (TITLE, "食品经营许可申请书", "营业执照", "免于提交", "李四", "138****0000"):
        assert expected in page
    assert MARK_HELD + "2.营业执照" in page
    metadata = pdfium.PdfDocument(data).get_metadata_dict()
    assert metadata["Title"] == TITLE
    assert metadata["Author"] == "通办 Tongban"
    assert metadata["CreationDate"] == "D:20261124"


def test_the_same_checklist_gives_the_same_bytes() -> None:
    font = embedded_font()
    assert checklist_pdf(checklist(), font=font) == checklist_pdf(checklist(), font=font)


def test_the_font_is_embedded_and_the_title_ink_comes_from_its_glyphs() -> None:
    font = embedded_font()
    data = checklist_pdf(checklist(), font=font)
    assert b"/FontFile2" in data
    # Every font is a subset (tagged "ABCDEF+") of the embedded face: no Helvetica, no CID name.
    base_fonts = re.findall(rb"/BaseFont /([^\s/]+)", data)
    assert base_fonts
    assert all(re.fullmatch(rb"[A-Z]{6}\+\S+", name) for name in base_fonts), base_fonts

    # Where pdfium places the title's characters, in pixels from the top of page 1.
    page = pdfium.PdfDocument(data)[0]
    textpage = page.get_textpage()
    start = textpage.get_text_range().index(TITLE)
    boxes = [textpage.get_charbox(start + i) for i in range(len(TITLE))]
    height = page.get_height()
    top = int((height - max(box[3] for box in boxes)) * DPI / 72) - 2
    bottom = int((height - min(box[1] for box in boxes)) * DPI / 72) + 2

    # No-break spaces keep the title's line, so nothing else moves.
    blank = checklist_pdf(checklist(title="\u00a0" * len(TITLE)), font=font)
    shown, hidden = render(data), render(blank)
    assert ink(shown, top, bottom) > 500
    assert ink(hidden, top, bottom) == 0
    differing_rows = [
        y
        for y in range(shown.height)
        if shown.crop((0, y, shown.width, y + 1)).tobytes()
        != hidden.crop((0, y, hidden.width, y + 1)).tobytes()
    ]
    assert differing_rows
    assert top <= min(differing_rows) and max(differing_rows) <= bottom


def test_sixty_materials_flow_onto_numbered_pages() -> None:
    lines = tuple(
        line(
            f"材料{number:02d}号",
            held=number % 7 == 0,
            how=HELD if number % 7 == 0 else "上传扫描件",
        )
        for number in range(1, 61)
    )
    data = checklist_pdf(checklist(lines=lines), font=embedded_font())

    pages = texts(data)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert page.endswith(f"{number}/{len(pages)}")
    everything = "".join(pages)
    assert all(f"材料{number:02d}号" in everything for number in range(1, 61))
    # The table starts under its heading on page 1 rather than waiting for a page of its own.
    assert "所需材料" + MARK_TODO + "1.材料01号" in pages[0]


def test_long_english_wraps_inside_the_page() -> None:
    long_name = "Certified translation of the articles of association " * 4
    document = checklist(
        locale="en",
        title="Food business licence (new application) " * 3,
        lines=(line(long_name.strip(), how="Upload a scan; a pledge is accepted", note=""),),
        footer="For reference only. https://tongban.example.gov.cn/services/" + "x" * 120,
    )
    data = checklist_pdf(document, font=embedded_font())

    page = pdfium.PdfDocument(data)[0]
    textpage = page.get_textpage()
    right = max(textpage.get_charbox(i)[2] for i in range(textpage.count_chars()))
    assert right <= page.get_width() - 15 * 72 / 25.4  # inside the 20 mm margin, give or take
    assert "Certifiedtranslationofthearticles" in texts(data)[0]


def test_markup_in_the_data_is_printed_as_text() -> None:
    name = "<b>营业执照</b> & 副本 <br/>"
    data = checklist_pdf(checklist(lines=(line(name),)), font=embedded_font())
    assert re.sub(r"\s+", "", name) in texts(data)[0]


def test_an_anonymous_reader_gets_no_applicant_section() -> None:
    data = checklist_pdf(checklist(applicant=(), answers=()), font=embedded_font())
    (page,) = texts(data)
    assert "申请人" not in page
    assert "您的回答" not in page
    assert "营业执照" in page


def test_the_cid_fallback_gives_a_valid_pdf_with_searchable_chinese() -> None:
    data = checklist_pdf(checklist(), font=cid_font())

    (page,) = texts(data)
    assert TITLE in page
    assert "李四" in page
    assert b"/STSong-Light" in data
    assert b"/FontFile" not in data  # named, not embedded


def test_a_font_reportlab_cannot_embed_is_passed_over(tmp_path: Path) -> None:
    cff = tmp_path / "NotoSansCJK-Regular.otf"
    cff.write_bytes(b"OTTO" + bytes(64))  # the sfnt tag of CFF outlines
    assert resolve_font(cff, candidates=()) == cid_font()

    latin = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    if latin.exists():  # TrueType, but without a single Chinese glyph
        assert resolve_font(latin, candidates=()) == cid_font()


def test_the_configured_font_comes_first(tmp_path: Path) -> None:
    chosen = embedded_font()
    assert resolve_font(Path(chosen.source), candidates=(tmp_path / "missing.ttf",)) == chosen


def test_a_configured_font_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TONGBAN_PDF_FONT", str(tmp_path / "missing.ttc"))
    with pytest.raises(ConfigError, match="TONGBAN_PDF_FONT"):
        load_settings()
    font = tmp_path / "font.ttc"
    font.write_bytes(b"")
    monkeypatch.setenv("TONGBAN_PDF_FONT", str(font))
    assert load_settings().pdf_font == font.resolve()
