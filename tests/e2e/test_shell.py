"""The PWA shell in a real browser: it loads, installs its service worker, works offline."""

from __future__ import annotations

import re

from playwright.async_api import BrowserContext, ConsoleMessage, expect

from tests.conftest import ServerProcess


async def test_home_loads_registers_the_service_worker_and_falls_back_offline(
    context: BrowserContext, live_server: ServerProcess
) -> None:
    page = await context.new_page()
    problems: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", watch)
    await page.goto(f"{live_server.url}/")
    await expect(page).to_have_title(re.compile("通办"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("政务服务，一网通办")

    # The service worker installs, activates and takes control of the page.
    state = await page.evaluate(
        "navigator.serviceWorker.ready.then(registration => registration.active.state)"
    )
    assert state in ("activating", "activated")
    await page.wait_for_function("navigator.serviceWorker.controller !== null")
    # htmx ran under the CSP (its script carried the nonce) and nothing was blocked.
    assert await page.evaluate("typeof window.htmx") == "object"
    assert problems == [], problems
    # Pages are cached as they pass through the worker: load the home page once under its control.
    await page.reload()

    # Cut the network: a page never visited falls back to the precached offline page ...
    await context.set_offline(True)
    await page.goto(f"{live_server.url}/applications/never-visited")
    await expect(page.get_by_role("heading", level=1)).to_have_text("您已离线")
    # ... and a page visited before is served from the runtime cache.
    await page.goto(f"{live_server.url}/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("政务服务，一网通办")
    await context.set_offline(False)


async def test_elderly_mode_and_english_from_the_footer_forms(
    context: BrowserContext, live_server: ServerProcess
) -> None:
    page = await context.new_page()
    await page.goto(f"{live_server.url}/")
    await page.get_by_role("button", name=re.compile("长者模式")).click()
    await expect(page.locator("html")).to_have_class("elder")
    await expect(page.get_by_role("status")).to_contain_text("长者模式已开启")

    await page.get_by_label("语言").select_option("en")
    await page.get_by_role("button", name="切换").click()
    await expect(page.locator("html")).to_have_attribute("lang", "en")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Government services in one place"
    )
    await expect(page.locator("html")).to_have_class("elder")  # remembered across the switch
