"""Applying and deciding, end to end in headless Chromium: a citizen on a phone walks the guide
of the public-place hygiene licence, signs the data-use authorisation so the business licence
comes from the library, applies with one photo and one pledge signed with a passkey, and
submits; an officer on a desktop (passkey session) pre-reviews, accepts it as pledge-based,
reviews and approves; the citizen then sees the licence in the library, the timeline on
/track/{code}, and the text messages in the dev inbox."""

from __future__ import annotations

import io
import re
import subprocess
import time
from datetime import UTC, datetime

import httpx
from PIL import Image
from playwright.async_api import Browser, BrowserContext, Page, expect

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from tests.conftest import ServerProcess
from tests.e2e.people import add_virtual_authenticator, sign_in_by_sms
from tests.licences.test_licences import add_licence

CITIZEN = "13900003333"  # numbers of this test alone
OFFICER = "13900003334"
ITEM = "公共场所卫生许可证核发（告知承诺）"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


def photo() -> bytes:
    """A photographed page: big enough to pass the image check."""
    image = Image.new("RGB", (1200, 1600), "white")
    for y in range(100, 1500, 60):
        image.paste((40, 40, 40), (120, y, 1080, y + 12))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def add_passkey(page: Page) -> None:
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")


async def sign_with_passkey(page: Page) -> None:
    await expect(page.get_by_role("heading", level=1)).to_have_text("阅读并签名")
    await page.get_by_role("button", name="用通行密钥签名").click()


async def citizen_applies(page: Page, base: str) -> str:
    """From the service page to a submitted application; returns its tracking code."""
    await page.goto(f"{base}/services/public-place-hygiene-licence")
    await expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    await page.get_by_role("link", name="开始办理：看看需要什么材料").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("您需要哪些材料？")
    await page.get_by_label("宾馆、旅店", exact=True).check()
    await page.get_by_role("button", name="查看我的材料清单").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("您的材料清单")

    # The business licence is in the library: one signature and it need not be handed in.
    await page.get_by_role("button", name="签署数据使用授权书").click()
    await sign_with_passkey(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text("您的材料清单")
    await expect(page.locator(".mark-held")).to_have_count(1)

    await page.get_by_role("button", name="在线申报").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    assert re.search(r"/applications/\d+$", page.url), page.url

    # One photo of the application form, chosen from the phone.
    form = page.locator("li[id^='material-']").filter(has_text="公共场所卫生许可申请书")
    await form.locator("input[type=file][multiple]").set_input_files(
        {"name": "申请书.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    await form.get_by_role("button", name="上传").click()
    await expect(form.get_by_role("link", name="申请书.jpg")).to_be_visible()

    # The test report is replaced by the item's pledge, signed with the passkey.
    report = page.locator("li[id^='material-']").filter(has_text="公共场所卫生检测报告")
    await report.get_by_label("以签署的承诺书代替（告知承诺）").check()
    await report.get_by_role("button", name="选择", exact=True).click()
    await sign_with_passkey(page)
    await expect(page.get_by_role("heading", level=1)).to_have_text(ITEM)
    await expect(report.get_by_text("承诺书已签署")).to_be_visible()

    await page.get_by_role("button", name="提交", exact=True).click()
    flash = page.locator(".flash-success")
    await expect(flash).to_contain_text("已提交。您的办件码是")
    found = re.search(r"\d{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", await flash.inner_text())
    assert found
    return found.group(0)


async def officer_decides(browser: Browser, base: str, code: str) -> None:
    context = await browser.new_context(**DESKTOP)
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    await sign_in_by_sms(page, base, OFFICER)
    await add_passkey(page)
    await page.get_by_role("button", name="退出登录").click()
    await page.goto(f"{base}/signin")
    await expect(page.get_by_role("status")).to_contain_text("已用通行密钥登录")

    await page.goto(f"{base}/officer")
    await page.get_by_role("link", name=re.compile(code)).first.click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("公共场所卫生许可证")
    # The photo is there to look at, next to its image check; the pledge links to its check.
    await expect(page.locator("img[src^='/files/']")).to_have_count(1)
    await expect(page.locator("a[href^='/signatures/']")).to_have_count(1)

    await page.get_by_role("button", name="开始预审").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await page.get_by_label("告知承诺受理").check()
    await page.get_by_role("button", name="受理", exact=True).click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await page.get_by_role("button", name="开始审查").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await page.get_by_role("button", name="准予许可").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await expect(page.get_by_role("heading", level=2, name="办理进度")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("已发证")
    await context.close()


async def test_apply_with_a_photo_and_a_pledge_and_an_officer_approves(
    context: BrowserContext,
    browser: Browser,
    live_server: ServerProcess,
    live_worker: subprocess.Popen[bytes],
) -> None:
    base = live_server.public_url
    await create_account(f"+86{OFFICER}", Role.OFFICER, department_code="health", name="卫生窗口")
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    await sign_in_by_sms(page, base, CITIZEN)
    await add_passkey(page)
    # Verified at a counter earlier (L2), and the government holds their business licence.
    await Account.update({Account.identity_verified_at: datetime.now(UTC)}).where(
        Account.phone == f"+86{CITIZEN}"
    )
    account = await Account.select(Account.id).where(Account.phone == f"+86{CITIZEN}").first()
    assert account is not None
    await add_licence(account=account["id"], code="business_licence", number="91310000MA1K0E2E77")

    code = await citizen_applies(page, base)
    await officer_decides(browser, base, code)

    # The licence is in the citizen's library.
    await page.goto(f"{base}/licences")
    await expect(page.locator("main")).to_contain_text("准予行政许可决定书")

    # The tracking page shows the timeline to anyone with the code.
    await page.goto(f"{base}/track/{code.replace('-', '')}")
    main = page.locator("main")
    for step in ("申请人已提交", "开始预审", "受理", "开始审查", "已发证"):
        await expect(main).to_contain_text(step)

    # The text messages reached the dev inbox: submitted, accepted, licence issued.
    bodies = sms_about(base, code, ("已提交", "已受理", "已发证"))
    assert len(bodies) >= 3, bodies


def sms_about(base: str, code: str, words: tuple[str, ...], timeout: float = 30) -> list[str]:
    """The citizen's messages naming the code, once each word is in one (the worker sends
    them as it claims them)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = httpx.get(f"{base}/dev/sms.json", params={"to": f"+86{CITIZEN}"}, timeout=5)
        bodies = [m["body"] for m in messages.json() if code in m["body"]]
        if all(any(word in body for body in bodies) for word in words):
            return bodies
        assert time.monotonic() < deadline, bodies
        time.sleep(0.3)
