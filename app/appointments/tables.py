"""Tables of appointments and queue numbers (预约与取号, docs/appointments.md): service groups,
centres and their counters (综合窗口), slots with their capacity, bookings, and queue tickets
with the per-day number sequences they are drawn from.

Two rules are kept by the database itself, not by a check in Python:
- a slot is never overbooked: ``Slot.taken`` only grows through one conditional UPDATE
  (``taken < capacity``), see app/appointments/service.py;
- one active booking per person per centre per day: ``Booking.active_key`` is unique and
  holds ``account:centre:day`` while the booking is held, confirmed or checked in, NULL after
  (NULLs never collide in a unique index, on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

from enum import StrEnum

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account
from app.applications.tables import Application


class ServiceGroup(Table, tablename="appointments_service_group"):
    """What a counter handles (业务类别), named for the departments whose items it takes; its
    letter prefixes the queue numbers (A023)."""

    id = Serial(primary_key=True)

    code = Varchar(length=40, unique=True, help_text="Stable slug, e.g. market.")
    prefix = Varchar(length=2, unique=True, help_text="Letter of its queue numbers, e.g. A.")
    name_zh = Varchar(length=60)
    name_en = Varchar(length=100)
    departments = JSON(default=[], help_text="Catalogue department codes whose items it takes.")
    position = SmallInt(default=0)


class Centre(Table, tablename="appointments_centre"):
    """A service centre (行政服务中心). ``hours`` maps a kind of day (workday, saturday,
    sunday, holiday) to opening periods ``["09:00-12:00", …]``; a public holiday is closed
    unless ``holiday`` is given, a make-up working day (调休上班) keeps workday hours."""

    id = Serial(primary_key=True)

    code = Varchar(length=40, unique=True, help_text="Stable slug, e.g. pudong.")
    name_zh = Varchar(length=100)
    name_en = Varchar(length=150)
    district_zh = Varchar(length=20)
    district_en = Varchar(length=40)
    address_zh = Varchar(length=200)
    address_en = Varchar(length=300)
    phone = Varchar(length=30, default="")
    hours = JSON(default={}, help_text="Opening periods per kind of day.")
    slot_minutes = SmallInt(default=30, help_text="Length of a bookable slot.")
    per_counter = SmallInt(default=1, help_text="Bookings one counter takes per slot.")
    active = Boolean(default=True)


class Counter(Table, tablename="appointments_counter"):
    """A counter (综合窗口) of a centre and the service groups it handles."""

    id = Serial(primary_key=True)

    centre = ForeignKey(Centre, on_delete=OnDelete.cascade, index=True)
    number = SmallInt(help_text="Shown on the counter and on the hall display.")
    groups = JSON(default=[], help_text="Service group codes it handles.")
    key = Varchar(length=40, unique=True, help_text="centre id:number.")


class Slot(Table, tablename="appointments_slot"):
    """A bookable period of one service group at one centre. ``taken`` counts held and
    confirmed bookings; it grows only by a conditional UPDATE while below ``capacity``."""

    id = Serial(primary_key=True)

    centre = ForeignKey(Centre, on_delete=OnDelete.cascade)
    group = Varchar(length=40)
    day = Date(index=True, help_text="Day in Beijing time.")
    starts_at = Timestamptz()
    ends_at = Timestamptz()
    capacity = SmallInt(help_text="Counters of the group × bookings per counter per slot.")
    taken = SmallInt(default=0, help_text="Held and confirmed bookings.")
    key = Varchar(length=80, unique=True, help_text="centre:group:start, one row per slot.")


class BookingState(StrEnum):
    HELD = "held"  # 保留中: counts against capacity until confirmed or its hold runs out
    CONFIRMED = "confirmed"  # 已预约
    CHECKED_IN = "checked_in"  # 已签到: turned into a queue ticket
    CANCELLED = "cancelled"  # 已取消
    EXPIRED = "expired"  # 保留超时


ACTIVE_BOOKING = (BookingState.HELD, BookingState.CONFIRMED, BookingState.CHECKED_IN)

# A booking's transitions: event -> (from-states, to-state). Every change is one conditional
# UPDATE from the from-states (app/appointments/service.py, queue.py), so two requests can
# never both make the same move.
BOOKING_TRANSITIONS: dict[str, tuple[tuple[BookingState, ...], BookingState]] = {
    "confirm": ((BookingState.HELD,), BookingState.CONFIRMED),  # before hold_until
    "expire": ((BookingState.HELD,), BookingState.EXPIRED),  # hold_until passed, or replaced
    "cancel": ((BookingState.HELD, BookingState.CONFIRMED), BookingState.CANCELLED),
    "reschedule": ((BookingState.CONFIRMED,), BookingState.CONFIRMED),  # another slot
    "check_in": ((BookingState.CONFIRMED,), BookingState.CHECKED_IN),  # becomes a ticket
}


class Booking(Table, tablename="appointments_booking"):
    """A person's booking of a slot, for a service item or an application."""

    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    centre = ForeignKey(Centre, on_delete=OnDelete.cascade)
    slot = ForeignKey(Slot, on_delete=OnDelete.cascade, index=True)
    group = Varchar(length=40)
    day = Date()
    item_code = Varchar(length=60, default="")
    application = ForeignKey(
        Application, null=True, default=None, on_delete=OnDelete.set_null, index=True
    )
    title_zh = Varchar(length=150)
    title_en = Varchar(length=250)
    materials = JSON(default=[], help_text='What to bring: [{"zh": …, "en": …}, …].')
    state = Varchar(length=12, choices=BookingState, default=BookingState.HELD, index=True)
    hold_until = Timestamptz(null=True, default=None, help_text="A hold ends at this moment.")
    active_key = Varchar(
        length=60,
        null=True,
        default=None,
        unique=True,
        help_text="account:centre:day while active, NULL after: one a day per centre.",
    )
    manage_hash = Varchar(
        length=64, default="", index=True, help_text="Keyed hash of the SMS link's token."
    )
    reminded_day = Boolean(default=False, help_text="The day-before SMS was written.")
    reminded_hour = Boolean(default=False, help_text="The hour-before SMS was written.")
    created_at = Timestamptz(default=TimestamptzNow())
    confirmed_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None, help_text="Cancelled or expired at.")


