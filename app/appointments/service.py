"""Rules of bookings (docs/appointments.md): holds, confirmation, cancellation and
rescheduling of places in the slots that slots.py makes; queue.py turns a booking into a
ticket at check-in.

**Never overbooked.** A place is taken by one statement::

    UPDATE appointments_slot SET taken = taken + 1
    WHERE id = :slot AND taken < capacity RETURNING id

On PostgreSQL (READ COMMITTED) a second transaction updating the same row waits for the
first's row lock and then evaluates ``taken < capacity`` again on the committed row; on
SQLite ``write_transaction`` starts with BEGIN IMMEDIATE and every writer runs alone. Either
way the check and the increment are one step: no request can read a free place that another
is taking.

**Holds** count in ``taken`` from the start. An expired hold frees its place as soon as anyone
looks at that slot again: every hold on a slot first reclaims that slot's expired holds (a
conditional UPDATE on the booking, so exactly one transaction reclaims each one), and the
availability shown subtracts expired holds nobody has reclaimed yet. The minute sweep
(tasks.py) only tidies up; correctness never waits for it.

What is safe to log: booking, slot, centre and account ids, counts.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from piccolo.columns.combination import Where

from app.accounts.tables import Account

# Where and when (slots.py), used here and named through this module by the pages.
from app.appointments.slots import (
    MAX_ID,
    WINDOW_DAYS,
    Free,
    Group,
    _expired_holds,
    availability,
    ensure_slots,
    ensure_window,
    today,
    utcnow,
    window,
)
from app.appointments.tables import (
    ACTIVE_BOOKING,
    BOOKING_TRANSITIONS,
    Booking,
    BookingState,
    Centre,
    Slot,
)
from app.core.crypto import keyed_hash
from app.core.display import LOCAL_ZONE
from app.core.i18n import _, translations
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.notifications.services import notify

log = get_logger("appointments")

HOLD = timedelta(minutes=10)  # a hold while the person confirms (The Q keeps 15, ZMS 30)
EARLY_CHECKIN = timedelta(minutes=30)  # a booking may be checked in this long before its slot
MANAGE_PURPOSE = "appointments.manage"
CHECKIN_PURPOSE = "appointments.checkin"

try:  # asyncpg is there only with PostgreSQL
    from asyncpg.exceptions import UniqueViolationError as _PgUnique
except ImportError:  # pragma: no cover
    _PgUnique = sqlite3.IntegrityError

UNIQUE_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, _PgUnique)


class BookingError(Exception):
    """A request the rules refuse; ``message`` is a localised sentence for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def full() -> BookingError:
    return BookingError("full", _("This time is fully booked. Please choose another time."))


def busy() -> BookingError:
    return BookingError(
        "busy", _("Many people are booking this time right now. Please try again in a moment.")
    )


