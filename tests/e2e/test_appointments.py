"""Booking a visit end to end, on a phone in Chinese: a citizen books a time from the service
page, the reminder reaches the dev inbox through the real worker, the booking's check-in link
gives a queue number, an officer calls it from the counter page, and the citizen's page shows
"called" without being reloaded (htmx polling)."""

from __future__ import annotations

import re
import secrets
import subprocess
import time
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from app.accounts.services import create_account
from app.accounts.tables import Role
from app.appointments import tasks
from app.appointments.slots import DAY_KINDS
from app.appointments.tables import Centre, Counter
from app.core.redis import make_client
from tests.conftest import REDIS_URL, ServerProcess
from tests.e2e.conftest import PHONE
from tests.e2e.people import add_virtual_authenticator, sign_in_by_sms

CITIZEN = "13900004001"  # numbers of this test alone
OFFICER = "13900004002"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN"}


async def open_all_day_centre() -> tuple[Centre, Counter]:
    """A centre open around the clock every day, so that a time soon is always bookable."""
    place = Centre(
        code=f"e2e-{secrets.token_hex(3)}",
        name_zh="全天测试中心",
        name_en="All-day test centre",
        district_zh="浦东新区",
        district_en="Pudong",
        address_zh="测试路1号",
        address_en="1 Test Road",
        hours={kind: ["00:00-24:00"] for kind in DAY_KINDS},
        slot_minutes=30,
        per_counter=1,
    )
    await place.save()
    counter = Counter(centre=place.id, number=1, groups=["market"], key=f"{place.id}:1")
    await counter.save()
    return place, counter


def wait_for_sms(base: str, phone: str, needle: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages: list[dict[str, Any]] = httpx.get(
            f"{base}/dev/sms.json", params={"to": phone}, timeout=5
        ).json()
        for message in messages:
            if needle in message["body"]:
                return str(message["body"])
        time.sleep(0.3)
    raise AssertionError(f"no SMS with {needle!r} reached the dev inbox")


async def test_book_remind_check_in_and_be_called(
    browser: Browser,
    live_server: ServerProcess,
    live_worker: subprocess.Popen[bytes],
) -> None:
    base = live_server.public_url
    _place, counter = await open_all_day_centre()
    await create_account(f"+86{OFFICER}", Role.OFFICER, department_code="market-regulation")

    # The citizen books from the service page, on a phone.
    phone = await browser.new_context(**PHONE)
    page = await phone.new_page()
    await sign_in_by_sms(page, base, CITIZEN)
    await page.goto(f"{base}/services/food-business-licence")
    await page.get_by_role("link", name="预约办理").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("预约办理")
    await page.get_by_role("link", name="全天测试中心").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("选择时段")
    await page.locator("input[name='slot']:not([disabled])").first.check()
    await page.get_by_role("button", name="预留此时段").click()
    await expect(page.get_by_role("heading", level=2, name="已为您保留，请确认")).to_be_visible()
    await page.get_by_role("button", name="确认预约").click()
    await expect(page.locator(".flash-success")).to_contain_text("预约成功")
    await expect(page.get_by_role("heading", level=2, name="已预约")).to_be_visible()
    await expect(page.get_by_role("img", name="此预约的签到二维码")).to_be_visible()

    # The hour-before reminder, written by the job and sent by the real worker.
    redis = make_client(REDIS_URL)
    try:
        assert await tasks.remind_hour_before({"redis": redis}) >= 1
    finally:
        await redis.aclose()
    reminder = wait_for_sms(base, f"+86{CITIZEN}", "提醒")
    assert "全天测试中心" in reminder and "食品经营许可申请书" in reminder, reminder
    assert "改约或取消" in wait_for_sms(base, f"+86{CITIZEN}", "已为您预约")

    # At the centre: the booking's QR link gives a queue number.
    await page.get_by_role("link", name="签到链接").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("签到")
    await page.get_by_role("button", name="签到并取号").click()
    status = page.locator("#ticket-status")
    await expect(status).to_contain_text("前面还有")
    number = re.search(r"A\d{3,}", await status.inner_text())
    assert number, await status.inner_text()

    # An officer at counter 1 of that centre calls the next number.
    desk = await browser.new_context(**DESKTOP)
    officer = await desk.new_page()
    await add_virtual_authenticator(desk, officer)
    await sign_in_by_sms(officer, base, OFFICER)
    await officer.get_by_role("button", name="添加通行密钥").click()
    await expect(officer.get_by_role("status")).to_contain_text("已添加通行密钥")
    await officer.get_by_role("button", name="退出登录").click()
    await officer.goto(f"{base}/signin")
    await expect(officer.get_by_role("status")).to_contain_text("已用通行密钥登录")
    await officer.goto(f"{base}/counter")
    await officer.locator(f"#counter-{counter.id}").check()
    await officer.get_by_role("button", name="在此窗口工作").click()
    await expect(officer.get_by_role("heading", level=1)).to_have_text("1 号窗口")
    await officer.get_by_role("button", name="呼叫下一位").click()
    await expect(officer.locator(".flash-success")).to_contain_text(number.group(0))

    # The citizen's page, never reloaded, shows the call.
    await expect(status).to_contain_text("已叫号 — 1 号窗口", timeout=15_000)
    assert "签到" not in page.url and "/tickets/" in page.url
    wait_for_sms(base, f"+86{CITIZEN}", f"请 {number.group(0)} 号到 1 号窗口办理")
    await desk.close()
    await phone.close()
