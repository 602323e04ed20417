"""Queue numbers: the calling order (booked tickets within their slot first, then everyone in
the order they took their number), recalls up to 3 calls, no-shows after them, no daily cap,
positions and estimated waits from today's service times."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from app.appointments import queue, service, slots
from app.appointments.service import BookingError
from app.appointments.slots import utcnow
from app.appointments.tables import Counter, Ticket, TicketSequence, TicketState
from app.notifications.tables import Notification
from tests.appointments.people import PURPOSE, centre, person, slot


async def _counter(place_id: int, number: int = 1) -> Counter:
    found = (
        await Counter.objects()
        .where(Counter.centre == place_id, Counter.number == number)
        .output(load_json=True)
        .first()
    )
    assert found is not None
    return found


def _ten_tomorrow() -> datetime:
    """10:00 tomorrow in Shanghai: a morning the test controls whatever the clock says (run
    at 23:50, "two hours later" would be another day's queue)."""
    day = slots.today() + timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=slots.LOCAL_ZONE).astimezone(UTC)


async def _booked_ticket(place: object, starts_at: datetime) -> Ticket:
    citizen = await person()
    one = await slot(place, capacity=5, starts_at=starts_at)  # type: ignore[arg-type]
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    await service.confirm(citizen, booking, "http://localhost:8000")
    found = await service.booking_of(None, int(booking.id))
    assert found is not None
    return await queue.check_in(found, at=starts_at + timedelta(minutes=1))


async def test_booked_within_their_slot_go_first_then_walk_ins_in_order(redis: Any) -> None:
    place = await centre()
    base = _ten_tomorrow()
    walk_one = await queue.walk_in(place, "market", None, at=base)
    walk_two = await queue.walk_in(place, "market", None, at=base)
    booked = await _booked_ticket(place, base + timedelta(minutes=5))
    at = base + timedelta(minutes=6)  # inside the booked slot
    order = [row["id"] for row in await queue.waiting(int(place.id), ["market"], at)]
    assert order == [booked.id, walk_one.id, walk_two.id]
    # After the slot is over, the booking lost its turn: it waits by the time it arrived.
    late = base + timedelta(hours=2)
    order = [row["id"] for row in await queue.waiting(int(place.id), ["market"], late)]
    assert order == [walk_one.id, walk_two.id, booked.id]
    counter = await _counter(int(place.id))
    called, sms = await queue.call_next(redis, counter, at=at)
    assert called is not None and called.id == booked.id and called.state == "called"
    assert len(sms) == 1  # the booked person has an account: an SMS
    message = await Notification.objects().where(Notification.id == sms[0]).first()
    assert message is not None and message.kind == "ticket_called"
    with pytest.raises(BookingError) as busy:
        await queue.call_next(redis, counter, at=at)
    assert busy.value.code == "busy"


async def test_two_presses_of_call_next_at_once_call_one_number(redis: Any) -> None:
    place = await centre()
    first = await queue.walk_in(place, "market", None)
    await queue.walk_in(place, "market", None)
    counter = await _counter(int(place.id))
    outcomes = await asyncio.gather(
        queue.call_next(redis, counter), queue.call_next(redis, counter), return_exceptions=True
    )
    called = [o for o in outcomes if isinstance(o, tuple)]
    refused = [o for o in outcomes if isinstance(o, BookingError)]
    assert len(called) == 1 and called[0][0] is not None and called[0][0].id == first.id
    assert len(refused) == 1 and refused[0].code == "busy"
    states = await Ticket.select(Ticket.state).where(Ticket.centre == place.id)
    assert sorted(row["state"] for row in states) == ["called", "waiting"]


async def test_recall_three_times_then_no_show_and_serve(redis: Any) -> None:
    place = await centre()
    first = await queue.walk_in(place, "market", None)
    counter = await _counter(int(place.id))
    called, sms = await queue.call_next(redis, counter)
    assert called is not None and called.id == first.id and sms == []  # anonymous: no SMS
    with pytest.raises(BookingError):
        await queue.act(redis, counter, int(first.id), "no_show")  # only after 3 calls
    await queue.act(redis, counter, int(first.id), "recall")
    await queue.act(redis, counter, int(first.id), "recall")
    with pytest.raises(BookingError):
        await queue.act(redis, counter, int(first.id), "recall")  # a 4th call is refused
    await queue.act(redis, counter, int(first.id), "no_show")
    row = await Ticket.objects().where(Ticket.id == first.id).first()
    assert row is not None and row.state == TicketState.NO_SHOW and row.calls == 3
    second = await queue.walk_in(place, "market", None)
    other_counter = await _counter(int(place.id), 2)
    await queue.call_next(redis, counter)
    with pytest.raises(BookingError):  # another counter cannot finish it
        await queue.act(redis, other_counter, int(second.id), "serve")
    await queue.act(redis, counter, int(second.id), "serve")
    row = await Ticket.objects().where(Ticket.id == second.id).first()
    assert row is not None and row.state == TicketState.SERVED and row.finished_at


async def test_numbers_have_no_daily_cap() -> None:
    place = await centre()
    key = f"{place.id}:{slots.today().isoformat()}:A"
    await TicketSequence.insert(TicketSequence(key=key, last=999))
    ticket = await queue.walk_in(place, "market", None)
    assert ticket.number == 1000 and queue.label(ticket.prefix, ticket.number) == "A1000"
    assert queue.label("B", 7) == "B007"


async def test_position_and_wait_use_todays_service_time(redis: Any) -> None:
    place = await centre(counters=(("market",),))
    counter = await _counter(int(place.id))
    served = await queue.walk_in(place, "market", None)
    await queue.call_next(redis, counter)
    await Ticket.update({Ticket.called_at: utcnow() - timedelta(minutes=6)}).where(
        Ticket.id == served.id
    )
    waiting = [await queue.walk_in(place, "market", None) for _n in range(3)]
    # Nobody served yet today: the default service time, 10 minutes (now kept in CALLS).
    assert (await queue.standing(redis, waiting[2], default_minutes=10)).minutes == 30  # 3 × 10
    await queue.act(redis, counter, int(served.id), "serve")  # announced: the estimate moves
    standing = await queue.standing(redis, waiting[2], default_minutes=10)
    assert standing.ahead == 2
    assert 17 <= standing.minutes <= 19  # 3 × about 6 minutes at one counter
    fresh = await centre(counters=(("market",), ("market",)))
    first = await queue.walk_in(fresh, "market", None)
    assert (await queue.standing(redis, first, default_minutes=10)).minutes == 5  # 10 / 2


async def test_the_wait_board_flags_long_waits_and_averages_per_group(redis: Any) -> None:
    place = await centre()
    old = await queue.walk_in(place, "market", None)
    await queue.walk_in(place, "tax", None)
    await Ticket.update({Ticket.issued_at: utcnow() - timedelta(minutes=25)}).where(
        Ticket.id == old.id
    )
    rows, averages = await queue.wait_board(int(place.id), long_minutes=20)
    assert [row.long for row in rows] == [True, False] and rows[0].id == old.id
    assert averages == {}
    await queue.call_next(redis, await _counter(int(place.id)))
    _rows, averages = await queue.wait_board(int(place.id), long_minutes=20)
    assert round(averages["market"]) == 25
