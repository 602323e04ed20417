"""Opening days from the Chinese calendar and the slots made from them: a public holiday is
closed, a make-up working day keeps workday hours, a year the calendar does not know offers
nothing rather than a guess."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.appointments import slots
from app.appointments.tables import Slot
from app.core.holidays import CalendarUnknown
from tests.appointments.people import OFFICE, centre, tomorrow

NATIONAL_DAY = date(2025, 10, 1)  # a Wednesday inside the National Day break
MAKE_UP_SATURDAY = date(2025, 10, 11)  # 调休上班
MAKE_UP_SUNDAY = date(2025, 9, 28)
PLAIN_SATURDAY = date(2025, 10, 18)
PLAIN_MONDAY = date(2025, 10, 13)


def test_day_kinds_follow_the_holiday_arrangement() -> None:
    assert slots.day_kind(NATIONAL_DAY) == "holiday"
    assert slots.day_kind(date(2025, 10, 4)) == "holiday"  # a Saturday inside the break
    assert slots.day_kind(MAKE_UP_SATURDAY) == "workday"
    assert slots.day_kind(MAKE_UP_SUNDAY) == "workday"
    assert slots.day_kind(PLAIN_SATURDAY) == "saturday"
    assert slots.day_kind(date(2025, 10, 19)) == "sunday"
    assert slots.day_kind(PLAIN_MONDAY) == "workday"


def test_a_year_the_calendar_does_not_know_is_not_guessed() -> None:
    with pytest.raises(CalendarUnknown):
        slots.day_kind(date(2099, 1, 5))
    assert slots.is_open(OFFICE, date(2099, 1, 5)) is None


def test_slots_fill_the_opening_periods() -> None:
    monday = slots.slot_times(OFFICE, 30, PLAIN_MONDAY)
    # 09:00-12:00 is 6 slots, 13:30-17:00 is 7; Beijing 09:00 is 01:00 UTC.
    assert len(monday) == 13
    assert monday[0].hour == 1 and monday[0].minute == 0
    assert [s.strftime("%H:%M") for s in monday[5:7]] == ["03:30", "05:30"]
    assert len(slots.slot_times(OFFICE, 30, PLAIN_SATURDAY)) == 6
    assert slots.slot_times(OFFICE, 30, NATIONAL_DAY) == []
    assert len(slots.slot_times(OFFICE, 30, MAKE_UP_SATURDAY)) == 13
    assert slots.slot_times(OFFICE, 45, PLAIN_SATURDAY)[-1].strftime("%H:%M") == "03:15"


async def test_slots_are_made_per_group_with_capacity_from_counters_once() -> None:
    place = await centre(OFFICE, counters=(("market",), ("market", "tax"), ("tax",)), per_counter=2)
    assert await slots.ensure_slots(place, NATIONAL_DAY) == 0
    assert await slots.ensure_slots(place, date(2099, 1, 5)) == 0
    made = await slots.ensure_slots(place, MAKE_UP_SATURDAY)
    assert made == 13 * 2
    assert await slots.ensure_slots(place, MAKE_UP_SATURDAY) == 0  # idempotent
    rows = await Slot.select(Slot.group, Slot.capacity).where(Slot.centre == place.id)
    assert {(row["group"], row["capacity"]) for row in rows} == {("market", 4), ("tax", 4)}


async def test_availability_covers_the_booking_window_only() -> None:
    place = await centre(OFFICE)
    days = await slots.open_days(place)
    assert len(days) == slots.WINDOW_DAYS and days[0][0] == slots.today()
    beyond = slots.today() + timedelta(days=slots.WINDOW_DAYS)
    assert await slots.availability(place, beyond, "market") == []
    open_day = next(day for day, is_open in days[1:] if is_open)
    free = await slots.availability(place, open_day, "market")
    assert free and all(slot.free == slot.capacity == 2 for slot in free)
    assert await slots.availability(place, tomorrow(), "nonexistent") == []
