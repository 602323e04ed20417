"""Remote identity verification end to end in headless Chromium with a fake camera: a citizen on
a phone starts a draft of an item that needs identity assurance level 2, follows the notice to
the verification, takes the selfie with the camera (Chromium plays a Y4M video made from
scikit-image's astronaut portrait), sends a photo of a card, and waits while the real worker
checks both; an officer on a desktop (passkey session) approves from the review queue; the
citizen comes back to the draft, which can now be submitted."""

from __future__ import annotations

import io
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from playwright.async_api import Browser, Page, async_playwright, expect
from skimage import data as samples

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from tests.conftest import ServerProcess
from tests.e2e.axe import AxeNet, report
from tests.e2e.conftest import PHONE, chromium_path
from tests.e2e.people import add_virtual_authenticator, sign_in_by_sms

CITIZEN = "13900002222"  # numbers of this test alone
OFFICER = "13900002223"
ITEM = "外国人来华工作许可注销"  # an item that needs level 2, with one upload
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def portrait() -> Image.Image:
    """The astronaut, turned a little and cropped: the face fills the frame as a selfie does,
    and no other test sends this very image (the worker refuses a photo used before)."""
    turned = Image.fromarray(samples.astronaut()).rotate(8, resample=Image.Resampling.BICUBIC)
    return turned.crop((32, 32, 480, 480)).resize((640, 640))


def card() -> bytes:
    """Stands in for the photo of an identity card: sharp, well lit, large enough."""
    out = io.BytesIO()
    ImageOps.mirror(Image.fromarray(samples.coffee())).resize((960, 640)).save(out, "JPEG")
    return out.getvalue()


def page_photo() -> bytes:
    image = Image.new("RGB", (1200, 1600), "white")
    for y in range(100, 1500, 60):
        image.paste((40, 40, 40), (120, y, 1080, y + 12))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def write_y4m(image: Image.Image, path: Path, frames: int = 5) -> None:
    """YUV4MPEG2, 4:2:0 with JPEG (full-range) chroma siting: what Chromium's fake capture
    device plays, looping. Pillow's YCbCr is the JPEG conversion; chroma is halved each way."""
    width, height = image.size
    y, cb, cr = image.convert("RGB").convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = (
        b"FRAME\n"
        + y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + frame * frames)


@pytest.fixture
async def camera_browser(axe: AxeNet, tmp_path: Path) -> AsyncIterator[Browser]:
    """Chromium as the conftest launches it, plus a fake camera playing the portrait, and
    under the same accessibility net."""
    video = tmp_path / "portrait.y4m"
    write_y4m(portrait(), video)
    args = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",  # the permission prompt answers yes
        f"--use-file-for-fake-video-capture={video}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")
    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=args
        )
        axe.cover(instance)
        yield instance
        await axe.settle()
        await instance.close()
    if axe.found:
        pytest.fail(report(axe.found), pytrace=False)


async def officer_approves(browser: Browser, base: str) -> None:
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    await sign_in_by_sms(page, base, OFFICER)
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")
    await page.get_by_role("button", name="退出登录").click()
    await page.goto(f"{base}/signin")
    await expect(page.get_by_role("status")).to_contain_text("已用通行密钥登录")

    await page.goto(f"{base}/officer/identity")
    # Oldest first: other tests' verifications may fill the first pages; walk on until it shows.
    mine = page.get_by_role("link", name=re.compile(r"139\*{4}2222"))
    while not await mine.count():
        await page.locator("a[rel='next']").click()
    await mine.first.click()
    # Both images side by side, the selfie and the card.
    await expect(page.locator("img[src^='/files/']")).to_have_count(2)
    await page.get_by_role("button", name="确认身份").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await context.close()


async def take_the_selfie(page: Page) -> None:
    selfie = page.locator("#part-selfie")
    await selfie.get_by_role("button", name="打开摄像头").click()
    await selfie.get_by_role("button", name="拍照").click()
    # The frame went to the same form as the file input: the page comes back, checking it.
    await expect(selfie.get_by_text("正在检查…")).to_be_visible()


async def test_a_selfie_by_camera_an_officer_approves_and_the_draft_is_submitted(
    camera_browser: Browser,
    live_server: ServerProcess,
    live_worker: subprocess.Popen[bytes],
) -> None:
    base = live_server.public_url
    await create_account(f"+86{OFFICER}", Role.OFFICER, department_code="science", name="核验窗口")
    context = await camera_browser.new_context(**PHONE, permissions=["camera"])
    page = await context.new_page()
    await sign_in_by_sms(page, base, CITIZEN)

    # A draft of an item that needs level 2: it says so, and links to the verification.
    await page.goto(f"{base}/guide/foreign-work-permit-cancellation/checklist")
    await expect(page.get_by_role("heading", level=1)).to_have_text("您的材料清单")
    await page.get_by_role("button", name="在线申报").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    draft = page.url
    assert re.search(r"/applications/\d+$", draft), draft
    form = page.locator("li[id^='material-']").first
    await form.locator("input[type=file][multiple]").set_input_files(
        {"name": "证明.jpg", "mimeType": "image/jpeg", "buffer": page_photo()}
    )
    await form.get_by_role("button", name="上传").click()
    await expect(form.get_by_role("link", name="证明.jpg")).to_be_visible()
    await expect(page.get_by_role("button", name="提交", exact=True)).to_be_disabled()
    await expect(page.get_by_role("heading", name="实名认证后才能提交")).to_be_visible()
    await page.get_by_role("link", name="核验我的身份").click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("核验身份")
    await page.get_by_role("button", name="开始核验").click()
    await expect(page.get_by_role("heading", name="自拍时请完成的动作")).to_be_visible()
    assert re.search(r"/identity/\d+", page.url), page.url

    await take_the_selfie(page)
    document = page.locator("#part-document")
    await document.get_by_label(re.compile("身份证照片")).set_input_files(
        {"name": "card.jpg", "mimeType": "image/jpeg", "buffer": card()}
    )
    await document.get_by_role("button", name="发送身份证照片").click()
    # The worker checks both; the page follows by itself (htmx) until the review.
    await expect(page.get_by_role("heading", name="工作人员正在审核")).to_be_visible(timeout=30_000)

    await officer_approves(camera_browser, base)
    account = await Account.objects().where(Account.phone == f"+86{CITIZEN}").first()
    assert account is not None and account.identity_verified_at is not None

    await page.reload()
    await expect(page.get_by_role("heading", name="您的身份已核验")).to_be_visible()
    await page.get_by_role("link", name="回到刚才的页面").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    assert page.url == draft
    submit = page.get_by_role("button", name="提交", exact=True)
    await expect(submit).to_be_enabled()
    await submit.click()
    await expect(page.locator(".flash-success")).to_contain_text("已提交。您的办件码是")
    await context.close()
