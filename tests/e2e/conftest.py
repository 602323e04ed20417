"""Headless Chromium (the system's package) driven by Playwright, against a real server."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, async_playwright

CANDIDATES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")


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
async def browser() -> AsyncIterator[Browser]:
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
        yield instance
        await instance.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    yield ctx
    await ctx.close()
