"""The admin's single-page app runs in Chromium under the policy the mount gives it: it loads,
lists our tables, and the browser reports no Content-Security-Policy violation."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import async_playwright

from app.accounts.services import create_account
from app.accounts.tables import Role
from app.catalogue.tables import Department
from tests.accounts.helpers import latest_code
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import ServerProcess
from tests.e2e.conftest import chromium_path
from tests.fixtures.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.e2e


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    running = ServerProcess().start()
    yield running
    running.stop()


async def _token(client: httpx.AsyncClient) -> str:
    page = await client.get("/")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    return page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]


async def _admin_cookies(server: ServerProcess) -> httpx.Cookies:
    """An admin signed in with a passkey on the live server (SMS first, then the passkey)."""
    typed, phone = fresh_phone()
    await create_account(phone, Role.ADMIN, name="浏览器管理员")
    origin = server.public_url
    async with httpx.AsyncClient(base_url=server.url, headers={"Origin": origin}) as client:
        token = await _token(client)
        await client.post("/signin/code", data={"phone": typed, "_csrf_token": token})
        await client.post(
            "/signin/verify",
            data={"phone": phone, "code": await latest_code(phone), "_csrf_token": token},
        )
        token = await _token(client)
        started = (
            await client.post("/account/passkeys/options", headers={"x-csrftoken": token})
        ).json()
        authenticator = SoftAuthenticator()
        credential = authenticator.create(started["options"], origin)
        registered = await client.post(
            "/account/passkeys/verify",
            json={"challenge_id": started["challenge_id"], "credential": credential, "name": "k"},
            headers={"x-csrftoken": token},
        )
        assert registered.status_code == 201, registered.text
        client.cookies.clear()
        token = await _token(client)
        started = (
            await client.post("/signin/passkey/options", headers={"x-csrftoken": token})
        ).json()
        signed = await client.post(
            "/signin/passkey/verify",
            json={
                "challenge_id": started["challenge_id"],
                "credential": authenticator.get(started["options"], origin),
            },
            headers={"x-csrftoken": token},
        )
        assert signed.status_code == 201, signed.text
        return client.cookies


async def test_the_admin_app_runs_under_its_policy_and_saves_an_edit(
    server: ServerProcess,
) -> None:
    cookies = await _admin_cookies(server)
    host = urlsplit(server.public_url).hostname
    department = await Department.objects().where(Department.code == "water").first()
    assert department is not None
    problems: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium_path())
        context = await browser.new_context(locale="zh-CN")
        await context.add_cookies(
            [
                {"name": c.name, "value": c.value or "", "domain": host, "path": c.path or "/"}
                for c in cookies.jar
            ]
        )
        page = await context.new_page()
        # A CSP violation is reported as a console error; the browser's own favicon probe
        # (/favicon.ico, which we do not serve) is not the admin's doing.
        page.on(
            "console",
            lambda m: (
                problems.append(m.text)
                if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
                else None
            ),
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        await page.goto(server.public_url + "/admin/")
        await page.get_by_text("Catalogue Item").first.wait_for()
        await page.goto(server.public_url + f"/admin/#/catalogue_department/{department.id}")
        # piccolo-admin's form inputs carry no accessible name we could use; the name is stable.
        field = page.locator('input[name="name_en"]')
        await field.fill("Water Authority (browser)")
        await page.get_by_role("button", name="保存").click()
        await page.get_by_text("Successfully saved row").wait_for()
        await browser.close()
    assert not problems, problems
    saved = await Department.select(Department.name_en).where(Department.id == department.id)
    assert saved[0]["name_en"] == "Water Authority (browser)"
    await Department.update({Department.name_en: department.name_en}).where(
        Department.id == department.id
    )
