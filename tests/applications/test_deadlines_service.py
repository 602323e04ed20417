"""Due dates the service writes on a case: acceptance on pinned days around Spring Festival and
National Day 2026, the clock paused by a return for correction and resumed by the
resubmission, and a due date beyond the calendar the chinese-calendar package knows.

The 2026 arrangement (State Council, as chinese-calendar 1.11 has it):
- Spring Festival: off Sunday 15 – Monday 23 February; Saturday 14 and Saturday 28 February
  are worked (调休上班).
- Mid-Autumn: off Friday 25 – Sunday 27 September.
- National Day: off Thursday 1 – Wednesday 7 October; Sunday 20 September and Saturday
  10 October are worked.
The day of acceptance does not count; day 1 is the next working day (docs/applications.md).
"""

from __future__ import annotations

from datetime import date

import msgspec
import pytest

from app.accounts.tables import Account
from app.applications import service
from app.applications.tables import Application, Case
from app.applications.workdays import Clock, working_days_between
from app.core import holidays
from tests.applications.people import act, case_in, fresh, guide_of, officer, submitted

# code: (department, promised working days, legal working days) from the catalogue.
ITEMS = {
    "drainage-permit": ("water", 5, 20),
    "seal-engraving": ("public-security", 1, 1),
}


async def accepted_on(code: str, day: date) -> tuple[Account, Application, Case]:
    """A fresh application of ``code``, its case pre-reviewed and accepted on ``day``."""
    department = ITEMS[code][0]
    applicant, application = await submitted(code)
    clerk = await officer(department)
    case = await case_in(application, department)
    await act(clerk, case.id, "prereview", on=day)
    await act(clerk, case.id, "accept", mode="complete", on=day)
    return applicant, application, await case_in(application, department)


def clock(case: Case) -> Clock:
    raw = case.clock if isinstance(case.clock, str) else msgspec.json.encode(case.clock)
    return msgspec.json.decode(raw, type=Clock)


async def test_budgets_of_the_items_used_here() -> None:
    for code, (department, promised, legal) in ITEMS.items():
        item = (await guide_of(code)).items[0]
        assert (item.department, item.promised_days, item.legal_days) == (
            department,
            promised,
            legal,
        )


@pytest.mark.parametrize(
    ("code", "day", "promised_due", "legal_due"),
    [
        # Friday 13 Feb: Sat 14 (worked) is day 1, 15–23 off, 24–27 are days 2–5.
        # Legal 20: Sat 28 (worked) 6, 2–6 Mar 7–11, 9–13 Mar 12–16, 16–19 Mar 17–20.
        ("drainage-permit", date(2026, 2, 13), date(2026, 2, 27), date(2026, 3, 19)),
        # One working day from Friday 13 Feb is the make-up Saturday 14 Feb.
        ("seal-engraving", date(2026, 2, 13), date(2026, 2, 14), date(2026, 2, 14)),
        # Accepted on the make-up Saturday itself: the next working day is Tuesday 24 Feb.
        ("seal-engraving", date(2026, 2, 14), date(2026, 2, 24), date(2026, 2, 24)),
        # Thursday 24 Sep: Mid-Autumn 25–27 off, Monday 28 Sep.
        ("seal-engraving", date(2026, 9, 24), date(2026, 9, 28), date(2026, 9, 28)),
        # Wednesday 30 Sep: 1–7 Oct off, Thu 8 = 1, Fri 9 = 2, Sat 10 (worked) = 3,
        # Sun 11 off, Mon 12 = 4, Tue 13 = 5.
        # Legal 20: 14–16 Oct 6–8, 19–23 Oct 9–13, 26–30 Oct 14–18, 2–3 Nov 19–20.
        ("drainage-permit", date(2026, 9, 30), date(2026, 10, 13), date(2026, 11, 3)),
        # Accepted on a holiday (Saturday 3 Oct): the first working day after is Thu 8 Oct.
        ("seal-engraving", date(2026, 10, 3), date(2026, 10, 8), date(2026, 10, 8)),
    ],
)
async def test_due_dates_at_acceptance_count_working_days_across_the_holidays(
    code: str, day: date, promised_due: date, legal_due: date
) -> None:
    _applicant, _application, case = await accepted_on(code, day)
    assert case.accepted_on == day
    assert (case.promised_due, case.legal_due) == (promised_due, legal_due)
    assert case.calendar_unknown is False
    assert clock(case) == Clock(day, ITEMS[code][1])


async def test_a_correction_pauses_the_clock_and_the_resubmission_resumes_it() -> None:
    # Accepted Monday 21 Sep, 5 working days: 22, 23, 24, (25–27 off) 28, 29 → due Tue 29 Sep.
    # Legal 20 → Mon 26 Oct.
    applicant, application, case = await accepted_on("drainage-permit", date(2026, 9, 21))
    assert (case.promised_due, case.legal_due) == (date(2026, 9, 29), date(2026, 10, 26))
    water = await officer("water")
    await act(water, case.id, "review", on=date(2026, 9, 22))

    # Returned Wednesday 23 Sep: 22 and 23 are used, 3 days left, no due date while paused.
    await act(water, case.id, "return", reason="请补充隔油设施说明", on=date(2026, 9, 23))
    case = await case_in(application, "water")
    assert case.state == "correction"
    assert (case.promised_due, case.legal_due) == (None, None)
    paused = clock(case)
    assert paused.is_paused
    assert paused.remaining(date(2026, 9, 30)) == paused.remaining(date(2026, 10, 9)) == 3

    # Resubmitted Friday 9 Oct. Paused working days (after 23 Sep up to 9 Oct): 24, 28, 29,
    # 30 Sep, 8, 9 Oct = 6. Counting resumes Sat 10 Oct (worked) = 3, Mon 12 = 4, Tue 13 = 5.
    # Legal: 26 Oct + 6 working days (27, 28, 29, 30 Oct, 2, 3 Nov) → Tue 3 Nov.
    application = await fresh(application)
    await service.submit(
        applicant,
        application,
        version=application.version,
        assurance=2,
        items=(await guide_of("drainage-permit")).items,
        on=date(2026, 10, 9),
    )
    case = await case_in(application, "water")
    assert case.state == "resubmitted"
    assert (case.promised_due, case.legal_due) == (date(2026, 10, 13), date(2026, 11, 3))
    assert not clock(case).is_paused
    paused_days = working_days_between(date(2026, 9, 23), date(2026, 10, 9))
    assert paused_days == 6
    assert working_days_between(date(2026, 9, 29), case.promised_due) == paused_days
    assert working_days_between(date(2026, 10, 26), case.legal_due) == paused_days
    # Back in review, the clock runs on from where it stopped.
    await act(water, case.id, "review", on=date(2026, 10, 9))
    case = await case_in(application, "water")
    assert case.promised_due == date(2026, 10, 13)
    assert clock(case).remaining(date(2026, 10, 12)) == 1


async def test_a_due_date_beyond_the_known_calendar_is_left_unknown() -> None:
    # Accepted on 30 December of the last year the calendar knows: the due dates fall in the
    # next, which it does not. No guess, no error.
    last = holidays.last_known_year()
    applicant, application, case = await accepted_on("drainage-permit", date(last, 12, 30))
    assert case.state == "accepted" and case.accepted_on == date(last, 12, 30)
    assert case.calendar_unknown is True
    assert (case.promised_due, case.legal_due) == (None, None)
    # The case goes on: review and a return for correction still work.
    water = await officer("water")
    await act(water, case.id, "review", on=date(last, 12, 31))
    moved = await act(water, case.id, "return", reason="补充材料", on=date(last, 12, 31))
    assert moved.application.state == "correction"
    # Resubmitted in the unknown year: the clock resumes, the due dates stay unknown.
    application = await fresh(application)
    await service.submit(
        applicant,
        application,
        version=application.version,
        assurance=2,
        items=(await guide_of("drainage-permit")).items,
        on=date(last + 1, 1, 4),
    )
    case = await case_in(application, "water")
    assert (case.state, case.calendar_unknown, case.promised_due) == ("resubmitted", True, None)
    assert not clock(case).is_paused
