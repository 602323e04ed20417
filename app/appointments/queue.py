"""Queue numbers (取号叫号, docs/appointments.md): tickets from a booking's check-in or taken at
the centre, the calling order, recalls, no-shows, positions and estimated waits.

**Numbers.** Each centre, day and service-group prefix has one ``TicketSequence`` row; a number
is drawn by ``INSERT … ON CONFLICT DO NOTHING`` (the day's first) then ``UPDATE … SET last =
last + 1 RETURNING last``, so two tickets never get one number (and the unique ``Ticket.key``
would refuse one anyway). There is no daily cap: A999 is followed by A1000.

**Calling order** for a counter's groups: booked tickets whose slot is under way, by slot start;
then everyone else (walk-ins, and bookings that came early or late) in the order they took
their number. A ticket moves by conditional UPDATEs from its from-state (``TRANSITIONS``), so
two counters can never call the same ticket.

**What the counters change** — the numbers being called (the hall display) and the day's
average service time (the estimated waits) — is kept in each process in ``CALLS``: whoever
calls, recalls, serves or marks a number a no-show (``call_next``, ``act``) announces it with
``calls_changed`` once the change has committed, and every replica reloads within a second
(app/core/cache.py). A hall display polling every few seconds costs no query, and a ticket
page polling its place does not read the day's served tickets again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from redis.asyncio import Redis

from app.accounts.tables import Account
from app.appointments import service, slots
from app.appointments.service import BookingError
from app.appointments.slots import utcnow
from app.appointments.tables import (
    Booking,
    BookingState,
    Centre,
    Counter,
    Slot,
    Ticket,
    TicketSequence,
    TicketState,
)
from app.core.cache import VersionedCache
from app.core.crypto import keyed_hash
from app.core.i18n import _
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.notifications.services import notify

log = get_logger("appointments")

TICKET_PURPOSE = "appointments.ticket"
MAX_CALLS = 3  # called this many times without showing up: no-show (ZMS callCountMax)

# event -> (from-states, to-state)
TRANSITIONS: dict[str, tuple[tuple[TicketState, ...], TicketState]] = {
    "call": ((TicketState.WAITING,), TicketState.CALLED),
    "recall": ((TicketState.CALLED,), TicketState.CALLED),
    "serve": ((TicketState.CALLED,), TicketState.SERVED),
    "no_show": ((TicketState.CALLED,), TicketState.NO_SHOW),
}


def label(prefix: str, number: int) -> str:
    return f"{prefix}{number:03d}"


def ticket_ref(ticket_id: int) -> str:
    """The reference of a ticket's page: its id and a MAC over it; whoever holds the number
    slip (or the link) may follow it, nobody can guess another's."""
    return f"{ticket_id}-{keyed_hash(TICKET_PURPOSE, str(ticket_id))[:20]}"


async def ticket_by_ref(ref: str) -> Ticket | None:
    import secrets

    ident = ref.partition("-")[0]
    if (
        not ident.isdigit()
        or len(ident) > 10
        or not secrets.compare_digest(ticket_ref(int(ident)), ref)
    ):
        return None
    return await Ticket.objects().where(Ticket.id == int(ident)).first()


async def _draw(centre_id: int, day: date, prefix: str) -> int:
    key = f"{centre_id}:{day.isoformat()}:{prefix}"
    await TicketSequence.insert(TicketSequence(key=key, last=0)).on_conflict(action="DO NOTHING")
    rows = (
        await TicketSequence.update({TicketSequence.last: TicketSequence.last + 1})
        .where(TicketSequence.key == key)
        .returning(TicketSequence.last)
    )
    return int(rows[0]["last"])


async def _issue(
    centre_id: int,
    group: slots.Group,
    day: date,
    *,
    account_id: int | None,
    booking: Booking | None = None,
    slot: Slot | None = None,
) -> Ticket:
    number = await _draw(centre_id, day, group.prefix)
    ticket = Ticket(
        centre=centre_id,
        day=day,
        group=group.code,
        prefix=group.prefix,
        number=number,
        key=f"{centre_id}:{day.isoformat()}:{label(group.prefix, number)}",
        booking=booking.id if booking else None,
        account=account_id,
        slot_start=slot.starts_at if slot else None,
        slot_end=slot.ends_at if slot else None,
        state=TicketState.WAITING,
    )
    await ticket.save()
    return ticket


