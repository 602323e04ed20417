"""Headless Chromium (the system's package) driven by Playwright, against a real server.

Every browser context, however a test opens it, is watched by the accessibility net
(tests/e2e/axe.py): axe-core audits each page it loads and each htmx swap, and the test fails
at teardown with every violation found.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

from tests.e2e.axe import AxeNet, axe_source, report

CANDIDATES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
# A phone held upright, set to Chinese: the people this app is made for first.
PHONE: dict[str, Any] = {
    "locale": "zh-CN",
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}


def chromium_path() -> str:
    explicit = os.environ.get("TONGBAN_CHROMIUM")
    if explicit:
        return explicit
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    # Never a silent skip: `make test` installs Chromium first (tests/e2e/ensure-chromium.sh).
    raise pytest.UsageError(
        "Chromium not found: run tests/e2e/ensure-chromium.sh or set TONGBAN_CHROMIUM"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
async def axe() -> AxeNet:
    """The accessibility net of this test; `await axe.audit(page)` checks a page on purpose."""
    return AxeNet(axe_source())


@pytest.fixture
async def browser(axe: AxeNet) -> AsyncIterator[Browser]:
    args = [
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        # No calls home: this is a test machine.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
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


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(**PHONE)
    yield ctx
    await ctx.close()
