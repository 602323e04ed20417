"""Reminders by SMS the day before and an hour before, naming the materials to bring; each
written once however often the job runs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from structlog.testing import capture_logs

from app.appointments import service, slots, tasks
from app.appointments.slots import utcnow
from app.appointments.tables import Slot
from app.core import holidays
from app.notifications.tables import Notification
from tests.appointments.people import PURPOSE, centre, person, slot


async def _reminders(phone: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Notification.select(Notification.params, Notification.locale)
        .where(Notification.recipient == phone, Notification.kind == "booking_reminder")
        .output(load_json=True)
    )
    return rows


async def test_day_before_and_hour_before_reminders_name_the_materials(redis: Any) -> None:
    place = await centre()
    citizen = await person()
    start = utcnow() + timedelta(minutes=40)
    one = await slot(place, capacity=1, starts_at=start)
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    await service.confirm(citizen, booking, "http://localhost:8000")
    ctx = {"redis": redis}

    assert await tasks.remind_hour_before(ctx, at=start - timedelta(hours=2)) >= 0
    assert await _reminders(citizen.phone) == []
    await tasks.remind_hour_before(ctx, at=start - timedelta(minutes=50))
    await tasks.remind_hour_before(ctx, at=start - timedelta(minutes=45))
    sent = await _reminders(citizen.phone)
    assert len(sent) == 1 and sent[0]["params"]["materials"] == "身份证"
    assert sent[0]["params"]["centre"] == "测试中心"

    await tasks.remind_day_before(ctx, today=one.day - timedelta(days=1))
    await tasks.remind_day_before(ctx, today=one.day - timedelta(days=1))
    assert len(await _reminders(citizen.phone)) == 2


async def test_a_cancelled_booking_is_not_reminded(redis: Any) -> None:
    place = await centre()
    citizen = await person()
    one = await slot(place, capacity=1)
    booking = await service.hold(citizen, int(one.id), PURPOSE)
    await service.confirm(citizen, booking, "http://localhost:8000")
    found = await service.booking_of(None, int(booking.id))
    assert found is not None
    await service.cancel(found)
    await tasks.remind_day_before({"redis": redis}, today=one.day - timedelta(days=1))
    assert await _reminders(citizen.phone) == []


def test_materials_text_is_short_in_both_languages() -> None:
    many = [{"zh": f"材料{n}", "en": f"Paper {n}"} for n in range(7)]
    assert tasks.materials_text(many, "zh-Hans").endswith("材料4等")
    assert tasks.materials_text(many, "en").endswith("Paper 4 and more")
    assert tasks.materials_text([], "en") == "your ID card"


async def test_extend_slots_fills_the_window_once(redis: Any) -> None:
    place = await centre()
    made = await slots.ensure_window(place)
    assert made > 0 and await slots.ensure_window(place) == 0
    assert await Slot.count().where(Slot.centre == place.id) == made


async def test_a_window_reaching_an_unknown_year_is_said_every_night(redis: Any) -> None:
    """From mid-December until the next year's arrangement is known, nothing is bookable
    beyond 31 December: the nightly job says so, with the remedy."""
    last = holidays.last_known_year()
    with capture_logs() as logs:
        await tasks.extend_slots({"redis": redis}, today=date(last, 12, 20))
    warned = [entry for entry in logs if entry["event"] == "slots_extend_calendar_unknown"]
    assert warned == [
        {
            "event": "slots_extend_calendar_unknown",
            "log_level": "warning",
            "from_day": f"{last + 1}-01-01",
            "remedy": "TONGBAN_HOLIDAYS_FILE",
        }
    ]
    with capture_logs() as logs:
        await tasks.extend_slots({"redis": redis}, today=date(last, 11, 20))
    assert not [entry for entry in logs if entry["event"] == "slots_extend_calendar_unknown"]
