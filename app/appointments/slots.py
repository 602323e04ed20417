"""Where and when bookings can be made (docs/appointments.md): opening days from the Chinese
calendar, service groups, centres and counters, and the slots made from opening hours × slot
length × counters, with the places left in each.

Slots are created when someone first looks at a day (one EXISTS per centre and day) and by the
nightly job for the whole window; a unique key per centre, group and start makes both safe to
run at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from redis.asyncio import Redis

from app.appointments.tables import Booking, BookingState, Centre, Counter, ServiceGroup, Slot
from app.core import holidays
from app.core.cache import VersionedCache
from app.core.display import LOCAL_ZONE
from app.core.holidays import CalendarUnknown

WINDOW_DAYS = 30  # bookable from now to this many days ahead (The Q: 30)
MAX_ID = 2**31 - 1
DAY_KINDS = ("workday", "saturday", "sunday", "holiday")


def utcnow() -> datetime:
    return datetime.now(UTC)


def today(at: datetime | None = None) -> date:
    return (at or utcnow()).astimezone(LOCAL_ZONE).date()


# ---------------------------------------------------------------- opening days


def day_kind(day: date) -> str:
    """Which opening hours apply: ``holiday`` for a public holiday (法定节假日, including the
    weekend days inside its break), ``workday`` for Monday to Friday and for a weekend day
    made a working day (调休上班), else ``saturday`` or ``sunday``. Raises CalendarUnknown
    for a year the calendar does not know (app/core/holidays.py): no guessed opening days."""
    found = holidays.day(day)
    if found.workday:
        return "workday"
    if found.holiday is not None:
        return "holiday"
    return "saturday" if day.weekday() == 5 else "sunday"


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def periods(hours: dict[str, list[str]], day: date) -> list[tuple[int, int]]:
    """Opening periods of ``day`` in minutes after midnight; [] when closed."""
    found = []
    for period in hours.get(day_kind(day), []):
        start, end = period.split("-")
        found.append((_minutes(start), _minutes(end)))
    return found


def slot_times(hours: dict[str, list[str]], length: int, day: date) -> list[datetime]:
    """Start times of the slots of ``day``: every ``length`` minutes within each period, a
    slot ending by the period's end."""
    midnight = datetime.combine(day, time(0), tzinfo=LOCAL_ZONE)
    starts = []
    for start, end in periods(hours, day):
        minute = start
        while minute + length <= end:
            starts.append((midnight + timedelta(minutes=minute)).astimezone(UTC))
            minute += length
    return starts


def hours_of(place: Centre) -> dict[str, list[str]]:
    """A centre's opening periods (a JSON column, loaded with ``load_json``)."""
    hours = place.hours
    return cast("dict[str, list[str]]", hours if isinstance(hours, dict) else {})


def is_open(hours: dict[str, list[str]], day: date) -> bool | None:
    """True or False; None when the calendar does not know the year."""
    try:
        return bool(periods(hours, day))
    except CalendarUnknown:
        return None


# ---------------------------------------------------------------- groups, centres, counters


@dataclass(frozen=True, slots=True)
class Group:
    code: str
    prefix: str
    name_zh: str
    name_en: str
    departments: tuple[str, ...]


async def groups() -> dict[str, Group]:
    rows = (
        await ServiceGroup.select()
        .order_by(ServiceGroup.position)
        .order_by(ServiceGroup.id)
        .output(load_json=True)
    )
    return {
        row["code"]: Group(
            row["code"], row["prefix"], row["name_zh"], row["name_en"], tuple(row["departments"])
        )
        for row in rows
    }


async def group_of_department(department: str) -> Group | None:
    for group in (await groups()).values():
        if department in group.departments:
            return group
    return None


async def centres() -> list[Centre]:
    return (
        await Centre.objects()
        .where(Centre.active == True)  # noqa: E712
        .order_by(Centre.id)
        .output(load_json=True)
    )


def facts(place: Centre) -> tuple[Any, ...]:
    """Everything a centre's public pages show of it: their page cache's key."""
    hours = json.dumps(hours_of(place), sort_keys=True)
    return (
        place.id,
        place.name_zh,
        place.name_en,
        place.address_zh,
        place.address_en,
        place.phone,
        hours,
    )


@dataclass(frozen=True, slots=True)
class Shown:
    """The active centres, by id each one's ``facts`` (worked out once per load, not on every
    request for a page then served from the page cache) and counters, and the service groups:
    what the public pages and a ticket page polling its place need of them."""

    centres: list[Centre]
    by_id: dict[int, Centre]
    facts: dict[int, tuple[Any, ...]]
    all_facts: tuple[tuple[Any, ...], ...]
    counters: dict[int, tuple[Counter, ...]]
    groups: dict[str, Group]


async def _shown() -> Shown:
    found = await centres()
    by_id = {int(place.id): facts(place) for place in found}
    counters: dict[int, list[Counter]] = {int(place.id): [] for place in found}
    rows = await Counter.objects().order_by(Counter.number).output(load_json=True)
    for counter in rows:
        if int(counter.centre) in counters:
            counters[int(counter.centre)].append(counter)
    return Shown(
        centres=found,
        by_id={int(c.id): c for c in found},
        facts=by_id,
        all_facts=tuple(by_id.values()),
        counters={centre: tuple(mine) for centre, mine in counters.items()},
        groups=await groups(),
    )


