"""Working days (工作日) and the deadline clock of an application (docs/applications.md).

Pure functions over dates, no database. Whether a day is a working day comes from
app/core/holidays.py: the State Council's yearly arrangement of public holidays (法定节假日)
and the weekend days moved to make up for them (调休上班), from ``chinese_calendar`` and the
operator's holidays file. A date in a year neither knows raises ``CalendarUnknown`` instead of
guessing, because a guessed deadline is a wrong one. The remedy is to add the year to the
holidays file once the State Council has published it (usually in November or December), or
to upgrade ``chinese-calendar``.

The counting convention, the one of Chinese promised time limits (承诺时限, 行政许可法 第四十二条
"二十日内作出决定"): the day of acceptance (受理日) does not count; day 1 is the first working day
after it, and the due date is the n-th such working day. A pause (暂停计时, e.g. while the
applicant corrects their materials, 补正) works the same way: the day it starts still counts,
the working days after it up to and including the day it ends do not, and counting resumes on
the next working day, as if the application had been accepted again that day.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from functools import lru_cache

import msgspec

from app.core import holidays
from app.core.i18n import _

ONE_DAY = timedelta(days=1)
ANCHOR_YEAR = 2026  # any year: counts are taken relative to it


class ClockError(ValueError):
    """A pause or resumption that does not fit the clock (double pause, resume while running,
    a date before the previous event)."""


def is_working_day(day: date) -> bool:
    """Monday to Friday unless a public holiday, plus the weekend days made working days."""
    return holidays.is_workday(day)


def working_days_after(start: date) -> Iterator[date]:
    """The working days after ``start`` (``start`` itself excluded), in order, without end."""
    day = start
    while True:
        day += ONE_DAY
        if is_working_day(day):
            yield day


def add_working_days(start: date, n: int) -> date:
    """The due date of ``n`` working days from ``start``: the n-th working day after it."""
    if n < 1:
        raise ValueError("n must be at least 1 working day")
    for count, day in enumerate(working_days_after(start), start=1):
        if count == n:
            return day
    raise AssertionError("unreachable")  # pragma: no cover


def working_days_between(a: date, b: date) -> int:
    """The working days d with a < d <= b; negative (the same count, reversed) when b < a.

    So ``working_days_between(d, add_working_days(d, n)) == n``. Answered from per-year
    tables built once (``_year_counts``), not by walking day by day: an inbox page asks it
    for every row.
    """
    if b < a:
        return -working_days_between(b, a)
    return _counted_through(b) - _counted_through(a)


@lru_cache(maxsize=64)
def _year_counts(year: int) -> tuple[int, ...]:
    """counts[k] = working days from 1 January up to and including day k of ``year``
    (counts[0] = 0). Raises CalendarUnknown for a year the calendar does not know."""
    counts = [0]
    day = date(year, 1, 1)
    while day.year == year:
        counts.append(counts[-1] + is_working_day(day))
        day += ONE_DAY
    return tuple(counts)


def _counted_through(day: date) -> int:
    """Working days from 1 January of ``ANCHOR_YEAR`` up to and including ``day``: only
    differences of two such counts mean anything."""
    before = sum(_year_counts(year)[-1] for year in range(ANCHOR_YEAR, day.year))
    before -= sum(_year_counts(year)[-1] for year in range(day.year, ANCHOR_YEAR))
    return before + _year_counts(day.year)[day.timetuple().tm_yday]


class Pause(msgspec.Struct, frozen=True, array_like=True):
    """The clock stopped after ``paused_on``; ``resumed_on`` None means it still is."""

    paused_on: date
    resumed_on: date | None = None

    def covers(self, day: date) -> bool:
        return self.paused_on < day and (self.resumed_on is None or day <= self.resumed_on)


class Clock(msgspec.Struct, frozen=True):
    """The deadline of one application: ``budget`` working days from ``started_on``, not
    counting the working days inside a pause. A value: ``pause`` and ``resume`` return a new
    clock. Stored as JSON with ``msgspec.json.encode`` / ``decode(..., type=Clock)``."""

    started_on: date
    budget: int
    pauses: tuple[Pause, ...] = ()

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ClockError(_("A deadline needs at least one working day."))
        previous = self.started_on
        for index, pause in enumerate(self.pauses):
            if pause.paused_on < previous:
                raise ClockError(_("A pause cannot start before the clock or the last resumption."))
            if pause.resumed_on is None:
                if index != len(self.pauses) - 1:
                    raise ClockError(_("Only the last pause may still be open."))
            elif pause.resumed_on < pause.paused_on:
                raise ClockError(_("A pause cannot end before it starts."))
            else:
                previous = pause.resumed_on

    @property
    def is_paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].resumed_on is None

    def _counts(self, day: date) -> bool:
        return not any(pause.covers(day) for pause in self.pauses)

    def due_date(self) -> date | None:
        """The day the budget runs out, or None while paused with budget left (no due date
        until the applicant's correction arrives and the clock resumes)."""
        used = 0
        for day in working_days_after(self.started_on):
            if self.is_paused and self.pauses[-1].covers(day):
                return None  # every later day is inside the open pause
            if self._counts(day):
                used += 1
                if used == self.budget:
                    return day
        raise AssertionError("unreachable")  # pragma: no cover

    def used(self, today: date) -> int:
        """Counted working days after ``started_on`` up to and including ``today``."""
        day, count = self.started_on, 0
        while day < today:
            day += ONE_DAY
            if is_working_day(day) and self._counts(day):
                count += 1
        return count

    def remaining(self, today: date) -> int:
        """Working days left on ``today``: 0 on the due date, negative when overdue. Frozen
        while paused."""
        return self.budget - self.used(today)

    def pause(self, on: date) -> Clock:
        if self.is_paused:
            raise ClockError(_("The clock is already paused."))
        return Clock(self.started_on, self.budget, (*self.pauses, Pause(on)))

    def resume(self, on: date) -> Clock:
        if not self.is_paused:
            raise ClockError(_("The clock is not paused."))
        last = self.pauses[-1]
        return Clock(self.started_on, self.budget, (*self.pauses[:-1], Pause(last.paused_on, on)))
