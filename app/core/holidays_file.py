"""The holidays file (``TONGBAN_HOLIDAYS_FILE``): the State Council's holiday arrangement for
years ``chinese_calendar`` does not know yet, read and checked once with the settings, so a
mistyped file stops the start with a message rather than a deadline later. What the
arrangement means is in app/core/holidays.py; the format:

    # 国务院办公厅关于2027年部分节假日安排的通知
    [2027]
    holidays = [
      { from = 2027-10-01, to = 2027-10-07, name = "National Day" },
    ]
    workdays = [2027-09-26, 2027-10-09]  # weekend days worked instead (调休上班)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

MAX_BREAK_DAYS = 15  # the longest break on record is 9 days; more is a typing error


class HolidaysFileError(ValueError):
    """The holidays file cannot be read as an arrangement; the message says where."""


@dataclass(frozen=True, slots=True)
class Arrangement:
    """What a holidays file says: its years, and its holidays and make-up working days."""

    years: frozenset[int]
    holidays: tuple[tuple[date, str], ...]
    workdays: frozenset[date]


def read(path: Path) -> Arrangement:
    """Parse and check a holidays file; HolidaysFileError says what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise HolidaysFileError(f"{path}: {exc}") from exc
    years: set[int] = set()
    holidays: dict[date, str] = {}
    workdays: set[date] = set()
    for key, table in data.items():
        if not (key.isdigit() and len(key) == 4) or not isinstance(table, dict):
            raise HolidaysFileError(f"{path}: [{key}] is not a year's table, e.g. [2027]")
        unknown = set(table) - {"holidays", "workdays"}
        if unknown:
            raise HolidaysFileError(f"{path}: [{key}] has unknown keys {sorted(unknown)}")
        years.add(int(key))
        for entry in table.get("holidays", []):
            start, end, name = _break(path, key, entry)
            day = start
            while day <= end:
                holidays[day] = name
                day += timedelta(days=1)
        for day in table.get("workdays", []):
            if type(day) is not date:
                raise HolidaysFileError(f"{path}: [{key}] workdays must be dates, e.g. 2027-02-07")
            workdays.add(day)
    both = sorted(set(holidays) & workdays)
    if both:
        raise HolidaysFileError(f"{path}: {both[0]} is both a holiday and a working day")
    return Arrangement(frozenset(years), tuple(sorted(holidays.items())), frozenset(workdays))


def _break(path: Path, key: str, entry: object) -> tuple[date, date, str]:
    example = '{ from = 2027-10-01, to = 2027-10-07, name = "National Day" }'
    if not isinstance(entry, dict) or set(entry) != {"from", "to", "name"}:
        raise HolidaysFileError(f"{path}: [{key}] each holiday is {example}")
    start, end, name = entry["from"], entry["to"], entry["name"]
    if type(start) is not date or type(end) is not date or not isinstance(name, str) or not name:
        raise HolidaysFileError(f"{path}: [{key}] each holiday is {example}")
    if not start <= end < start + timedelta(days=MAX_BREAK_DAYS):
        raise HolidaysFileError(f"{path}: [{key}] the break {start}–{end} is not a holiday break")
    return start, end, name


EMPTY = Arrangement(frozenset(), (), frozenset())
