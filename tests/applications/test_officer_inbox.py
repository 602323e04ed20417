"""The officer's inbox (app/applications/inbox.py): keyset pages that miss nothing and repeat
nothing, newest first, over the service and over HTTP; each filter; drafts never shown; the
countdown of each row; the query uses the inbox indexes."""

from __future__ import annotations

import re
from datetime import date

import pytest

from app.applications import service
from app.applications.inbox import InboxFilterError, inbox, inbox_query
from app.applications.tables import Case, Mode, State
from app.applications.workdays import working_days_between
from app.catalogue.tables import Department
from app.config import get_settings
from app.core import holidays
from app.piccolo_conf import DB
from tests.applications.people import (
    act,
    case_in,
    draft,
    fill,
    officer,
    submit,
    submitted,
    to_review,
)
from tests.applications.test_officer import SEALS, officer_signed_in
from tests.conftest import PageClient

CATERING = {"discharger": frozenset({"catering"})}


async def department_id(code: str) -> int:
    row = await Department.select(Department.id).where(Department.code == code).first()
    assert row is not None
    return int(row["id"])


async def all_ids(department: int, **where: object) -> list[int]:
    """What a walk must find: every non-draft case of the department, newest first."""
    query = Case.select(Case.id).where(Case.department == department, Case.state != State.DRAFT)
    for name, value in where.items():
        query = query.where(getattr(Case, name) == value)
    return [row["id"] for row in await query.order_by(Case.id, ascending=False)]


async def walk(department: int, limit: int, **filters: object) -> list[int]:
    seen: list[int] = []
    after = None
    for _ in range(1000):
        page = await inbox(department, after=after, limit=limit, **filters)  # type: ignore[arg-type]
        assert len(page.rows) <= limit
        seen.extend(row.case_id for row in page.rows)
        if page.next_after is None:
            return seen
        assert page.next_after == page.rows[-1].case_id
        after = page.next_after
    raise AssertionError("the walk did not end")


async def test_keyset_pages_over_45_cases_miss_nothing_and_repeat_nothing() -> None:
    made = [int((await case_in((await submitted())[1], SEALS)).id) for _ in range(45)]
    _someone, unsent = await draft()  # a draft: never in the inbox
    hidden = int((await case_in(unsent, SEALS)).id)
    department = await department_id(SEALS)
    expected = await all_ids(department)
    assert set(made) <= set(expected) and hidden not in expected
    for limit in (20, 7, 1):
        seen = await walk(department, limit)
        assert seen == expected, limit  # newest first, each once, none missed
        assert len(set(seen)) == len(seen)
    submitted_only = await walk(department, 20, state=State.SUBMITTED)
    assert submitted_only == await all_ids(department, state=State.SUBMITTED)


async def test_the_inbox_pages_over_http_with_next_links(client: PageClient) -> None:
    await officer_signed_in(client)
    for _ in range(25):
        await submitted()
    expected = await all_ids(await department_id(SEALS))
    seen: list[int] = []
    url: str | None = "/officer"
    while url:
        page = await client.get(url)
        assert page.status_code == 200
        seen.extend(int(found) for found in re.findall(r'href="/officer/cases/(\d+)"', page.text))
        found_next = re.search(r'href="(/officer\?[^"]*after=\d+[^"]*)" rel="next"', page.text)
        url = found_next.group(1).replace("&amp;", "&") if found_next else None
    assert seen == expected


