"""The officer's inbox (待办): the cases of one department, newest first, a page at a time.

Pages are keyset pages on ``Case.id`` (``after`` = the last id of the previous page), never
OFFSET: with an index on (department, id) or (department, state, id) (migration
applications_2026_11_24t19_37_30) every page is one index range scan, however deep the
officer pages. bench/inbox.py calls ``inbox`` on a million cases: keep its signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from piccolo.query import Select

from app.applications import service
from app.applications.machine import DECIDED
from app.applications.tables import Case, Mode, State
from app.applications.workdays import working_days_between
from app.core.holidays import CalendarUnknown
from app.core.i18n import _

# Officers never see drafts: a draft is the applicant's alone until it is submitted.
OFFICER_STATES = tuple(state for state in State if state is not State.DRAFT)
DUE_FILTERS = ("soon", "overdue")
MAX_LIMIT = 100


class InboxFilterError(ValueError):
    """A filter value the inbox does not know; ``message`` is localised."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class InboxRow:
    case_id: int
    code: str  # displayed form, 2026-ABCD-2345
    title_zh: str
    title_en: str
    state: str
    mode: str
    promised_due: date | None
    legal_due: date | None
    days_left: int | None  # working days to the promised date; None while paused or unknown
    calendar_unknown: bool
    owed: int
    obligation_overdue: bool
    submitted_at: datetime | None

    @property
    def countdown(self) -> str:
        return countdown(self.state, self.calendar_unknown, self.days_left)


@dataclass(frozen=True, slots=True)
class InboxPage:
    rows: list[InboxRow]
    next_after: int | None  # pass as ``after`` for the next page; None on the last page


def countdown(state: str, calendar_unknown: bool, days_left: int | None) -> str:
    """What a case's countdown shows: "left", "overdue", "paused" (waiting for the applicant's
    correction), "unknown" (beyond the calendar) or "" (not running: not accepted, decided)."""
    if state in DECIDED or state == State.WITHDRAWN:
        return ""
    if state == State.CORRECTION:
        return "paused"
    if calendar_unknown:
        return "unknown"
    if days_left is None:
        return ""
    return "overdue" if days_left < 0 else "left"


def days_left(promised_due: date | None, today: date) -> int | None:
    if promised_due is None:
        return None
    try:
        return working_days_between(today, promised_due)
    except CalendarUnknown:
        return None


def _row(raw: dict[str, Any], today: date) -> InboxRow:
    unknown = bool(raw["calendar_unknown"])
    return InboxRow(
        case_id=int(raw["id"]),
        code=service.display_code(raw["code"]),
        title_zh=raw["title_zh"],
        title_en=raw["title_en"],
        state=raw["state"],
        mode=raw["mode"],
        promised_due=raw["promised_due"],
        legal_due=raw["legal_due"],
        # Decided cases show no countdown: none is computed for them.
        days_left=None
        if unknown or not countdown(raw["state"], False, 0)
        else days_left(raw["promised_due"], today),
        calendar_unknown=unknown,
        owed=int(raw["owed"]),
        obligation_overdue=bool(raw["obligation_overdue"]),
        submitted_at=raw["submitted_at"],
    )


def check_filters(state: str, mode: str, due: str) -> None:
    """Refuse filter values the inbox does not offer (a draft state among them)."""
    if state and state not in OFFICER_STATES:
        raise InboxFilterError(_("There is no such state to filter by."))
    if mode and mode not in set(Mode):
        raise InboxFilterError(_("There is no such acceptance mode to filter by."))
    if due and due not in DUE_FILTERS:
        raise InboxFilterError(_("There is no such deadline filter."))


def inbox_query(
    department_id: int,
    *,
    state: str = "",
    mode: str = "",
    due: str = "",
    owed: bool = False,
    after: int | None = None,
    limit: int = 20,
) -> Select:
    """The page's one query (join included); ``limit`` rows plus one."""
    check_filters(state, mode, due)
    limit = max(1, min(limit, MAX_LIMIT))
    application = Case.application
    query = Case.select(
        Case.id,
        Case.title_zh,
        Case.title_en,
        Case.state,
        Case.mode,
        Case.promised_due,
        Case.legal_due,
        Case.calendar_unknown,
        Case.owed,
        Case.obligation_overdue,
        application.code.as_alias("code"),
        application.submitted_at.as_alias("submitted_at"),
    ).where(Case.department == department_id)
    # An equality on state keeps the scan on (department, state, id); the default view walks
    # (department, id) and skips the drafts it meets.
    query = query.where(Case.state == state) if state else query.where(Case.state != State.DRAFT)
    if mode:
        query = query.where(Case.mode == mode)
    if due == "soon":
        query = query.where(Case.due_soon.eq(True))
    elif due == "overdue":
        query = query.where(Case.overdue.eq(True))
    if owed:
        query = query.where(Case.owed > 0)
    if after is not None:
        query = query.where(Case.id < after)
    # One more than a page tells whether another page follows, without a count.
    return query.order_by(Case.id, ascending=False).limit(limit + 1)


async def inbox(
    department_id: int,
    *,
    state: str = "",
    mode: str = "",
    due: str = "",
    owed: bool = False,
    after: int | None = None,
    limit: int = 20,
) -> InboxPage:
    """One page of the department's cases, newest first, in one query."""
    limit = max(1, min(limit, MAX_LIMIT))
    rows = await inbox_query(
        department_id, state=state, mode=mode, due=due, owed=owed, after=after, limit=limit
    )
    today = service.today()
    page = [_row(raw, today) for raw in rows[:limit]]
    more = len(rows) > limit
    return InboxPage(page, page[-1].case_id if more and page else None)
