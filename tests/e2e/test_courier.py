"""The courier app offline, end to end in headless Chromium: a courier's phone (passkey
session in a virtual authenticator) opens its job list, goes offline, opens a job it never
opened before (kept on the phone by the list), records the pickup with a photo and the handover
code the citizen tells, comes back online; the event reaches the server exactly once and the
citizen's application page shows it; a second courier cannot open the job; signing out leaves
no job on the phone."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import timedelta

from PIL import Image
from playwright.async_api import Browser, Page, expect

from app.accounts.services import create_account
from app.accounts.tables import Account, Role
from app.courier import service
from app.courier.machine import Actor
from app.courier.service import Event
from app.courier.tables import Shipment, ShipmentEvent, Status
from app.files.tables import StoredFile
from tests.applications.people import draft
from tests.conftest import ServerProcess
from tests.courier.people import ORIGINALS, address_of, items, last_code
from tests.e2e.conftest import PHONE
from tests.e2e.people import sign_in_by_sms
from tests.e2e.test_accessibility import _staff

COURIER = "13900003001"  # numbers of this test alone
SECOND_COURIER = "13900003002"
CITIZEN = "13900003003"
DISPATCHER = "13900003004"


def photo() -> bytes:
    image = Image.new("RGB", (1200, 900), (90, 120, 160))
    for x in range(0, 1200, 80):
        image.paste((230, 230, 230), (x, 300, x + 40, 600))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


async def a_pickup_for(courier: Account) -> tuple[Account, Shipment, str]:
    """The citizen's draft with a paper original, a pickup asked for tomorrow, assigned to the
    courier by a floor manager; and the handover code the citizen got by SMS."""
    citizen = await create_account(f"+86{CITIZEN}", Role.CITIZEN, name="周市民")
    manager = await create_account(f"+86{DISPATCHER}", Role.FLOOR_MANAGER, name="吴调度")
    _citizen, application = await draft(ORIGINALS, citizen)
    done = await service.request_pickup(
        citizen,
        application,
        await items(),
        address_id=await address_of(citizen),
        day=service.shanghai_today() + timedelta(days=1),
        slot="afternoon",
    )
    await service.record(
        int(done.shipment.id),
        Event(
            action="assign", key=f"e2e-assign-{done.shipment.waybill}", courier_id=int(courier.id)
        ),
        Actor.STAFF,
        manager,
    )
    return citizen, done.shipment, await last_code(citizen.phone)


async def pickups(shipment: Shipment) -> int:
    return await ShipmentEvent.count().where(
        ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == "pick_up"
    )


async def wait_for_pickups(shipment: Shipment) -> int:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if await pickups(shipment):
            return await pickups(shipment)
        await asyncio.sleep(0.2)
    return 0


async def test_a_pickup_recorded_offline_syncs_once_and_the_citizen_sees_it(
    browser: Browser, live_server: ServerProcess
) -> None:
    base = live_server.public_url
    courier = await create_account(f"+86{COURIER}", Role.COURIER, name="郑快递")
    await create_account(f"+86{SECOND_COURIER}", Role.COURIER, name="冯快递")
    _citizen, shipment, code = await a_pickup_for(courier)

    # The courier's phone, signed in with a passkey, opens the job list: it keeps the day's
    # job pages on the phone.
    context = await _staff(browser, base, COURIER)
    page: Page = context.pages[0]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{base}/courier")
    await expect(page.get_by_role("heading", level=1)).to_have_text("我的任务")
    # The service worker controls the page: it answers offline, and Background Sync replays.
    assert await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    job = f"/courier/jobs/{shipment.id}"
    await page.wait_for_function(
        "url => caches.open('tongban-courier-jobs').then(c => c.match(url)).then(Boolean)", arg=job
    )

    # In a lift: offline. The job, never opened before, opens from the phone; the pickup is
    # recorded with the code and a photo, and waits.
    await context.set_offline(True)
    await page.locator(f"a[href='{job}']").click()
    await expect(page.locator("[data-job-status]")).to_have_text("已派单")
    await expect(page.locator(f"a[href='tel:+86{CITIZEN}'], a[href^='tel:']")).to_be_visible()
    form = page.locator("form[data-courier-event]").filter(
        has=page.locator("input[name=action][value=pick_up]")
    )
    await form.get_by_label("交接码", exact=True).check()
    await form.get_by_label("收件人告诉您的交接码").fill(code)
    await form.locator("input[type=file]").set_input_files(
        {"name": "handover.jpg", "mimeType": "image/jpeg", "buffer": photo()}
    )
    await form.get_by_role("button", name="已取件").click()
    await expect(page.locator("[data-courier-outbox]")).to_contain_text("已保存在手机上")
    assert await pickups(shipment) == 0
    row = await Shipment.objects().where(Shipment.id == shipment.id).first()
    assert row is not None and row.status == Status.ASSIGNED

    # Back online: the queued event is sent (by the page or the service worker, or both),
    # and recorded exactly once; the page shows the job's new state.
    await context.set_offline(False)
    assert await wait_for_pickups(shipment) == 1
    await expect(page.locator("[data-job-status]")).to_have_text("已取件", timeout=15000)
    await expect(page.locator("[data-courier-outbox]")).to_contain_text("已发送")
    await asyncio.sleep(1)  # any second replay would have landed by now
    assert await pickups(shipment) == 1
    event = (
        await ShipmentEvent.objects()
        .where(ShipmentEvent.shipment == shipment.id, ShipmentEvent.action == "pick_up")
        .first()
    )
    assert event is not None and event.proof == "code" and event.photo is not None
    stored = await StoredFile.objects().where(StoredFile.id == event.photo).first()
    assert stored is not None and stored.owner == courier.id
    assert await StoredFile.count().where(StoredFile.purpose == f"courier:{shipment.id}") == 1

    # The citizen's application page shows the pickup in the shipment's timeline.
    citizen_context = await browser.new_context(**PHONE)
    citizen_page = await citizen_context.new_page()
    await sign_in_by_sms(citizen_page, base, CITIZEN)
    await citizen_page.goto(f"{base}/applications/{shipment.application}")
    section = citizen_page.locator("#courier")
    await expect(section).to_contain_text("已取件")
    await expect(section.locator(".timeline li")).to_have_count(3)

    # Another courier cannot open the job.
    other = await _staff(browser, base, SECOND_COURIER)
    response = await other.pages[0].goto(f"{base}/courier/jobs/{shipment.id}")
    assert response is not None and response.status == 404

    # Signing out takes the kept jobs off the phone.
    assert await page.evaluate("caches.has('tongban-courier-jobs')")
    await page.goto(f"{base}/account")
    await page.get_by_role("button", name="退出登录").click()
    await page.wait_for_url(f"{base}/")
    assert not await page.evaluate("caches.has('tongban-courier-jobs')")
    assert not errors, errors
    await other.close()
    await citizen_context.close()
    await context.close()
