"""The courier pages in the accessibility net (tests/e2e/test_accessibility.py): every GET route
of app/courier is a visit, a flow, or not a page with the reason."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.axe import AxeNet
from tests.e2e.visits import Flow, Visit

VISITS: tuple[Visit, ...] = (
    Visit("/addresses", "citizen"),
    Visit("/courier", "courier"),
    Visit("/dispatch", "floor"),
)
NOT_PAGES: dict[str, str] = {}


async def _courier_job(pages: dict[str, Page], axe: AxeNet, base: str) -> None:
    """A job of the demo courier (app/courier/seed.py): address, tap to call, the big buttons
    with their proofs; and the demo citizen's application with its shipments."""
    page = pages["courier"]
    await page.goto(f"{base}/courier")
    await page.locator("a[href^='/courier/jobs/']").first.click()
    await expect(page.locator("[data-job-status]")).to_be_visible()
    await axe.audit(page)
    citizen = pages["citizen"]
    await citizen.goto(f"{base}/applications")
    hrefs = [
        href
        for link in await citizen.locator("a[href^='/applications/']").all()
        if (href := await link.get_attribute("href"))
    ]
    for href in hrefs:
        await citizen.goto(f"{base}{href}")
        if await citizen.locator("#courier").count():
            await axe.audit(citizen)
            return
    raise AssertionError("no application of the demo citizen shows a courier section")


FLOWS: dict[str, Flow] = {"/courier/jobs/{shipment_id:int}": _courier_job}
