"""Holds, confirmation, the one-a-day rule, cancelling and rescheduling
(app/appointments/service.py), with the places of each slot counted after every step."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.appointments import service, slots
from app.appointments.service import BookingError
from app.appointments.slots import utcnow
from app.appointments.tables import Booking, BookingState
from app.notifications.tables import Notification
from tests.appointments.people import PURPOSE, centre, person, slot, taken

URL = "http://localhost:8000"


async def test_a_hold_takes_a_place_and_confirming_sends_the_change_link() -> None:
    place = await centre()
    one = await slot(place, capacity=2)
    citizen = await person()
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    assert booking.state == BookingState.HELD and await taken(one.id) == 1
    assert booking.hold_until is not None and booking.hold_until - utcnow() <= service.HOLD
    sent = await service.confirm(citizen, booking, URL)
    row = await Booking.objects().where(Booking.id == booking.id).first()
    assert row is not None and row.state == BookingState.CONFIRMED and row.manage_hash
    message = (
        await Notification.objects()
        .where(Notification.id == sent[0])
        .output(load_json=True)
        .first()
    )
    assert message is not None and message.kind == "booking_confirmed"
    token = message.params["link"].rsplit("/", 1)[1]  # type: ignore[index]
    found = await service.booking_by_token(token)
    assert found is not None and found.id == booking.id
    assert await service.booking_by_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


async def test_an_expired_hold_frees_its_place_without_any_sweep() -> None:
    place = await centre()
    one = await slot(place, capacity=1)
    first, second = await person(), await person()
    booking = await service.hold(first, int(one.id), PURPOSE)
    with pytest.raises(BookingError) as refused:
        await service.hold(second, int(one.id), PURPOSE)
    assert refused.value.code == "full"
    later = utcnow() + service.HOLD + timedelta(seconds=1)
    free = await slots.availability(place, one.day, "market", at=later - timedelta(hours=1))
    assert [s.free for s in free if s.id == one.id] == [0]
    free = await slots.availability(place, one.day, "market", at=later)
    assert [s.free for s in free if s.id == one.id] == [1]  # counted free before reclaiming
    again = await service.hold(second, int(one.id), PURPOSE, at=later)
    assert again.state == BookingState.HELD and await taken(one.id) == 1
    expired = await Booking.objects().where(Booking.id == booking.id).first()
    assert expired is not None and expired.state == BookingState.EXPIRED
    assert expired.active_key is None
    with pytest.raises(BookingError) as late:
        await service.confirm(first, booking, URL, at=later)
    assert late.value.code == "hold_over"
    assert await taken(one.id) == 1


async def test_confirming_after_the_hold_ran_out_releases_the_place() -> None:
    place = await centre()
    one = await slot(place, capacity=1)
    citizen = await person()
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    with pytest.raises(BookingError):
        await service.confirm(citizen, booking, URL, at=utcnow() + service.HOLD)
    assert await taken(one.id) == 0


async def test_one_booking_per_person_per_centre_per_day() -> None:
    place = await centre()
    first = await slot(place, capacity=3)
    second = await slot(place, capacity=3, starts_at=first.starts_at + timedelta(minutes=30))
    other_centre = await slot(await centre(), capacity=3, starts_at=first.starts_at)
    citizen = await person()
    held = await service.hold(citizen, int(first.id), PURPOSE)
    # A second hold the same day replaces the first (still unconfirmed)…
    replaced = await service.hold(citizen, int(second.id), PURPOSE)
    assert (await taken(first.id), await taken(second.id)) == (0, 1)
    gone = await Booking.objects().where(Booking.id == held.id).first()
    assert gone is not None and gone.state == BookingState.EXPIRED
    await service.confirm(citizen, replaced, URL)
    # …but once confirmed, another booking that day at that centre is refused.
    with pytest.raises(BookingError) as refused:
        await service.hold(citizen, int(first.id), PURPOSE)
    assert refused.value.code == "one_a_day" and await taken(first.id) == 0
    # Another centre the same day is fine.
    assert (await service.hold(citizen, int(other_centre.id), PURPOSE)).state == "held"


async def test_cancel_gives_the_place_back_and_ends_the_booking() -> None:
    place = await centre()
    one = await slot(place, capacity=1)
    citizen = await person()
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    await service.confirm(citizen, booking, URL)
    booking = await service.booking_of(int(citizen.id), int(booking.id))  # type: ignore[assignment]
    await service.cancel(booking)
    assert await taken(one.id) == 0
    with pytest.raises(BookingError):
        await service.cancel(booking)
    assert await taken(one.id) == 0
    # The day is free again for the same person.
    assert (await service.hold(citizen, int(one.id), PURPOSE)).state == "held"


async def test_reschedule_moves_the_place_and_refuses_a_full_slot_without_change() -> None:
    place = await centre()
    start = (await slot(place, capacity=1)).starts_at
    old = await slot(place, capacity=1, starts_at=start + timedelta(hours=1))
    new = await slot(place, capacity=1, starts_at=start + timedelta(days=1))
    full = await slot(place, capacity=1, starts_at=start + timedelta(hours=2))
    tax = await slot(place, capacity=1, starts_at=start + timedelta(hours=3), group="tax")
    citizen, other = await person(), await person()
    await service.hold(other, int(full.id), PURPOSE)
    booking = await service.hold(citizen, int(old.id), PURPOSE)
    with pytest.raises(BookingError) as unconfirmed:
        await service.reschedule(booking, int(new.id))
    assert unconfirmed.value.code == "not_confirmed"
    await service.confirm(citizen, booking, URL)
    booking = await service.booking_of(int(citizen.id), int(booking.id))  # type: ignore[assignment]
    for target, code in ((full, "full"), (tax, "no_slot"), (old, "same")):
        with pytest.raises(BookingError) as refused:
            await service.reschedule(booking, int(target.id))
        assert refused.value.code == code
    assert (await taken(old.id), await taken(full.id)) == (1, 1)
    moved = await service.reschedule(booking, int(new.id))
    assert moved.slot == new.id and moved.day == new.day and moved.state == "confirmed"
    assert moved.active_key and moved.active_key.endswith(new.day.isoformat())
    assert (await taken(old.id), await taken(new.id)) == (0, 1)


async def test_a_slot_that_has_begun_or_does_not_exist_is_refused() -> None:
    place = await centre()
    began = await slot(place, capacity=5, starts_at=utcnow() - timedelta(minutes=5))
    citizen = await person()
    for slot_id, code in ((int(began.id), "past"), (0, "no_slot"), (2**40, "no_slot")):
        with pytest.raises(BookingError) as refused:
            await service.hold(citizen, slot_id, PURPOSE)
        assert refused.value.code == code
    assert await taken(began.id) == 0


async def test_the_sweep_reclaims_every_expired_hold() -> None:
    place = await centre()
    one = await slot(place, capacity=3)
    for _n in range(2):
        await service.hold(await person(), int(one.id), PURPOSE)
    assert await service.sweep_holds(utcnow() + service.HOLD) >= 2
    assert await taken(one.id) == 0