class TicketState(StrEnum):
    WAITING = "waiting"  # 等候中
    CALLED = "called"  # 已叫号
    SERVED = "served"  # 已办结
    NO_SHOW = "no_show"  # 过号


class Ticket(Table, tablename="appointments_ticket"):
    """A queue number (排队号) of one day at one centre, from a booking's check-in or taken
    at the centre (walk-in). Numbers have no daily cap."""

    id = Serial(primary_key=True)

    centre = ForeignKey(Centre, on_delete=OnDelete.cascade)
    day = Date()
    group = Varchar(length=40)
    prefix = Varchar(length=2)
    number = Integer()
    key = Varchar(length=80, unique=True, help_text="centre:day:prefix+number: never two.")
    booking = ForeignKey(Booking, null=True, default=None, unique=True, on_delete=OnDelete.set_null)
    account = ForeignKey(Account, null=True, default=None, on_delete=OnDelete.set_null, index=True)
    slot_start = Timestamptz(null=True, default=None, help_text="Booked tickets: their slot.")
    slot_end = Timestamptz(null=True, default=None)
    state = Varchar(length=10, choices=TicketState, default=TicketState.WAITING)
    calls = SmallInt(default=0)
    counter = ForeignKey(Counter, null=True, default=None, on_delete=OnDelete.set_null)
    issued_at = Timestamptz(default=TimestamptzNow())
    called_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)


class TicketSequence(Table, tablename="appointments_ticket_sequence"):
    """The last number drawn per centre, day and prefix; raised by one UPDATE … RETURNING."""

    id = Serial(primary_key=True)

    key = Varchar(length=60, unique=True, help_text="centre:day:prefix.")
    last = Integer(default=0)