async def test_filters_by_state_mode_deadline_and_owed_materials() -> None:
    me = await officer(SEALS)
    department = await department_id(SEALS)
    _a, first = await submitted()
    reviewing = await case_in(first, SEALS)
    await to_review(me, int(reviewing.id))
    _b, second = await submitted()
    returned = await case_in(second, SEALS)
    await act(me, int(returned.id), "prereview")
    await act(me, int(returned.id), "return", reason="请补正")

    in_review = await inbox(department, state=State.IN_REVIEW, limit=100)
    assert int(reviewing.id) in [row.case_id for row in in_review.rows]
    assert {row.state for row in in_review.rows} == {State.IN_REVIEW}
    complete = await inbox(department, mode=Mode.COMPLETE, limit=100)
    assert int(reviewing.id) in [row.case_id for row in complete.rows]
    assert {row.mode for row in complete.rows} == {Mode.COMPLETE}

    # The deadline flags are kept by the sweeper; the inbox reads them.
    await Case.update({Case.due_soon: True}).where(Case.id == reviewing.id)
    await Case.update({Case.overdue: True}).where(Case.id == returned.id)
    assert await walk(department, 5, due="soon") == await all_ids(department, due_soon=True)
    assert await walk(department, 5, due="overdue") == await all_ids(department, overdue=True)
    assert int(reviewing.id) in await walk(department, 5, due="soon")

    row = next(r for r in in_review.rows if r.case_id == reviewing.id)
    assert row.code == service.display_code(first.code)
    assert row.promised_due is not None and row.legal_due is not None
    assert row.days_left == working_days_between(service.today(), row.promised_due)
    assert row.countdown in ("left", "overdue") and row.submitted_at is not None
    paused = next(
        r
        for r in (await inbox(department, state=State.CORRECTION, limit=100)).rows
        if r.case_id == returned.id
    )
    assert paused.countdown == "paused"

    for wrong in ({"state": "draft"}, {"state": "x"}, {"mode": "x"}, {"due": "tomorrow"}):
        with pytest.raises(InboxFilterError):
            await inbox(department, **wrong)  # type: ignore[arg-type]


async def test_owed_materials_filter_and_an_unknown_calendar() -> None:
    water = await officer("water")
    applicant, application = await draft("drainage-permit", answers=CATERING)
    for entry in await service.entries_of(int(application.id)):
        if entry.code == "grease_trap":
            await service.choose(applicant, application, int(entry.id), "missing")
    application = await fill(applicant, application)
    await submit(applicant, application, "drainage-permit")
    case = await case_in(application, "water")
    # Accepted on the last day of the last year the calendar knows: the due date is beyond it.
    last = date(holidays.last_known_year(), 12, 31)
    await to_review(water, int(case.id), mode=Mode.TOLERATED, on=last)
    department = await department_id("water")
    owed = await walk(department, 3, owed=True)
    assert int(case.id) in owed
    rows = {r.case_id: r for r in (await inbox(department, owed=True, limit=100)).rows}
    assert all(r.owed > 0 for r in rows.values())
    mine = rows[int(case.id)]
    assert (mine.owed, mine.mode) == (1, Mode.TOLERATED)
    assert mine.calendar_unknown and mine.promised_due is None
    assert (mine.days_left, mine.countdown) == (None, "unknown")


async def test_the_page_is_one_query_on_the_inbox_indexes() -> None:
    """A page is an index range scan in id order (no sort, however many cases): SQLite picks
    the index for the filter; PostgreSQL picks by its statistics (bench/inbox.py measures it
    at a million cases), here with sequential scans ruled out, as on a large table."""
    department = await department_id(SEALS)
    for state, index in (
        (State.SUBMITTED, "applications_case_inbox"),
        ("", "applications_case_department_id"),
    ):
        sql = str(inbox_query(department, state=state, after=2**31 - 1))
        if get_settings().is_sqlite:
            rows = await Case.raw(f"EXPLAIN QUERY PLAN {sql}")
            plan = " | ".join(str(row["detail"]) for row in rows)
            assert f"SEARCH applications_case USING INDEX {index} " in plan, plan
        else:
            async with DB.transaction():
                await Case.raw("SET LOCAL enable_seqscan = off")
                rows = await Case.raw(f"EXPLAIN {sql}")
            plan = " | ".join(str(row["QUERY PLAN"]) for row in rows)
            assert re.search(
                r"Index Scan Backward using applications_case_(inbox|department_id) ", plan
            ), plan
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan
