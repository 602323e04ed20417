"""Working-day deadlines across Spring Festival and National Day, with make-up working days
and a paused clock (app/applications/workdays.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import chinese_calendar
import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.applications.workdays import (
    Clock,
    ClockError,
    Pause,
    add_working_days,
    is_working_day,
    working_days_between,
)
from app.core import holidays
from app.core.holidays import CalendarUnknown
from app.core.i18n import current_locale


@pytest.fixture
def english() -> Iterator[None]:
    """Messages in English, whatever locale an earlier test left behind."""
    token = current_locale.set("en")
    yield
    current_locale.reset(token)


def arrangement(year: int, holiday: chinese_calendar.Holiday) -> tuple[list[date], list[date]]:
    """The library's own days off and make-up working days of one holiday in one year."""
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    days = [d for d in days if d.year == year]
    off = [d for d in days if chinese_calendar.get_holiday_detail(d) == (True, holiday.value)]
    worked = [d for d in days if chinese_calendar.get_holiday_detail(d) == (False, holiday.value)]
    return off, worked


@pytest.mark.parametrize(
    ("year", "holiday"),
    [
        (2025, chinese_calendar.Holiday.spring_festival),
        (2026, chinese_calendar.Holiday.spring_festival),
        (2025, chinese_calendar.Holiday.national_day),
        (2026, chinese_calendar.Holiday.national_day),
    ],
)
def test_holidays_are_off_and_make_up_weekend_days_are_working_days(
    year: int, holiday: chinese_calendar.Holiday
) -> None:
    off, worked = arrangement(year, holiday)
    assert len(off) >= 7 and worked
    assert not any(is_working_day(d) for d in off)
    assert all(d.weekday() >= 5 and is_working_day(d) for d in worked)


def test_well_known_2025_and_2026_arrangements() -> None:
    # Spring Festival 2025: off 28 Jan – 4 Feb; Sunday 26 Jan and Saturday 8 Feb worked.
    assert date(2025, 1, 26).weekday() == 6 and is_working_day(date(2025, 1, 26))
    assert date(2025, 2, 8).weekday() == 5 and is_working_day(date(2025, 2, 8))
    assert not any(is_working_day(date(2025, 1, 28) + timedelta(days=i)) for i in range(8))
    # National Day and Mid-Autumn 2025: off 1–8 Oct; Sunday 28 Sep and Saturday 11 Oct worked.
    assert not any(is_working_day(date(2025, 10, d)) for d in range(1, 9))
    assert date(2025, 9, 28).weekday() == 6 and is_working_day(date(2025, 9, 28))
    assert date(2025, 10, 11).weekday() == 5 and is_working_day(date(2025, 10, 11))
    # Spring Festival 2026: off 15–23 Feb; Saturdays 14 and 28 Feb worked.
    assert not any(is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert is_working_day(date(2026, 2, 14)) and is_working_day(date(2026, 2, 28))
    # An ordinary weekend is not a working day.
    assert not is_working_day(date(2025, 3, 8)) and not is_working_day(date(2025, 3, 9))


def test_counting_starts_the_next_working_day_after_acceptance() -> None:
    # Accepted Friday 24 Jan 2025: day 1 is the make-up Sunday 26 Jan, day 2 Monday 27 Jan,
    # then eight days off; day 3 is Wednesday 5 Feb, day 5 the make-up Saturday 8 Feb.
    start = date(2025, 1, 24)
    assert [add_working_days(start, n) for n in range(1, 7)] == [
        date(2025, 1, 26),
        date(2025, 1, 27),
        date(2025, 2, 5),
        date(2025, 2, 6),
        date(2025, 2, 7),
        date(2025, 2, 8),
    ]
    # Accepted on a holiday: counting still starts at the next working day.
    assert add_working_days(date(2025, 10, 3), 1) == date(2025, 10, 9)


def test_twenty_working_days_across_national_day_2025() -> None:
    # 30 Sep 2025 accepted; October has 8 days off and the make-up Saturday 11 Oct.
    due = add_working_days(date(2025, 9, 30), 20)
    assert due == date(2025, 11, 4)
    assert working_days_between(date(2025, 9, 30), due) == 20
    # Plain calendar arithmetic would have said 28 Oct: the holiday costs a week.
    assert due - date(2025, 9, 30) == timedelta(days=35)


def test_working_days_between_is_signed() -> None:
    assert working_days_between(date(2025, 9, 26), date(2025, 10, 10)) == 5
    assert working_days_between(date(2025, 10, 10), date(2025, 9, 26)) == -5
    assert working_days_between(date(2025, 10, 1), date(2025, 10, 8)) == 0


def test_a_clock_runs_over_the_make_up_days() -> None:
    clock = Clock(started_on=date(2025, 9, 26), budget=5)
    # 28 Sep (Sunday, worked), 29, 30 Sep, [1–8 Oct off], 9, 10 Oct.
    assert clock.due_date() == date(2025, 10, 10)
    assert clock.remaining(date(2025, 9, 26)) == 5
    assert clock.remaining(date(2025, 10, 5)) == 2
    assert clock.remaining(date(2025, 10, 10)) == 0
    assert clock.remaining(date(2025, 10, 13)) == -2  # 11 Oct (Saturday) was worked


def test_a_pause_across_national_day_stops_and_resumes_the_clock() -> None:
    clock = Clock(started_on=date(2025, 9, 26), budget=5).pause(date(2025, 9, 29))
    # Paused with three days left: no due date, and the countdown stands still over the
    # holiday and for as long as the applicant takes.
    assert clock.is_paused and clock.due_date() is None
    assert clock.remaining(date(2025, 9, 29)) == 3
    assert clock.remaining(date(2025, 10, 31)) == 3
    resumed = clock.resume(date(2025, 10, 9))
    # 30 Sep and 9 Oct are inside the pause; counting resumes 10 Oct, then the make-up
    # Saturday 11 Oct, then Monday 13 Oct.
    assert resumed.due_date() == date(2025, 10, 13)
    assert resumed.remaining(date(2025, 10, 10)) == 2
    assert resumed.remaining(date(2025, 10, 13)) == 0
    unpaused = Clock(started_on=date(2025, 9, 26), budget=5)
    assert unpaused.due_date() == date(2025, 10, 10)


def test_a_pause_across_spring_festival_2026() -> None:
    clock = Clock(started_on=date(2026, 2, 9), budget=10)  # a Monday
    assert clock.due_date() == add_working_days(date(2026, 2, 9), 10)
    paused = clock.pause(date(2026, 2, 12)).resume(date(2026, 2, 25))
    # Counted before: 10, 11, 12 Feb (3). Inside the pause: 13, 14 (make-up Saturday),
    # 24, 25 Feb. Then 26, 27, 28 (make-up Saturday), 2, 3, 4, 5 Mar.
    assert paused.due_date() == date(2026, 3, 5)
    assert paused.due_date() == add_working_days(clock.due_date() or date.min, 4)


def test_a_pause_after_the_budget_ran_out_keeps_the_due_date() -> None:
    clock = Clock(started_on=date(2025, 9, 26), budget=5).pause(date(2025, 10, 20))
    assert clock.due_date() == date(2025, 10, 10)
    assert clock.remaining(date(2025, 11, 30)) == clock.remaining(date(2025, 10, 20)) < 0


def test_several_pauses_add_up() -> None:
    clock = (
        Clock(started_on=date(2025, 3, 3), budget=5)  # Monday
        .pause(date(2025, 3, 4))
        .resume(date(2025, 3, 5))  # 5 Mar not counted
        .pause(date(2025, 3, 6))
        .resume(date(2025, 3, 10))  # 7 and 10 Mar not counted
    )
    # Counted: 4, 6, 11, 12, 13 Mar.
    assert clock.due_date() == date(2025, 3, 13)


def test_clock_refuses_double_pause_and_resume_without_pause(english: None) -> None:
    clock = Clock(started_on=date(2025, 3, 3), budget=5)
    with pytest.raises(ClockError, match="not paused"):
        clock.resume(date(2025, 3, 4))
    paused = clock.pause(date(2025, 3, 4))
    with pytest.raises(ClockError, match="already paused"):
        paused.pause(date(2025, 3, 5))
    with pytest.raises(ClockError, match="before it starts"):
        paused.resume(date(2025, 3, 3))
    with pytest.raises(ClockError, match="before the clock"):
        clock.pause(date(2025, 3, 1))
    with pytest.raises(ClockError, match="at least one"):
        Clock(started_on=date(2025, 3, 3), budget=0)


def test_clock_round_trips_as_json() -> None:
    clock = Clock(started_on=date(2025, 9, 26), budget=5).pause(date(2025, 9, 29))
    data = msgspec.json.encode(clock)
    assert msgspec.json.decode(data, type=Clock) == clock
    assert clock.pauses == (Pause(date(2025, 9, 29)),)
    # A stored clock that breaks the rules is refused on the way in.
    bad = (
        b'{"started_on":"2025-09-26","budget":5,"pauses":[["2025-09-29",null],["2025-10-09",null]]}'
    )
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(bad, type=Clock)


def test_unknown_years_raise_calendar_unknown(english: None) -> None:
    last_known = holidays.last_known_year()
    beyond = date(last_known + 1, 1, 5)
    with pytest.raises(CalendarUnknown) as raised:
        is_working_day(beyond)
    assert str(raised.value) == (
        f"The working-day calendar does not know the year {last_known + 1} yet; "
        f"no deadline can be computed for {beyond.isoformat()}."
    )
    assert raised.value.day == beyond
    # A deadline that runs into the unknown year fails too, rather than guessing.
    with pytest.raises(CalendarUnknown):
        add_working_days(date(last_known, 12, 20), 30)
    with pytest.raises(CalendarUnknown):
        is_working_day(date(2003, 6, 2))


def test_add_working_days_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        add_working_days(date(2025, 3, 3), 0)


KNOWN_DAYS = st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 6, 30))
BUDGETS = st.integers(min_value=1, max_value=60)