async def walk_in(
    place: Centre, group_code: str, account_id: int | None, *, at: datetime | None = None
) -> Ticket:
    """A number taken at the centre (its QR page): no booking, no daily cap."""
    group = (await slots.groups()).get(group_code)
    counters = await slots.counters_of(int(place.id))
    if group is None or not any(group.code in counter.groups for counter in counters):
        raise BookingError("no_group", _("Choose one of the services this centre offers."))
    at = at or utcnow()
    if slots.is_open(slots.hours_of(place), slots.today(at)) is False:
        raise BookingError("closed", _("The centre is closed today."))
    async with write_transaction():
        ticket = await _issue(int(place.id), group, slots.today(at), account_id=account_id)
    log.info("ticket_walk_in_success", ticket_id=ticket.id, centre_id=place.id)
    return ticket


async def check_in(booking: Booking, *, at: datetime | None = None) -> Ticket:
    """The booking's QR scanned at the centre, or "I'm here" during its slot: the booking
    becomes a queue ticket. Allowed from ``EARLY_CHECKIN`` before the slot to its end."""
    at = at or utcnow()
    if booking.state == BookingState.CHECKED_IN:
        found = await Ticket.objects().where(Ticket.booking == booking.id).first()
        if found is not None:
            return found
    if booking.state != BookingState.CONFIRMED:
        raise BookingError("not_confirmed", _("Only a confirmed booking can be checked in."))
    slot = await Slot.objects().where(Slot.id == booking.slot).first()
    assert slot is not None
    if at < slot.starts_at - service.EARLY_CHECKIN:
        raise BookingError(
            "early",
            _(
                "Check-in opens 30 minutes before your time (%(time)s).",
                time=service.when_text(slot.starts_at, "en")[-5:],
            ),
        )
    if at >= slot.ends_at:
        raise BookingError(
            "late",
            _("Your booked time is over. Please take a number at the centre instead."),
        )
    group = (await slots.groups())[booking.group]
    async with write_transaction():
        moved = (
            await Booking.update({Booking.state: BookingState.CHECKED_IN})
            .where(Booking.id == booking.id, service.may("check_in"))
            .returning(Booking.id)
        )
        if not moved:
            raise BookingError("not_confirmed", _("Only a confirmed booking can be checked in."))
        ticket = await _issue(
            int(booking.centre),
            group,
            slots.today(at),
            account_id=int(booking.account),
            booking=booking,
            slot=slot,
        )
    log.info("booking_checkin_success", booking_id=booking.id, ticket_id=ticket.id)
    return ticket


# ---------------------------------------------------------------- the calling order


def priority(ticket: Any, at: datetime) -> tuple[int, datetime, int]:
    """Sort key of the calling order (module docstring)."""
    start, end = ticket["slot_start"], ticket["slot_end"]
    if start is not None and end is not None and start <= at < end:
        return (0, start, int(ticket["id"]))
    return (1, ticket["issued_at"], int(ticket["id"]))


async def waiting(centre_id: int, groups: list[str], at: datetime) -> list[dict[str, Any]]:
    """Waiting tickets of ``groups`` at the centre today, in calling order."""
    rows: list[dict[str, Any]] = await Ticket.select(
        Ticket.id,
        Ticket.prefix,
        Ticket.number,
        Ticket.group,
        Ticket.slot_start,
        Ticket.slot_end,
        Ticket.issued_at,
        Ticket.booking,
        Ticket.account.name.as_alias("name"),
    ).where(
        Ticket.centre == centre_id,
        Ticket.day == slots.today(at),
        Ticket.state == TicketState.WAITING,
        Ticket.group.is_in(groups or [""]),
    )
    return sorted(rows, key=lambda row: priority(row, at))


async def current_at(counter: Counter) -> Ticket | None:
    """The ticket the counter has called and not finished."""
    return (
        await Ticket.objects()
        .where(Ticket.counter == counter.id, Ticket.state == TicketState.CALLED)
        .first()
    )


