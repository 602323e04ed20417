"""What a person does in the browser tests, written once: read a code from the dev inbox, sign
in by SMS, carry a passkey in Chromium's virtual authenticator (CDP WebAuthn domain)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from playwright.async_api import BrowserContext, CDPSession, Page, expect

from tests.accounts.helpers import latest_code


def wait_for_code(base: str, phone: str, timeout: float = 30) -> str:
    """Read the newest code sent to the phone from /dev/sms.json, as a developer would (for
    numbers no other test uses: the worker delivers in whatever order it claims)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages: list[dict[str, Any]] = httpx.get(
            f"{base}/dev/sms.json", params={"to": phone}, timeout=5
        ).json()
        if messages:  # newest first
            found = re.search(r"\b(\d{6})\b", messages[0]["body"])
            assert found, messages[0]["body"]
            return found.group(1)
        time.sleep(0.2)
    raise AssertionError("no SMS reached the dev inbox")


@dataclass
class Authenticator:
    cdp: CDPSession
    id: str

    async def credentials(self) -> list[dict[str, Any]]:
        found = await self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(found["credentials"])


async def add_virtual_authenticator(context: BrowserContext, page: Page) -> Authenticator:
    """A platform authenticator on the phone: it verifies the user and answers at once."""
    cdp = await context.new_cdp_session(page)
    await cdp.send("WebAuthn.enable")
    added = await cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return Authenticator(cdp, added["authenticatorId"])


async def sign_in_by_sms(page: Page, base: str, phone: str) -> None:
    """Sign in on the Chinese sign-in page with a code from the dev inbox (needs a worker)."""
    await page.goto(f"{base}/signin")
    await page.get_by_label("手机号码").fill(phone)
    await page.get_by_role("button", name="获取验证码").click()
    await expect(page.get_by_role("textbox", name="验证码")).to_be_visible()
    # The seeded numbers also got codes from earlier tests, which the worker may deliver to the
    # inbox at the same moment as this one: the newest code is read from the outbox instead.
    code = await latest_code(f"+86{phone}")
    if not code.isdigit():  # the worker sent it already and scrubbed it from the outbox row
        code = wait_for_code(base, f"+86{phone}")
    await page.get_by_role("textbox", name="验证码").fill(code)
    await page.get_by_role("button", name="登录", exact=True).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的账号")
