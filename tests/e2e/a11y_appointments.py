"""The appointments pages in the accessibility net (tests/e2e/test_accessibility.py): every GET route
of app/appointments is a visit, a flow, or not a page with the reason.

On a freshly seeded database the Pudong citizen centre is centre 1 (app/appointments/data)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from app.appointments import queue, service, slots
from app.appointments.tables import Booking, Centre
from tests.e2e.axe import AxeNet
from tests.e2e.visits import Flow, Visit

BOOK = "/appointments/book/{centre_id:int}"

VISITS: tuple[Visit, ...] = (
    Visit("/centres", "visitor"),
    Visit("/centres/1", "visitor", route="/centres/{centre_id:int}"),
    Visit("/centres/2147483647", "visitor", 404, "/centres/{centre_id:int}"),
    Visit("/centres/1/ticket", "visitor", route="/centres/{centre_id:int}/ticket"),
    Visit("/centres/1/board", "visitor", route="/centres/{centre_id:int}/board"),
    Visit("/appointments/book?item=food-business-licence", "citizen", route="/appointments/book"),
    Visit("/appointments/book", "citizen"),
    Visit("/appointments/book/1?item=food-business-licence", "citizen", route=BOOK),
    Visit("/appointments/book/1?item=food-business-licence&date=2026-99-01", "citizen", route=BOOK),
    Visit("/bookings", "citizen"),
    Visit("/counter", "staff"),
    Visit("/floor", "floor"),
    Visit("/floor/centres/1", "floor", route="/floor/centres/{centre_id:int}"),
)
NOT_PAGES: dict[str, str] = {
    "/bookings/{booking_id:int}/qr.svg": "a booking's check-in QR code, an SVG image",
    "/api/v1/centres/{centre_id:int}/slots": "JSON API",
}


async def _audit_booking(pages: dict[str, Page], axe: AxeNet, base: str) -> None:
    """李四 holds the first free time at Pudong, confirms it, follows the SMS link's page, the
    check-in page and the change page, then cancels (so the next round can book that day
    again); a number at the counter and on the ticket page."""
    page = pages["citizen"]
    await page.goto(f"{base}/appointments/book/1?item=food-business-licence")
    await page.locator("input[name='slot']:not([disabled])").first.check()
    await page.locator("form[action='/appointments/book/1'] button").click()
    await expect(page.locator("form[action$='/confirm']")).to_be_visible()
    await axe.audit(page)
    booking_id = int(page.url.rsplit("/", 1)[1])
    await page.locator("form[action$='/confirm'] button").click()
    await expect(page.locator("form[action$='/cancel']")).to_be_visible()
    await axe.audit(page)
    token, token_hash = service.manage_token()
    await Booking.update({Booking.manage_hash: token_hash}).where(Booking.id == booking_id)
    for path in (
        f"/bookings/manage/{token}",
        f"/bookings/manage/{token}/reschedule",
        f"/bookings/{booking_id}/reschedule",
        f"/checkin/{service.checkin_ref(booking_id)}",
    ):
        await page.goto(f"{base}{path}")
        await axe.audit(page)
    await page.goto(f"{base}/bookings/{booking_id}")
    await page.locator("form[action$='/cancel'] button").click()
    await expect(page.locator(".flash-success")).to_be_visible()
    await axe.audit(page)

    place = await Centre.objects().where(Centre.id == 1).output(load_json=True).first()
    assert place is not None
    group = (await slots.groups())["market"]
    ticket = await queue._issue(1, group, slots.today(), account_id=None)
    await page.goto(f"{base}/tickets/{queue.ticket_ref(int(ticket.id))}")
    await expect(page.locator("#ticket-status")).to_be_visible()
    await axe.audit(page)

    staff = pages["staff"]
    await staff.goto(f"{base}/counter")
    if await staff.locator("form[action='/counter/choose']").count():
        await staff.locator("input[name='counter']").first.check()
        await staff.locator("form[action='/counter/choose'] button").click()
    await expect(staff.locator("form[action='/counter/leave']")).to_be_visible()
    await axe.audit(staff)
    await staff.locator("form[action='/counter/leave'] button").click()


FLOWS: dict[str, Flow] = {
    "/bookings/{booking_id:int}": _audit_booking,
    "/bookings/{booking_id:int}/reschedule": _audit_booking,
    "/bookings/manage/{token:str}": _audit_booking,
    "/bookings/manage/{token:str}/reschedule": _audit_booking,
    "/checkin/{ref:str}": _audit_booking,
    "/tickets/{ref:str}": _audit_booking,
}
