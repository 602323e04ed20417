"""The citizen's booking pages over HTTP: choose a centre and a time, hold, confirm (the SMS
carries a link), change or cancel signed in or by that link signed out, limits per account,
other people's bookings not found, check-in and the ticket page."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from app.appointments import queue, slots
from app.appointments.tables import Booking, BookingState, Centre, Counter, Slot, Ticket
from app.notifications.tables import Notification
from tests.appointments.helpers import post_form, slot_ids
from tests.appointments.people import centre, centres_changed, slot, taken
from tests.conftest import PageClient, csrf_from
from tests.people import citizen_signed_in
from tests.ratelimits import use_up

ITEM = "food-business-licence"  # market regulation: service group "market"


async def _hold(client: PageClient, centre_id: int, slot_id: int | None = None) -> httpx.Response:
    page = await client.get(f"/appointments/book/{centre_id}?item={ITEM}")
    assert page.status_code == 200, page.text
    chosen = slot_id or slot_ids(page.text)[0]
    return await client.post(
        f"/appointments/book/{centre_id}",
        data={"_csrf_token": csrf_from(page), "slot": str(chosen), "item": ITEM},
        follow_redirects=False,
    )


async def _link_token(account_phone: str) -> str:
    row = (
        await Notification.select(Notification.params)
        .where(Notification.recipient == account_phone, Notification.kind == "booking_confirmed")
        .order_by(Notification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return str(row["params"]["link"]).rsplit("/", 1)[1]


async def test_book_confirm_and_the_sms_link_works_signed_out_for_that_booking_only(
    client: PageClient,
) -> None:
    person = await citizen_signed_in(client)
    place = await centre()
    chooser = await client.get(f"/appointments/book?item={ITEM}")
    assert chooser.status_code == 200 and "Choose a centre" in chooser.text
    held = await _hold(client, int(place.id))
    assert held.status_code == 303
    booking_path = held.headers["location"]
    page = await client.get(booking_path)
    assert "Held for you" in page.text and "Confirm the booking" in page.text
    assert "Bring with you" in page.text
    confirmed = await post_form(client, booking_path, f"{booking_path}/confirm")
    assert confirmed.status_code == 303  # type: ignore[attr-defined]
    page = await client.get(booking_path)
    assert "Booked" in page.text and "/qr.svg" in page.text and "Change the time" in page.text
    qr = await client.get(f"{booking_path}/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg")
    token = await _link_token(person.phone)
    booking_id = int(booking_path.rsplit("/", 1)[1])

    client.cookies.clear()
    assert (await client.get(booking_path, follow_redirects=False)).status_code in (303, 401)
    manage = await client.get(f"/bookings/manage/{token}")
    assert manage.status_code == 200 and f'action="/bookings/manage/{token}/cancel"' in manage.text
    assert (await client.get(f"/bookings/manage/{token[:-2]}xx")).status_code == 404
    cancelled = await post_form(
        client, f"/bookings/manage/{token}", f"/bookings/manage/{token}/cancel"
    )
    assert cancelled.status_code == 303  # type: ignore[attr-defined]
    row = await Booking.objects().where(Booking.id == booking_id).first()
    assert row is not None and row.state == BookingState.CANCELLED
    assert await taken(int(row.slot)) == 0


async def test_someone_elses_booking_is_not_found(client: PageClient) -> None:
    await citizen_signed_in(client)
    place = await centre()
    booking_path = (await _hold(client, int(place.id))).headers["location"]
    client.cookies.clear()
    await citizen_signed_in(client)
    assert (await client.get(booking_path)).status_code == 404
    assert (await client.get(f"{booking_path}/qr.svg")).status_code == 404
    token = csrf_from(await client.get("/bookings"))
    posted = await client.post(f"{booking_path}/cancel", data={"_csrf_token": token})
    assert posted.status_code == 404
    assert (await client.get("/bookings/0")).status_code == 404
    assert (await client.get("/bookings/99999999999")).status_code == 404


async def test_reschedule_from_the_account(client: PageClient) -> None:
    await citizen_signed_in(client)
    place = await centre()
    booking_path = (await _hold(client, int(place.id))).headers["location"]
    await post_form(client, booking_path, f"{booking_path}/confirm")
    page = await client.get(f"{booking_path}/reschedule")
    assert page.status_code == 200 and "your time" in page.text
    new_slot = slot_ids(page.text)[1]
    moved = await post_form(
        client, f"{booking_path}/reschedule", f"{booking_path}/reschedule", slot=str(new_slot)
    )
    assert moved.status_code == 303  # type: ignore[attr-defined]
    row = await Booking.objects().where(Booking.id == int(booking_path.rsplit("/", 1)[1])).first()
    assert row is not None and row.slot == new_slot and row.state == BookingState.CONFIRMED


async def test_holds_per_account_are_limited(
    client: PageClient, redis: object, settings: object
) -> None:
    person = await citizen_signed_in(client)
    place = await centre()
    limit = settings.appointments_holds_per_account_hour  # type: ignore[attr-defined]
    await use_up(redis, "booking_hold_account", str(person.id), limit)
    refused = await _hold(client, int(place.id))
    assert refused.status_code == 303 and "/appointments/book/" in refused.headers["location"]
    page = await client.get(refused.headers["location"])
    assert "Too many bookings" in page.text
    assert not await Booking.exists().where(Booking.account == person.id)


async def test_a_full_slot_and_a_foreign_slot_are_refused_with_a_message(
    client: PageClient,
) -> None:
    await citizen_signed_in(client)
    place = await centre()
    full = await slot(place, capacity=0)
    refused = await _hold(client, int(place.id), int(full.id))
    page = await client.get(refused.headers["location"])
    assert "fully booked" in page.text
    other = await slot(await centre(), capacity=3)
    refused = await _hold(client, int(place.id), int(other.id))
    page = await client.get(refused.headers["location"])
    assert "not offered" in page.text
    bad_date = await client.get(f"/appointments/book/{place.id}?item={ITEM}&date=2026-99-01")
    assert bad_date.status_code == 200 and "not valid" in bad_date.text
    assert (await client.get(f"/appointments/book/{place.id}?item=nope")).status_code == 404


async def test_check_in_by_the_qr_link_gives_a_ticket_that_shows_its_place(
    client: PageClient,
) -> None:
    await citizen_signed_in(client)
    place = await centre()
    soon = await slot(place, capacity=2, starts_at=slots.utcnow() + timedelta(minutes=10))
    booking_path = (await _hold(client, int(place.id), int(soon.id))).headers["location"]
    await post_form(client, booking_path, f"{booking_path}/confirm")
    page = await client.get(booking_path)
    assert "I&#39;m here" in page.text or "I'm here" in page.text
    checkin = re.search(r'href="http://localhost:8000(/checkin/[^"]+)"', page.text)
    assert checkin
    client.cookies.clear()  # the centre's scanner, signed out
    shown = await client.get(checkin.group(1))
    assert shown.status_code == 200
    done = await post_form(client, checkin.group(1), checkin.group(1))
    assert done.status_code == 303  # type: ignore[attr-defined]
    ticket_path = done.headers["location"]  # type: ignore[attr-defined]
    assert ticket_path.startswith("/tickets/")
    ticket_page = await client.get(ticket_path)
    assert ticket_page.status_code == 200 and re.search(r"A\d{3}", ticket_page.text)
    assert 'hx-trigger="every 3s"' in ticket_page.text
    fragment = await client.get(ticket_path, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    again = await post_form(client, checkin.group(1), checkin.group(1))
    assert again.headers["location"] == ticket_path  # type: ignore[attr-defined]
    assert (await client.get(ticket_path[:-3] + "abc")).status_code == 404
    assert (await client.get("/checkin/1-0000")).status_code == 404


async def test_walk_in_numbers_and_a_wrong_group(client: PageClient) -> None:
    place = await centre()
    page = await client.get(f"/centres/{place.id}/ticket")
    assert page.status_code == 200
    taken_number = await post_form(
        client, f"/centres/{place.id}/ticket", f"/centres/{place.id}/ticket", group="market"
    )
    location = taken_number.headers["location"]  # type: ignore[attr-defined]
    ticket = await queue.ticket_by_ref(location.rsplit("/", 1)[1])
    assert ticket is not None and ticket.prefix == "A" and ticket.account is None
    refused = await post_form(
        client, f"/centres/{place.id}/ticket", f"/centres/{place.id}/ticket", group="police"
    )
    assert refused.headers["location"] == f"/centres/{place.id}/ticket"  # type: ignore[attr-defined]
    assert await Ticket.count().where(Ticket.centre == place.id) == 1


async def test_public_centre_pages(client: PageClient) -> None:
    listing = await client.get("/centres")
    assert listing.status_code == 200 and "浦东新区市民中心" in listing.text
    place = await centre()
    assert (await client.get(f"/centres/{place.id}")).status_code == 200
    board = await client.get(f"/centres/{place.id}/board")
    assert board.status_code == 200 and board.headers["refresh"] == "30"
    assert (await client.get("/centres/999999")).status_code == 404


async def test_my_bookings_lists_mine_and_marks_a_time_gone_by(client: PageClient) -> None:
    person = await citizen_signed_in(client)
    place = await centre()
    booking_path = (await _hold(client, int(place.id))).headers["location"]
    await post_form(client, booking_path, f"{booking_path}/confirm")
    listing = await client.get("/bookings")
    assert f'href="{booking_path}"' in listing.text and "Booked" in listing.text
    row = await Booking.objects().where(Booking.account == person.id).first()
    assert row is not None
    await Slot.update({Slot.starts_at: slots.utcnow() - timedelta(hours=3)}).where(
        Slot.id == row.slot
    )
    assert "Time passed" in (await client.get("/bookings")).text


async def test_a_centres_page_is_rendered_again_once_the_centre_changes(client: PageClient) -> None:
    place = await centre()
    first = await client.get(f"/centres/{place.id}")
    assert first.status_code == 200 and "测试路1号" in first.text
    await Centre.update({Centre.address_zh: "新地址路2号"}).where(Centre.id == place.id)
    await centres_changed()
    again = await client.get(f"/centres/{place.id}")
    assert "新地址路2号" in again.text and "测试路1号" not in again.text
    assert "新地址路2号" in (await client.get("/centres")).text


async def test_a_ticket_page_reads_what_the_centres_kept_in_memory_do_not_hold(
    client: PageClient, redis: Any
) -> None:
    """The ticket page takes the centre and its counters from memory (slots.CACHE); a counter
    added since they loaded, and a centre closed since, come from the database."""
    place = await centre()
    ticket = await queue.walk_in(place, "market", None)
    path = f"/tickets/{queue.ticket_ref(int(ticket.id))}"
    assert (await client.get(path)).status_code == 200  # the centres are now in memory
    added = Counter(centre=place.id, number=7, groups=["market"], key=f"{place.id}:7")
    await added.save()  # not announced: the memory does not know counter 7
    called, _sms = await queue.call_next(redis, added)
    assert called is not None and called.id == ticket.id
    assert "已叫号 — 7 号窗口" in (await client.get(path, headers={"HX-Request": "true"})).text
    await Centre.update({Centre.active: False}).where(Centre.id == place.id)
    await centres_changed()
    closed = await client.get(path)
    assert closed.status_code == 200 and "测试中心" in closed.text
