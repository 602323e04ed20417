"""Sign-in as a person does it, in headless Chromium with its virtual authenticator (CDP
WebAuthn domain): SMS code from the dev inbox, add a passkey, sign out, sign in with it."""

from __future__ import annotations

import subprocess
from typing import Any

from playwright.async_api import BrowserContext, expect

from tests.conftest import ServerProcess
from tests.e2e.people import add_virtual_authenticator, wait_for_code


async def test_sms_sign_in_add_passkey_sign_out_and_back_in_with_the_passkey(
    context: BrowserContext, live_server: ServerProcess, live_worker: subprocess.Popen[bytes]
) -> None:
    page = await context.new_page()
    authenticator = await add_virtual_authenticator(context, page)
    base = live_server.public_url

    # 1. Sign in with a code from the dev inbox.
    await page.goto(f"{base}/signin")
    await page.get_by_label("手机号码").fill("139 0000 7777")
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.get_by_role("textbox", name="验证码")).to_be_visible()
    code = wait_for_code(base, "+8613900007777")
    await page.get_by_role("textbox", name="验证码").fill(code)
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await expect(page.get_by_role("status")).to_contain_text("登录成功")

    # 2. Add a passkey (the virtual authenticator answers with user verification).
    await page.get_by_label("新通行密钥的名称").fill("测试手机")
    await page.get_by_role("button", name="添加通行密钥").click()
    await expect(page.get_by_role("status")).to_contain_text("已添加通行密钥")
    await expect(page.locator("li.passkey")).to_contain_text("测试手机")
    credentials = await authenticator.credentials()
    assert len(credentials) == 1 and credentials[0]["isResidentCredential"]

    # 3. Sign out.
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("政务服务，一网通办")
    await expect(page.get_by_role("link", name="登录")).to_be_visible()

    # 4. Passkey autofill: the sign-in page starts a conditional request at once; the virtual
    # authenticator answers it as a person picking the passkey from the phone field's list.
    await page.goto(f"{base}/signin")
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await expect(page.get_by_role("status")).to_contain_text("已用通行密钥登录")

    # 5. Sign out again, and sign in with the passkey button (the browser's own dialog); the
    # autofill request is switched off for this page so that only the button can sign in.
    await page.get_by_role("button", name="退出登录").click()
    await expect(page.get_by_role("link", name="登录")).to_be_visible()
    await page.add_init_script("delete PublicKeyCredential.isConditionalMediationAvailable;")
    await page.goto(f"{base}/signin")
    await page.get_by_role("button", name="用通行密钥登录").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await expect(page.get_by_role("status")).to_contain_text("已用通行密钥登录")
    # Only this device's passkey session is still open; the earlier ones ended at sign-out.
    await expect(page.get_by_text("通行密钥 · 登录于")).to_have_count(1)


async def test_without_javascript_sms_sign_in_still_works_and_passkeys_say_why_not(
    browser: Any, live_server: ServerProcess, live_worker: subprocess.Popen[bytes]
) -> None:
    context = await browser.new_context(locale="zh-CN", java_script_enabled=False)
    page = await context.new_page()
    base = live_server.public_url
    await page.goto(f"{base}/signin")
    await expect(page.get_by_text("通行密钥需要启用 JavaScript")).to_be_visible()
    await expect(page.get_by_role("button", name="用通行密钥登录")).to_be_hidden()
    await page.get_by_label("手机号码").fill("13900008888")
    await page.get_by_role("button", name="获取验证码").click()
    await page.get_by_role("textbox", name="验证码").fill(wait_for_code(base, "+8613900008888"))
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
    await expect(page.get_by_text("添加通行密钥需要启用 JavaScript")).to_be_visible()
    await context.close()


async def test_a_browser_without_webauthn_is_told_so(
    context: BrowserContext, live_server: ServerProcess
) -> None:
    page = await context.new_page()
    await page.add_init_script("delete window.PublicKeyCredential;")
    await page.goto(f"{live_server.public_url}/signin")
    await expect(
        page.get_by_text("此浏览器不支持通行密钥，请在下方用短信验证码登录。")
    ).to_be_visible()
    await expect(page.get_by_role("button", name="用通行密钥登录")).to_be_hidden()
    await expect(page.get_by_label("手机号码")).to_be_visible()
    # Scripts ran, so the "needs JavaScript" sentence is not shown as well.
    await expect(page.get_by_text("通行密钥需要启用 JavaScript")).to_be_hidden()


async def test_at_an_ip_address_the_sign_in_page_says_where_passkeys_work(
    context: BrowserContext, live_server: ServerProcess
) -> None:
    # WebAuthn refuses IP addresses ("This is an invalid domain."); the page must say so in
    # its own words and point to the named address, never leave the browser's raw error.
    page = await context.new_page()
    await page.goto(f"{live_server.url}/signin")  # http://127.0.0.1:PORT
    notice = page.get_by_text("通行密钥不能在 IP 地址下使用")
    await expect(notice).to_be_visible()
    await expect(notice).to_contain_text(live_server.public_url)
    await expect(page.get_by_role("button", name="用通行密钥登录")).to_be_hidden()
    await expect(page.get_by_text("invalid domain")).to_have_count(0)
    # At the named address the passkey button is there and the notice is not.
    await page.goto(f"{live_server.public_url}/signin")
    await expect(page.get_by_role("button", name="用通行密钥登录")).to_be_visible()
    await expect(page.get_by_text("通行密钥不能在 IP 地址下使用")).to_be_hidden()
