"""Signing with a passkey on a phone, in headless Chromium with its virtual authenticator:
sign in, add a passkey, sign the data-use authorisation from the account page, open the
verify page and see it valid, download the evidence and the PDF."""

from __future__ import annotations

import subprocess

import pypdfium2 as pdfium
from playwright.async_api import BrowserContext, expect

from app.signing import evidence
from app.signing.verify import verify_bundle
from tests.conftest import ServerProcess
from tests.e2e.people import add_virtual_authenticator, wait_for_code


async def test_sign_the_authorisation_and_check_it(
    context: BrowserContext, live_server: ServerProcess, live_worker: subprocess.Popen[bytes]
) -> None:
    page = await context.new_page()
    await add_virtual_authenticator(context, page)
    base = live_server.public_url

    await page.goto(f"{base}/signin")
    await page.get_by_label("手机号码").fill("139 0000 4444")
    await page.get_by_role("button", name="获取验证码").click()
    code = wait_for_code(base, "+8613900004444")
    await page.get_by_role("textbox", name="验证码").fill(code)
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await page.get_by_label("新通行密钥的名称").fill("测试手机")
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")

    # The authorisation, from the account page: read it, sign it with the passkey.
    await page.get_by_role("button", name="签署数据使用授权书").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("阅读并签名")
    await expect(page.locator("article.document")).to_contain_text("数据使用授权书")
    await page.get_by_role("button", name="用通行密钥签名").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await expect(page.get_by_role("status")).to_contain_text("已签名")

    # The signature in the account, its public check.
    await page.locator("section[aria-labelledby='signatures-title'] a").first.click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("签名核验")
    await expect(page.locator(".notice-success")).to_contain_text("签名有效")

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="下载证据文件").click()
    bundle = (await (await downloading.value).path()).read_bytes()
    verified = verify_bundle(bundle, seal_key=evidence.seal_public_key())
    assert verified.document["kind"] == "authorisation"

    async with page.expect_download() as downloading:
        await page.get_by_role("link", name="下载 PDF").click()
    path = await (await downloading.value).path()
    document = pdfium.PdfDocument(str(path))
    image = document[0].render(scale=100 / 72).to_pil().convert("L")
    dark = sum(1 for value in image.getdata() if value < 128)
    assert dark > 5_000, dark  # text and the QR code, not a blank page
    text = document[0].get_textpage().get_text_range()
    assert "数据使用授权书" in text
