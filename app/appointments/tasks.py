"""arq jobs and crons of this domain, registered in workers/settings.py (Beijing time).

- ``remind_day_before`` (18:00): an SMS to everyone booked for tomorrow, naming what to bring;
- ``remind_hour_before`` (every 5 minutes): an SMS about an hour before the slot;
- ``sweep_holds`` (every minute): expired holds marked and their places given back; only
  tidying, since a slot reclaims its own expired holds (service.py);
- ``extend_slots`` (02:00): the slots of the whole 30-day window of every centre.

Each reminder is written once: the booking's flag is set by a conditional UPDATE in the same
transaction as its outbox row, so two workers never both remind. ``today``/``at`` are for tests.
What is safe to log: counts.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from arq import cron

from app.appointments import service, slots
from app.appointments.tables import Booking, BookingState
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.notifications.services import notify, send_soon

log = get_logger("appointments")

MATERIALS_SHOWN = 5


def materials_text(materials: list[dict[str, str]], locale: str) -> str:
    zh = locale == "zh-Hans"
    names = [m["zh"] if zh else m["en"] for m in materials[:MATERIALS_SHOWN]]
    if not names:
        return "身份证件" if zh else "your ID card"
    more = len(materials) > MATERIALS_SHOWN
    if zh:
        return "、".join(names) + ("等" if more else "")
    return "; ".join(names) + (" and more" if more else "")


async def _remind(ids: list[int], flag: Any) -> list[int]:
    sent = []
    for booking_id in ids:
        async with write_transaction():
            rows = (
                await Booking.update({flag: True})
                .where(
                    Booking.id == booking_id,
                    flag == False,  # noqa: E712
                    Booking.state == BookingState.CONFIRMED,
                )
                .returning(Booking.id)
            )
            if not rows:
                continue
            row = (
                await Booking.select(
                    Booking.materials,
                    Booking.slot.starts_at.as_alias("starts_at"),
                    Booking.centre.name_zh.as_alias("centre_zh"),
                    Booking.centre.name_en.as_alias("centre_en"),
                    Booking.account.id.as_alias("account_id"),
                    Booking.account.phone.as_alias("phone"),
                    Booking.account.locale.as_alias("locale"),
                )
                .where(Booking.id == booking_id)
                .output(load_json=True)
                .first()
            )
            assert row is not None
            locale = row["locale"]
            sent.append(
                await notify(
                    "booking_reminder",
                    row["phone"],
                    {
                        "centre": row["centre_zh"] if locale == "zh-Hans" else row["centre_en"],
                        "time": service.when_text(row["starts_at"], locale),
                        "materials": materials_text(row["materials"], locale),
                    },
                    locale=locale,
                    user_id=int(row["account_id"]),
                )
            )
    return sent


async def remind_day_before(ctx: dict[str, Any], today: date | None = None) -> int:
    tomorrow = (today or slots.today()) + timedelta(days=1)
    ids = [
        int(row["id"])
        for row in await Booking.select(Booking.id).where(
            Booking.state == BookingState.CONFIRMED,
            Booking.day == tomorrow,
            Booking.reminded_day == False,  # noqa: E712
        )
    ]
    sent = await _remind(ids, Booking.reminded_day)
    await send_soon(sent, ctx["redis"])
    log.info("booking_remind_day_success", count=len(sent))
    return len(sent)


async def remind_hour_before(ctx: dict[str, Any], at: datetime | None = None) -> int:
    at = at or slots.utcnow()
    ids = [
        int(row["id"])
        for row in await Booking.select(Booking.id).where(
            Booking.state == BookingState.CONFIRMED,
            Booking.day.is_in([slots.today(at), slots.today(at + timedelta(hours=1))]),
            Booking.reminded_hour == False,  # noqa: E712
            Booking.slot.starts_at > at,
            Booking.slot.starts_at <= at + timedelta(hours=1),
        )
    ]
    sent = await _remind(ids, Booking.reminded_hour)
    await send_soon(sent, ctx["redis"])
    if sent:
        log.info("booking_remind_hour_success", count=len(sent))
    return len(sent)


async def sweep_holds(ctx: dict[str, Any]) -> int:
    return await service.sweep_holds()


async def extend_slots(ctx: dict[str, Any], today: date | None = None) -> int:
    made = 0
    for place in await slots.centres():
        made += await slots.ensure_window(place, today)
    log.info("slots_extend_success", created=made)
    unknown = slots.first_unknown_day(*slots.window(today))
    if unknown is not None:
        # Nothing is bookable from that day on until the year's arrangement is typed in
        # (docs/operations.md, "The holiday arrangement"): said every night until it is.
        log.warning(
            "slots_extend_calendar_unknown",
            from_day=unknown.isoformat(),
            remedy="TONGBAN_HOLIDAYS_FILE",
        )
    return made


FUNCTIONS: list[Any] = []
CRON_JOBS: list[Any] = [
    cron(remind_day_before, hour={18}, minute={0}, second={0}, timeout=timedelta(hours=1)),
    cron(remind_hour_before, minute=set(range(0, 60, 5)), second={20}),
    cron(sweep_holds, second={40}),
    cron(extend_slots, hour={2}, minute={10}, second={0}, timeout=timedelta(hours=1)),
]