# The centres as the public pages show them, kept in each process: they change only with the
# data file (``tongban seed``, before the web starts) and ``centres_changed`` reaches every
# replica (app/core/cache.py), so /centres, a centre's page and its hall display need no query.
# A change made around the app (the admin) shows within the cache's max_age, 5 minutes.
CACHE = VersionedCache("appointments-centres")


async def shown(redis: Redis) -> Shown:
    return await CACHE.get(redis, "centres", _shown)


async def centres_changed(redis: Redis) -> None:
    """Call after committing any change to a centre."""
    await CACHE.invalidate(redis)


async def centre(centre_id: int) -> Centre | None:
    if not 0 < centre_id <= MAX_ID:
        return None
    return (
        await Centre.objects()
        .where(Centre.id == centre_id, Centre.active == True)  # noqa: E712
        .output(load_json=True)
        .first()
    )


async def counters_of(centre_id: int) -> list[Counter]:
    return (
        await Counter.objects()
        .where(Counter.centre == centre_id)
        .order_by(Counter.number)
        .output(load_json=True)
    )


def capacities(place: Centre, counters: list[Counter]) -> dict[str, int]:
    """Places per slot per group: the counters handling the group × bookings per counter."""
    found: dict[str, int] = {}
    for counter in counters:
        for code in counter.groups:
            found[code] = found.get(code, 0) + int(place.per_counter)
    return found


# ---------------------------------------------------------------- slots


def window(on: date | None = None) -> tuple[date, date]:
    first = on or today()
    return first, first + timedelta(days=WINDOW_DAYS - 1)


def first_unknown_day(first: date, last: date) -> date | None:
    """The first day from ``first`` to ``last`` in a year the calendar does not know."""
    day = first
    while day <= last:
        try:
            holidays.day(day)
        except CalendarUnknown:
            return day
        day += timedelta(days=1)
    return None


def slot_key(centre_id: int, group: str, start: datetime) -> str:
    return f"{centre_id}:{group}:{start.strftime('%Y%m%dT%H%M')}"


async def ensure_slots(place: Centre, day: date) -> int:
    """Create the slots of ``day`` that do not exist yet (idempotent); the number created.
    Nothing for a closed day or a year the calendar does not know."""
    try:
        starts = slot_times(hours_of(place), int(place.slot_minutes), day)
    except CalendarUnknown:
        return 0
    if not starts:
        return 0
    per_group = capacities(place, await counters_of(int(place.id)))
    length = timedelta(minutes=int(place.slot_minutes))
    rows = [
        Slot(
            centre=place.id,
            group=group,
            day=day,
            starts_at=start,
            ends_at=start + length,
            capacity=capacity,
            taken=0,
            key=slot_key(int(place.id), group, start),
        )
        for group, capacity in per_group.items()
        for start in starts
    ]
    existing = {
        row["key"]
        for row in await Slot.select(Slot.key).where(Slot.centre == place.id, Slot.day == day)
    }
    missing = [row for row in rows if row.key not in existing]
    if missing:
        await Slot.insert(*missing).on_conflict(action="DO NOTHING")
    return len(missing)


async def ensure_window(place: Centre, on: date | None = None) -> int:
    first, last = window(on)
    made, day = 0, first
    while day <= last:
        made += await ensure_slots(place, day)
        day += timedelta(days=1)
    return made


@dataclass(frozen=True, slots=True)
class Free:
    """One slot as a person or a kiosk sees it."""

    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    free: int


async def _expired_holds(slot_ids: list[int], at: datetime) -> dict[int, int]:
    if not slot_ids:
        return {}
    rows = await Booking.select(Booking.slot, Booking.id).where(
        Booking.slot.is_in(slot_ids),
        Booking.state == BookingState.HELD,
        Booking.hold_until <= at,
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[int(row["slot"])] = counts.get(int(row["slot"]), 0) + 1
    return counts


async def availability(
    place: Centre, day: date, group: str, *, at: datetime | None = None
) -> list[Free]:
    """The slots of ``group`` on ``day`` that have not started, with their free places
    (expired holds nobody reclaimed yet count as free)."""
    at = at or utcnow()
    first, last = window(today(at))
    if not first <= day <= last:
        return []
    if not await Slot.exists().where(Slot.centre == place.id, Slot.day == day):
        await ensure_slots(place, day)  # once per centre and day; the nightly job does the rest
    rows = (
        await Slot.select(Slot.id, Slot.starts_at, Slot.ends_at, Slot.capacity, Slot.taken)
        .where(
            Slot.centre == place.id,
            Slot.day == day,
            Slot.group == group,
            Slot.starts_at > at,
        )
        .order_by(Slot.starts_at)
    )
    expired = await _expired_holds([int(row["id"]) for row in rows], at)
    return [
        Free(
            id=int(row["id"]),
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            capacity=int(row["capacity"]),
            free=max(0, int(row["capacity"]) - int(row["taken"]) + expired.get(int(row["id"]), 0)),
        )
        for row in rows
    ]


async def open_days(place: Centre, on: date | None = None) -> list[tuple[date, bool | None]]:
    """Each day of the booking window, open (True), closed (False) or unknown (None)."""
    first, last = window(on)
    days = []
    day = first
    while day <= last:
        days.append((day, is_open(hours_of(place), day)))
        day += timedelta(days=1)
    return days
