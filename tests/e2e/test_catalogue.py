"""Finding a service and learning what to hand in, on a phone in headless Chromium: search by
pinyin initials as you type, open the food business licence, walk the guide, see the
checklist, sign the data-use authorisation with a passkey, see the licence the library holds
marked 免于提交, and download the checklist as a PDF."""

from __future__ import annotations

import subprocess

import pypdfium2 as pdfium
from playwright.async_api import BrowserContext, expect

from app.accounts.tables import Account
from tests.conftest import ServerProcess
from tests.e2e.people import add_virtual_authenticator, sign_in_by_sms
from tests.licences.test_licences import add_licence

PHONE_NUMBER = "13900006666"  # a citizen of this test alone


async def test_spjy_to_the_food_licence_checklist_and_its_pdf(
    context: BrowserContext, live_server: ServerProcess, live_worker: subprocess.Popen[bytes]
) -> None:
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    base = live_server.public_url
    await sign_in_by_sms(page, base, PHONE_NUMBER)
    account = await Account.select(Account.id).where(Account.phone == f"+86{PHONE_NUMBER}").first()
    assert account is not None
    # The government already holds a business licence for this person.
    await add_licence(account=account["id"], code="business_licence", number="91310000MA1K0E2E01")
    await page.get_by_label("新通行密钥的名称").fill("我的手机")
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")

    # Search as you type: htmx swaps the results in without a page load.
    await page.goto(f"{base}/services")
    await page.get_by_role("searchbox", name="搜索办事事项").fill("spjy")
    results = page.locator("#results li a")
    await expect(results.first).to_contain_text("食品经营许可证核发")
    assert page.url.endswith("/services?q=spjy")  # the address follows, so Back works
    await results.first.click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("食品经营许可证核发")
    await page.get_by_role("link", name="开始办理：看看需要什么材料").first.click()

    # The guide, one question per screen.
    for choices, button in (
        (["超市"], "下一步"),
        (["500平方米以上"], "下一步"),
        (["批发", "零售"], "下一步"),
        (["是"], "下一步"),
        (["否"], "查看我的材料清单"),
    ):
        await expect(page.get_by_role("heading", level=1)).to_have_text("您需要哪些材料？")
        for choice in choices:
            await page.get_by_label(choice, exact=True).check()
        await page.get_by_role("button", name=button).click()

    await expect(page.get_by_role("heading", level=1)).to_have_text("您的材料清单")
    # The licence library fills materials once the data-use authorisation is signed.
    await expect(page.locator("li.entry-held")).to_have_count(0)
    await page.get_by_role("button", name="签署数据使用授权书").click()
    await page.get_by_role("button", name="用通行密钥签名").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("您的材料清单")
    held = page.locator("li.entry-held")
    await expect(held.filter(has_text="营业执照")).to_contain_text("免于提交")
    await expect(page.locator("li.entry").filter(has_text="批发")).to_have_count(1)
    assert await held.count() >= 1
    await expect(page.get_by_text("139****6666", exact=True)).to_be_visible()  # prefilled

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="下载 PDF").click()
    download = await downloading.value
    path = await download.path()
    document = pdfium.PdfDocument(str(path))
    text = "".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    assert "食品经营许可证核发" in text
    assert "营业执照" in text and "免于提交" in text
    assert "139****6666" in text