async def _called_sms(ticket_id: int, counter: Counter) -> list[int]:
    row = (
        await Ticket.select(
            Ticket.prefix,
            Ticket.number,
            Ticket.account.phone.as_alias("phone"),
            Ticket.account.locale.as_alias("locale"),
            Ticket.account.id.as_alias("account_id"),
        )
        .where(Ticket.id == ticket_id)
        .first()
    )
    if row is None or not row["phone"]:
        return []
    return [
        await notify(
            "ticket_called",
            row["phone"],
            {"number": label(row["prefix"], row["number"]), "counter": str(counter.number)},
            locale=row["locale"],
            user_id=int(row["account_id"]),
        )
    ]


async def call_next(
    redis: Redis, counter: Counter, *, at: datetime | None = None
) -> tuple[Ticket | None, list[int]]:
    """Call the first waiting ticket of the counter's groups; (ticket or None, SMS ids)."""
    at = at or utcnow()
    async with write_transaction(f"queue:{counter.centre}"):
        # Inside the centre's lock: a second press of "call next" waits for the first and
        # then finds the number it called, rather than calling another one.
        if await current_at(counter) is not None:
            raise BookingError("busy", _("Finish the current number first: served, or recall it."))
        for candidate in await waiting(int(counter.centre), list(counter.groups), at):
            moved = (
                await Ticket.update(
                    {
                        Ticket.state: TicketState.CALLED,
                        Ticket.calls: 1,
                        Ticket.counter: counter.id,
                        Ticket.called_at: at,
                    }
                )
                .where(Ticket.id == candidate["id"], Ticket.state == TicketState.WAITING)
                .returning(Ticket.id)
            )
            if moved:
                sms = await _called_sms(int(candidate["id"]), counter)
                break
        else:
            return None, []
    await calls_changed(redis)
    ticket = await Ticket.objects().where(Ticket.id == candidate["id"]).first()
    log.info("ticket_call_success", ticket_id=candidate["id"], counter_id=counter.id)
    return ticket, sms


async def act(
    redis: Redis, counter: Counter, ticket_id: int, event: str, *, at: datetime | None = None
) -> list[int]:
    """Recall, serve or mark a no-show the ticket this counter called; SMS ids (recall)."""
    at = at or utcnow()
    if event not in ("recall", "serve", "no_show") or not 0 < ticket_id <= slots.MAX_ID:
        raise BookingError("refused", _("That cannot be done to this number now."))
    sources, target = TRANSITIONS[event]
    values: dict[Any, Any] = {Ticket.state: target}
    conditions = [
        Ticket.id == ticket_id,
        Ticket.counter == counter.id,
        Ticket.state.is_in(list(sources)),
    ]
    if event == "recall":
        values.update({Ticket.calls: Ticket.calls + 1, Ticket.called_at: at})
        conditions.append(Ticket.calls < MAX_CALLS)
    elif event == "no_show":
        values[Ticket.finished_at] = at
        conditions.append(Ticket.calls >= MAX_CALLS)
    else:
        values[Ticket.finished_at] = at
    async with write_transaction():
        moved = await Ticket.update(values).where(*conditions).returning(Ticket.id)
        sms = await _called_sms(ticket_id, counter) if moved and event == "recall" else []
    if not moved:
        if event == "recall":
            message = _("A number is recalled at most 3 times; then mark it a no-show.")
        elif event == "no_show":
            message = _("Call a number 3 times before marking it a no-show.")
        else:
            message = _("That cannot be done to this number now.")
        raise BookingError("refused", message)
    await calls_changed(redis)
    log.info(f"ticket_{event}_success", ticket_id=ticket_id, counter_id=counter.id)
    return sms


# ---------------------------------------------------------------- waits


async def average_service_minutes(centre_id: int, group: str, day: date, default: int) -> float:
    """Today's mean time from call to served for the group; ``default`` before the first."""
    rows = await Ticket.select(Ticket.called_at, Ticket.finished_at).where(
        Ticket.centre == centre_id,
        Ticket.day == day,
        Ticket.group == group,
        Ticket.state == TicketState.SERVED,
    )
    spans = [
        (row["finished_at"] - row["called_at"]).total_seconds() / 60
        for row in rows
        if row["called_at"] and row["finished_at"]
    ]
    return sum(spans) / len(spans) if spans else float(default)