@given(start=KNOWN_DAYS, n=BUDGETS)
def test_the_due_date_is_a_working_day_after_the_start(start: date, n: int) -> None:
    due = add_working_days(start, n)
    assert is_working_day(due) and due > start


@given(start=KNOWN_DAYS, n=BUDGETS)
def test_due_dates_grow_with_the_budget(start: date, n: int) -> None:
    assert add_working_days(start, n) < add_working_days(start, n + 1)


@given(start=KNOWN_DAYS, n=BUDGETS)
def test_working_days_between_inverts_add_working_days(start: date, n: int) -> None:
    assert working_days_between(start, add_working_days(start, n)) == n


@given(start=KNOWN_DAYS, n=BUDGETS, pause_after=st.integers(0, 40), length=st.integers(0, 40))
def test_a_closed_pause_moves_the_due_date_by_the_working_days_inside_it(
    start: date, n: int, pause_after: int, length: int
) -> None:
    paused_on = start + timedelta(days=pause_after)
    resumed_on = paused_on + timedelta(days=length)
    clock = Clock(started_on=start, budget=n).pause(paused_on).resume(resumed_on)
    due = clock.due_date()
    assert due is not None and is_working_day(due)
    plain = add_working_days(start, n)
    if paused_on >= plain:
        assert due == plain
    else:
        inside = working_days_between(paused_on, resumed_on)
        assert working_days_between(start, due) == n + inside
        assert clock.remaining(due) == 0


@given(
    st.dates(min_value=date(2004, 1, 1), max_value=date(2026, 12, 31)),
    st.integers(min_value=-400, max_value=400),
)
def test_counting_from_the_year_tables_matches_walking_day_by_day(start: date, span: int) -> None:
    end = start + timedelta(days=span)
    if not date(2004, 1, 1) <= end <= date(2026, 12, 31):
        return
    low, high = min(start, end), max(start, end)
    walked = sum(
        1 for n in range(1, (high - low).days + 1) if is_working_day(low + timedelta(days=n))
    )
    assert working_days_between(start, end) == (walked if end >= start else -walked)
