"""Per-address limits, bookings for an application, and walk-ins at a closed centre, over HTTP."""

from __future__ import annotations

from typing import Any

from app.appointments.tables import Booking, Ticket
from tests.applications.people import draft
from tests.appointments.helpers import post_form, slot_ids
from tests.appointments.people import centre
from tests.conftest import PageClient, csrf_from
from tests.people import citizen_signed_in
from tests.ratelimits import use_up

TEST_CLIENT_ADDRESS = "testclient"  # what Litestar's test client gives as the peer


async def test_holds_per_address_are_limited(client: PageClient, redis: Any, settings: Any) -> None:
    person = await citizen_signed_in(client)
    place = await centre()
    page = await client.get(f"/appointments/book/{place.id}?item=food-business-licence")
    await use_up(
        redis, "booking_hold_ip", TEST_CLIENT_ADDRESS, settings.appointments_holds_per_ip_hour
    )
    refused = await client.post(
        f"/appointments/book/{place.id}",
        data={
            "_csrf_token": csrf_from(page),
            "slot": str(slot_ids(page.text)[0]),
            "item": "food-business-licence",
        },
        follow_redirects=False,
    )
    assert refused.status_code == 303
    assert "Too many bookings" in (await client.get(refused.headers["location"])).text
    assert not await Booking.exists().where(Booking.account == person.id)
    await redis.delete(*[key async for key in redis.scan_iter("tongban:rate:booking_hold_ip:*")])


async def test_a_booking_for_ones_own_application_names_its_materials(client: PageClient) -> None:
    person = await citizen_signed_in(client)
    _applicant, application = await draft("seal-engraving", person)
    place = await centre(counters=(("police",),))
    chooser = await client.get(f"/appointments/book?application={application.id}")
    assert chooser.status_code == 200 and f"/appointments/book/{place.id}?application=" in (
        chooser.text
    )
    page = await client.get(f"/appointments/book/{place.id}?application={application.id}")
    assert page.status_code == 200
    held = await client.post(
        f"/appointments/book/{place.id}",
        data={
            "_csrf_token": csrf_from(page),
            "slot": str(slot_ids(page.text)[0]),
            "application": str(application.id),
        },
        follow_redirects=False,
    )
    assert held.status_code == 303 and held.headers["location"].startswith("/bookings/")
    booking = await Booking.objects().where(Booking.account == person.id).first()
    assert booking is not None and booking.application == application.id
    assert booking.group == "police" and booking.materials
    # Someone else's application is not something to book for.
    client.cookies.clear()
    await citizen_signed_in(client)
    other = await client.get(f"/appointments/book?application={application.id}")
    assert other.status_code == 200 and f"/appointments/book/{place.id}?" not in other.text
    assert (
        await client.get(f"/appointments/book/{place.id}?application={application.id}")
    ).status_code == 404


async def test_a_centre_closed_today_gives_no_number(client: PageClient) -> None:
    place = await centre(hours={})
    page = await client.get(f"/centres/{place.id}/ticket")
    assert (
        page.status_code == 200
        and "<form" not in page.text.split("<main", 1)[1].split("</main>", 1)[0]
    )
    refused = await post_form(
        client, f"/centres/{place.id}/ticket", f"/centres/{place.id}/ticket", group="market"
    )
    assert refused.headers["location"] == f"/centres/{place.id}/ticket"  # type: ignore[attr-defined]
    assert not await Ticket.exists().where(Ticket.centre == place.id)