async def centre_counters(redis: Redis, centre_id: int) -> tuple[Counter, ...]:
    """The centre's counters from the centres kept in memory (slots.CACHE); from the database
    for a centre no longer active, whose tickets of the day still show."""
    kept = (await slots.shown(redis)).counters.get(centre_id)
    return kept if kept is not None else tuple(await slots.counters_of(centre_id))


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a waiting ticket stands: people before it and the estimated wait."""

    ahead: int
    minutes: int


async def standing(
    redis: Redis, ticket: Ticket, default_minutes: int, *, at: datetime | None = None
) -> Standing:
    at = at or utcnow()
    queue = await waiting(int(ticket.centre), [ticket.group], at)
    ahead = next((n for n, row in enumerate(queue) if row["id"] == ticket.id), len(queue))
    counters = sum(
        1
        for counter in await centre_counters(redis, int(ticket.centre))
        if ticket.group in counter.groups
    )
    average = await CALLS.get(
        redis,
        f"average:{ticket.centre}:{ticket.group}:{ticket.day.isoformat()}:{default_minutes}",
        lambda: average_service_minutes(
            int(ticket.centre), ticket.group, ticket.day, default_minutes
        ),
    )
    return Standing(ahead=ahead, minutes=math.ceil((ahead + 1) * average / max(1, counters)))


class Called(NamedTuple):
    number: str  # "A023"
    counter: int


async def called_numbers(centre_id: int, day: date, limit: int = 12) -> tuple[Called, ...]:
    """What the hall display shows: the latest numbers called, with their counter; no names."""
    rows = (
        await Ticket.select(
            Ticket.prefix,
            Ticket.number,
            Ticket.counter.number.as_alias("counter"),
            Ticket.called_at,
        )
        .where(
            Ticket.centre == centre_id,
            Ticket.day == day,
            Ticket.state == TicketState.CALLED,
        )
        .order_by(Ticket.called_at, ascending=False)
        .limit(limit)
    )
    return tuple(Called(label(row["prefix"], row["number"]), row["counter"]) for row in rows)


# Bounded staleness should a change go unannounced; announced ones show within a second.
CALLS = VersionedCache("appointments-calls", max_age=30.0)


async def hall_numbers(redis: Redis, centre_id: int, day: date) -> tuple[Called, ...]:
    """``called_numbers`` from this process's memory while no call was announced."""
    return await CALLS.get(
        redis, f"hall:{centre_id}:{day.isoformat()}", lambda: called_numbers(centre_id, day)
    )


async def calls_changed(redis: Redis) -> None:
    """Call after committing a call, recall, served or no-show: hall displays and estimated
    waits move on."""
    await CALLS.invalidate(redis)


@dataclass(frozen=True, slots=True)
class WaitRow:
    id: int
    number: str
    group: str
    name: str
    booked: bool
    minutes: int
    long: bool


async def wait_board(
    centre_id: int, long_minutes: int, *, at: datetime | None = None
) -> tuple[list[WaitRow], dict[str, float]]:
    """For floor managers: every waiting ticket with its wait so far (longest first), and the
    average wait (issue to call) per group today."""
    at = at or utcnow()
    day = slots.today(at)
    group_codes = list(await slots.groups())
    rows = await waiting(centre_id, group_codes, at)
    board = []
    for row in rows:
        minutes = int((at - row["issued_at"]).total_seconds() // 60)
        board.append(
            WaitRow(
                id=int(row["id"]),
                number=label(row["prefix"], row["number"]),
                group=row["group"],
                name=row["name"] or "",
                booked=row["booking"] is not None,
                minutes=minutes,
                long=minutes >= long_minutes,
            )
        )
    board.sort(key=lambda row: -row.minutes)
    called = await Ticket.select(Ticket.group, Ticket.issued_at, Ticket.called_at).where(
        Ticket.centre == centre_id,
        Ticket.day == day,
        Ticket.called_at.is_not_null(),
    )
    spans: dict[str, list[float]] = {}
    for row in called:
        spans.setdefault(row["group"], []).append(
            (row["called_at"] - row["issued_at"]).total_seconds() / 60
        )
    averages = {group: sum(values) / len(values) for group, values in spans.items()}
    return board, averages


async def ticket_of_booking(booking_id: int) -> Ticket | None:
    return await Ticket.objects().where(Ticket.booking == booking_id).first()


async def account_of(ticket: Ticket) -> Account | None:
    if ticket.account is None:
        return None
    return await Account.objects().where(Account.id == ticket.account).first()