class _Gates:
    """One asyncio lock per slot in this process, so that a stampede for one slot queues here
    (cheaply) instead of on the database's write lock; each try re-reads the slot once it is
    through, and tries for a full slot are refused without a write. Only speed depends on it:
    other processes are not gated, and the conditional UPDATE keeps the count right."""

    def __init__(self) -> None:
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    @asynccontextmanager
    async def __call__(self, slot_id: int) -> AsyncIterator[None]:
        lock = self._locks.setdefault(slot_id, asyncio.Lock())
        self._users[slot_id] = self._users.get(slot_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[slot_id] -= 1
            if not self._users[slot_id]:
                del self._users[slot_id], self._locks[slot_id]


_gate = _Gates()


def one_a_day() -> BookingError:
    return BookingError(
        "one_a_day",
        _(
            "You already have a booking at this centre on that day. "
            "Change or cancel it instead of booking again."
        ),
    )


# ---------------------------------------------------------------- holds and bookings


def _active_key(account_id: int, centre_id: int, day: date) -> str:
    return f"{account_id}:{centre_id}:{day.isoformat()}"


async def _release(where: Where, state: BookingState, at: datetime) -> int:
    """End the bookings ``where`` selects (one conditional UPDATE: each is ended by exactly
    one transaction) and give their places back; how many."""
    rows = (
        await Booking.update({Booking.state: state, Booking.active_key: None, Booking.ended_at: at})
        .where(where)
        .returning(Booking.slot)
    )
    for row in sorted(rows, key=lambda r: int(r["slot"])):
        await Slot.update({Slot.taken: Slot.taken - 1}).where(
            Slot.id == row["slot"], Slot.taken > 0
        )
    return len(rows)


def may(event: str) -> Where:
    """The booking is in a from-state of ``event`` (BOOKING_TRANSITIONS)."""
    sources, _target = BOOKING_TRANSITIONS[event]
    return Booking.state.is_in(list(sources))


def _expired(at: datetime) -> Where:
    return may("expire") & (Booking.hold_until <= at)  # type: ignore[return-value]


async def _take(slot_id: int) -> bool:
    """The one step that takes a place: true if it did."""
    rows = (
        await Slot.update({Slot.taken: Slot.taken + 1})
        .where(Slot.id == slot_id, Slot.taken < Slot.capacity)
        .returning(Slot.id)
    )
    return bool(rows)


@dataclass(frozen=True, slots=True)
class Purpose:
    """What a booking is for: an item, or an application (with its first item)."""

    item_code: str
    application_id: int | None
    title_zh: str
    title_en: str
    materials: list[dict[str, str]]


async def _bookable_slot(slot_id: int, at: datetime) -> Slot:
    slot = await Slot.objects().where(Slot.id == slot_id).first() if 0 < slot_id <= MAX_ID else None
    if slot is None:
        raise BookingError("no_slot", _("That time is not offered. Please choose another time."))
    if slot.starts_at <= at:
        raise BookingError("past", _("That time has already begun. Please choose a later time."))
    first, last = window(today(at))
    if not first <= slot.day <= last:
        raise BookingError(
            "window", _("Bookings open %(days)s days ahead at most.", days=WINDOW_DAYS)
        )
    return slot


async def hold(
    account: Account, slot_id: int, purpose: Purpose, *, at: datetime | None = None
) -> Booking:
    """Hold a place in a slot for ``HOLD`` while the person confirms. A hold the person
    already has at the same centre that day is given up for this one; a confirmed booking
    there that day refuses it (one a day, backed by the unique ``active_key``)."""
    at = at or utcnow()
    slot = await _bookable_slot(slot_id, at)
    key = _active_key(int(account.id), int(slot.centre), slot.day)
    async with _gate(int(slot.id)):
        # Full when read again in the queue, with no expired hold to reclaim: refused without
        # the write lock. A read can only refuse, never take a place: taking is the
        # conditional UPDATE in _take.
        taken = await Slot.select(Slot.taken).where(Slot.id == slot.id).first()
        if (
            taken is not None
            and taken["taken"] >= slot.capacity
            and not await _expired_holds([int(slot.id)], at)
        ):
            raise full()
        try:
            async with write_transaction():
                await _release(
                    (Booking.slot == slot.id) & _expired(at),  # type: ignore[arg-type]
                    BookingState.EXPIRED,
                    at,
                )
                await _release(
                    (Booking.active_key == key) & (Booking.state == BookingState.HELD),  # type: ignore[arg-type]
                    BookingState.EXPIRED,
                    at,
                )
                if await Booking.exists().where(Booking.active_key == key):
                    raise one_a_day()
                if not await _take(int(slot.id)):
                    raise full()
                booking = Booking(
                    account=account.id,
                    centre=slot.centre,
                    slot=slot.id,
                    group=slot.group,
                    day=slot.day,
                    item_code=purpose.item_code,
                    application=purpose.application_id,
                    title_zh=purpose.title_zh[:150],
                    title_en=purpose.title_en[:250],
                    materials=purpose.materials,
                    state=BookingState.HELD,
                    hold_until=at + HOLD,
                    active_key=key,
                )
                await booking.save()
        except UNIQUE_ERRORS:
            # Two requests of one person at once: the unique key let one through.
            raise one_a_day() from None
        except sqlite3.OperationalError as exc:
            # SQLite's write lock not granted within the busy timeout (other processes
            # writing): nothing was written.
            if "locked" not in str(exc):
                raise
            raise busy() from None
    log.info("booking_hold_success", booking_id=booking.id, slot_id=slot.id)
    return booking


def manage_token() -> tuple[str, str]:
    """A random token for the SMS link and its keyed hash (only the hash is stored)."""
    token = secrets.token_urlsafe(24)
    return token, keyed_hash(MANAGE_PURPOSE, token)


async def booking_by_token(token: str) -> Booking | None:
    if not 20 <= len(token) <= 64:
        return None
    return (
        await Booking.objects()
        .where(Booking.manage_hash == keyed_hash(MANAGE_PURPOSE, token))
        .output(load_json=True)
        .first()
    )


def checkin_ref(booking_id: int) -> str:
    """The reference in a booking's check-in QR: its id and a MAC over it (nothing stored)."""
    return f"{booking_id}-{keyed_hash(CHECKIN_PURPOSE, str(booking_id))[:20]}"


async def booking_by_checkin(ref: str) -> Booking | None:
    ident = ref.partition("-")[0]
    if (
        not ident.isdigit()
        or len(ident) > 10
        or not secrets.compare_digest(checkin_ref(int(ident)), ref)
    ):
        return None
    return await booking_of(None, int(ident))


async def booking_of(account_id: int | None, booking_id: int) -> Booking | None:
    """The person's own booking (any, when ``account_id`` is None); anyone else's is not
    found."""
    if not 0 < booking_id <= MAX_ID:
        return None
    query = Booking.objects().where(Booking.id == booking_id)
    if account_id is not None:
        query = query.where(Booking.account == account_id)
    return await query.output(load_json=True).first()


async def bookings_of(account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await Booking.select(
            Booking.id,
            Booking.state,
            Booking.title_zh,
            Booking.title_en,
            Booking.day,
            Booking.hold_until,
            Booking.slot.starts_at.as_alias("starts_at"),
            Booking.centre.name_zh.as_alias("centre_zh"),
            Booking.centre.name_en.as_alias("centre_en"),
        )
        .where(Booking.account == account_id)
        .order_by(Booking.id, ascending=False)
        .limit(limit)
    )
    return rows


def _local(message: str, locale: str) -> str:
    return str(translations(locale).gettext(message))


def when_text(starts_at: datetime, locale: str) -> str:
    local = starts_at.astimezone(LOCAL_ZONE)
    if locale == "zh-Hans":
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


async def confirm(
    account: Account, booking: Booking, public_url: str, *, at: datetime | None = None
) -> list[int]:
    """Confirm a held booking before its hold runs out; the notification ids to send. A
    hold that ran out gives its place back and is refused."""
    at = at or utcnow()
    token, token_hash = manage_token()
    async with write_transaction():
        rows = (
            await Booking.update(
                {
                    Booking.state: BookingState.CONFIRMED,
                    Booking.hold_until: None,
                    Booking.confirmed_at: at,
                    Booking.manage_hash: token_hash,
                }
            )
            .where(
                Booking.id == booking.id,
                Booking.account == account.id,
                may("confirm"),
                Booking.hold_until > at,
            )
            .returning(Booking.id)
        )
        if rows:
            slot = await Slot.objects().where(Slot.id == booking.slot).first()
            place = await Centre.objects().where(Centre.id == booking.centre).first()
            assert slot is not None and place is not None
            zh = account.locale == "zh-Hans"
            notification = await notify(
                "booking_confirmed",
                account.phone,
                {
                    "centre": place.name_zh if zh else place.name_en,
                    "time": when_text(slot.starts_at, account.locale),
                    "link": f"{public_url}/bookings/manage/{token}",
                },
                locale=account.locale,
                user_id=int(account.id),
            )
        else:
            await _release(
                (Booking.id == booking.id) & _expired(at),  # type: ignore[arg-type]
                BookingState.EXPIRED,
                at,
            )
    if not rows:
        raise BookingError(
            "hold_over",
            _(
                "The 10 minutes to confirm have run out and the place was released. Please book again."
            ),
        )
    log.info("booking_confirm_success", booking_id=booking.id)
    return [notification]


def _changeable(booking: Booking, slot_start: datetime, at: datetime) -> None:
    if booking.state not in (BookingState.HELD, BookingState.CONFIRMED):
        raise BookingError("not_active", _("This booking can no longer be changed."))
    if slot_start <= at:
        raise BookingError(
            "started", _("This booking's time has begun: it can no longer be changed.")
        )


async def slot_start_of(booking: Booking) -> datetime:
    row = await Slot.select(Slot.starts_at).where(Slot.id == booking.slot).first()
    assert row is not None
    start: datetime = row["starts_at"]
    return start


async def cancel(booking: Booking, *, at: datetime | None = None) -> None:
    at = at or utcnow()
    _changeable(booking, await slot_start_of(booking), at)
    async with write_transaction():
        ended = await _release(
            (Booking.id == booking.id)  # type: ignore[arg-type]
            & may("cancel"),
            BookingState.CANCELLED,
            at,
        )
    if not ended:
        raise BookingError("not_active", _("This booking can no longer be changed."))
    log.info("booking_cancel_success", booking_id=booking.id)


async def reschedule(booking: Booking, slot_id: int, *, at: datetime | None = None) -> Booking:
    """Move a confirmed booking to another slot of the same centre and group: the new place
    is taken by the same conditional UPDATE as a new booking, then the old one given back."""
    at = at or utcnow()
    _changeable(booking, await slot_start_of(booking), at)
    if booking.state != BookingState.CONFIRMED:
        raise BookingError("not_confirmed", _("Confirm the booking before changing its time."))
    slot = await _bookable_slot(slot_id, at)
    if slot.centre != booking.centre or slot.group != booking.group:
        raise BookingError("no_slot", _("That time is not offered. Please choose another time."))
    if slot.id == booking.slot:
        raise BookingError("same", _("That is the time you already have."))
    key = _active_key(int(booking.account), int(booking.centre), slot.day)
    try:
        async with write_transaction():
            await _release(
                (Booking.slot == slot.id) & _expired(at),  # type: ignore[arg-type]
                BookingState.EXPIRED,
                at,
            )
            if slot.day != booking.day and await Booking.exists().where(Booking.active_key == key):
                raise one_a_day()
            if not await _take(int(slot.id)):
                raise full()
            moved = (
                await Booking.update(
                    {
                        Booking.slot: slot.id,
                        Booking.day: slot.day,
                        Booking.active_key: key,
                        Booking.reminded_day: False,
                        Booking.reminded_hour: False,
                    }
                )
                .where(
                    Booking.id == booking.id,
                    may("reschedule"),
                    Booking.slot == booking.slot,
                )
                .returning(Booking.id)
            )
            if not moved:
                raise BookingError("not_active", _("This booking can no longer be changed."))
            await Slot.update({Slot.taken: Slot.taken - 1}).where(
                Slot.id == booking.slot, Slot.taken > 0
            )
    except UNIQUE_ERRORS:
        raise one_a_day() from None
    log.info("booking_reschedule_success", booking_id=booking.id, slot_id=slot.id)
    found = await booking_of(None, int(booking.id))
    assert found is not None
    return found


async def sweep_holds(at: datetime | None = None) -> int:
    """Reclaim every expired hold (tidying only: holds are reclaimed slot by slot anyway)."""
    at = at or utcnow()
    async with write_transaction():
        return await _release(_expired(at), BookingState.EXPIRED, at)


def minutes_until(moment: datetime, at: datetime) -> int:
    return max(0, math.ceil((moment - at).total_seconds() / 60))


__all__ = [
    "ACTIVE_BOOKING",
    "HOLD",
    "BookingError",
    "Free",
    "Group",
    "Purpose",
    "availability",
    "cancel",
    "confirm",
    "ensure_slots",
    "ensure_window",
    "hold",
    "reschedule",
]
