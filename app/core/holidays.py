"""Public holidays (法定节假日) and the weekend days worked to make up for them (调休上班).

Two sources; for each date the first that knows it answers:

1. ``TONGBAN_HOLIDAYS_FILE`` (TOML, read once with the settings: app/core/holidays_file.py):
   the State Council's arrangement for a year ``chinese_calendar`` does not know yet. The notice
   (国务院办公厅关于XXXX年部分节假日安排的通知) comes out in November or December, often
   before a new release of the package; without it, deadlines cannot be computed and centres
   have no opening days in the new year. The operator types the notice in and restarts
   (docs/operations.md). A year that is a table of the file is known from then on: its days
   are working days Monday to Friday unless listed as a holiday, weekend days unless listed
   as a make-up working day. Its dates may also correct a year the package knows.
2. ``chinese_calendar``.

A year neither knows raises ``CalendarUnknown``: no guessed deadline, no guessed opening day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import chinese_calendar

from app.config import get_settings
from app.core.holidays_file import Arrangement
from app.core.i18n import _


class CalendarUnknown(LookupError):
    """A date in a year whose holidays neither the holidays file nor chinese_calendar knows."""

    def __init__(self, day: date) -> None:
        self.day = day
        super().__init__(
            _(
                "The working-day calendar does not know the year %(year)s yet; "
                "no deadline can be computed for %(day)s.",
                year=day.year,
                day=day.isoformat(),
            )
        )


@dataclass(frozen=True, slots=True)
class Day:
    workday: bool
    holiday: str | None  # the festival, on a day off for it; None on any other day


@lru_cache(maxsize=4)
def _index(found: Arrangement) -> tuple[frozenset[int], dict[date, str], frozenset[date]]:
    return found.years, dict(found.holidays), found.workdays


def day(when: date) -> Day:
    return lookup(get_settings().holidays, when)


def lookup(arrangement: Arrangement, when: date) -> Day:
    """``when`` by the holidays file's ``arrangement``, else by chinese_calendar."""
    years, holidays, workdays = _index(arrangement)
    if when in holidays:
        return Day(False, holidays[when])
    if when in workdays:
        return Day(True, None)
    if when.year in years:
        return Day(when.weekday() < 5, None)
    try:
        # (day off, festival): a day off is a holiday's or a weekend's; is_workday is its negation.
        off, name = chinese_calendar.get_holiday_detail(when)
    except NotImplementedError as exc:  # chinese_calendar's answer for a year it does not know
        raise CalendarUnknown(when) from exc
    return Day(not off, name if off else None)


def is_workday(when: date) -> bool:
    return day(when).workday


def last_known_year() -> int:
    """The last year of the unbroken run of known years from chinese_calendar's first."""
    years = get_settings().holidays.years
    year = max(chinese_calendar.holidays).year
    while year + 1 in years:
        year += 1
    return year
