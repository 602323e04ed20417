"""The holidays file (app/core/holidays.py): a year's arrangement typed in from the State
Council's notice makes that year known, overrides chinese_calendar where they differ, and a
mistyped file stops the start with a message that says where."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import chinese_calendar
import pytest

from app.config import ConfigError, get_settings, load_settings
from app.core import holidays
from app.core.holidays import CalendarUnknown, Day
from app.core.holidays_file import EMPTY, read

FUTURE = 2090  # a year neither chinese_calendar nor the suite's own file knows

NOTICE = f"""
# The shape of a notice: a break over a weekend, and a Sunday worked instead.
[{FUTURE}]
holidays = [
  {{ from = {FUTURE}-10-01, to = {FUTURE}-10-07, name = "National Day" }},
  {{ from = {FUTURE}-01-01, to = {FUTURE}-01-01, name = "New Year's Day" }},
]
workdays = [{FUTURE}-10-08]
"""


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_typed_in_year_is_known_with_its_breaks_and_make_up_days(tmp_path: Path) -> None:
    arrangement = read(_file(tmp_path, NOTICE))
    assert arrangement.years == frozenset({FUTURE})
    assert holidays.lookup(arrangement, date(FUTURE, 10, 1)) == Day(False, "National Day")
    assert holidays.lookup(arrangement, date(FUTURE, 10, 7)) == Day(False, "National Day")
    assert holidays.lookup(arrangement, date(FUTURE, 10, 8)) == Day(True, None)  # listed Sunday
    assert holidays.lookup(arrangement, date(FUTURE, 10, 9)) == Day(True, None)  # Monday
    assert holidays.lookup(arrangement, date(FUTURE, 10, 14)) == Day(False, None)  # Saturday
    assert holidays.lookup(arrangement, date(FUTURE, 1, 1)) == Day(False, "New Year's Day")
    with pytest.raises(CalendarUnknown):  # the file names the years it knows, no more
        holidays.lookup(arrangement, date(FUTURE + 1, 3, 1))


def test_without_a_file_the_package_answers_and_its_unknown_years_are_not_guessed() -> None:
    national_day = date(2025, 10, 1)
    assert holidays.lookup(EMPTY, national_day) == Day(False, "National Day")
    assert chinese_calendar.is_holiday(national_day)
    assert holidays.lookup(EMPTY, date(2025, 9, 28)) == Day(True, None)  # a Sunday worked
    assert holidays.lookup(EMPTY, date(2025, 10, 13)) == Day(True, None)
    with pytest.raises(CalendarUnknown):
        holidays.lookup(EMPTY, date(FUTURE, 3, 1))


def test_the_file_corrects_a_year_the_package_knows(tmp_path: Path) -> None:
    text = (
        "[2025]\n"
        'holidays = [{ from = 2025-10-13, to = 2025-10-13, name = "Typhoon" }]\n'
        "workdays = [2025-10-04]\n"
    )
    arrangement = read(_file(tmp_path, text))
    assert holidays.lookup(arrangement, date(2025, 10, 13)) == Day(False, "Typhoon")
    assert holidays.lookup(arrangement, date(2025, 10, 4)).workday
    # A year in the file is the file's whole year: the package's breaks no longer apply.
    assert holidays.lookup(arrangement, date(2025, 10, 1)) == Day(True, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[2090\n", "holidays.toml"),
        ("[next]\n", "[next] is not a year's table"),
        ("[2090]\nbreaks = []\n", "unknown keys ['breaks']"),
        ("[2090]\nholidays = [{ from = 2090-10-01, name = 'x' }]\n", "each holiday is"),
        ("[2090]\nholidays = [{ from = '2090-10-01', to = 2090-10-02, name = 'x' }]\n", "each"),
        ("[2090]\nholidays = [{ from = 2090-10-05, to = 2090-10-01, name = 'x' }]\n", "break"),
        ("[2090]\nholidays = [{ from = 2090-01-01, to = 2090-03-01, name = 'x' }]\n", "break"),
        ("[2090]\nworkdays = ['2090-10-08']\n", "workdays must be dates"),
        (
            "[2090]\nholidays = [{ from = 2090-10-01, to = 2090-10-02, name = 'x' }]\n"
            "workdays = [2090-10-02]\n",
            "2090-10-02 is both a holiday and a working day",
        ),
    ],
)
def test_a_mistyped_file_stops_the_start_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, says: str
) -> None:
    monkeypatch.setenv("TONGBAN_HOLIDAYS_FILE", str(_file(tmp_path, text)))
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert str(refused.value).startswith("TONGBAN_HOLIDAYS_FILE: ") and says in str(refused.value)


def test_a_missing_file_stops_the_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TONGBAN_HOLIDAYS_FILE", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"absent\.toml"):
        load_settings()


def test_the_suite_knows_the_years_its_dates_reach() -> None:
    """tests/conftest.py declares plain years up to two after this one."""
    assert holidays.last_known_year() >= date.today().year + 2
    assert get_settings().holidays.years
    march = date(holidays.last_known_year(), 3, 1)
    assert holidays.day(march) == Day(march.weekday() < 5, None)
    with pytest.raises(CalendarUnknown):
        holidays.day(date(holidays.last_known_year() + 1, 3, 1))
