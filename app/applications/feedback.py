"""Feedback on applications: ratings (好差评) and complaints and suggestions (找茬).

    GET/POST /applications/{id}/rating           the applicant rates each decided case once
    GET/POST /feedback                           a citizen writes to a department; their list
    GET  /officer/complaints                     the department's complaints, open first
    GET  /officer/complaints/{id}                one of them
    POST /officer/complaints/{id}/reply          the reply (an SMS tells the citizen)
    GET  /officer/figures                        the department's ratings and complaint figures

A rating belongs to a case, not to an application: a bundle (一件事) is decided by several
departments, and each is rated for its own work (Rating.case is unique), as the State
Council's 好差评 system asks (国办发〔2019〕51号: 一次一评、一事一评).
A complaint is due a reply within the 5 working days this service promises. When the
working-day calendar does not know the year yet, the due date is left empty and the pages say
so, rather than guess.

Ownership is part of each query: another citizen's application, or another department's
complaint, is not found.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_passkey_session, requires_role, requires_signed_in
from app.accounts.tables import Account, Role
from app.applications import service
from app.applications.machine import DECIDED, STATE_LABELS
from app.applications.schemas import ComplaintForm, RatingForm, ReplyForm, as_list
from app.applications.tables import Application, Case, Complaint, ComplaintState, Rating, State
from app.applications.workdays import add_working_days
from app.catalogue.services import list_departments
from app.catalogue.tables import Department
from app.core.display import as_utc
from app.core.flash import flash
from app.core.forms import FORM_BODY
from app.core.holidays import CalendarUnknown
from app.core.i18n import N_, _
from app.core.logging import get_logger
from app.core.security import NO_STORE
from app.core.transactions import write_transaction
from app.notifications.services import notify, send_soon

log = get_logger("feedback")

OFFICER = [requires_role(Role.OFFICER), requires_passkey_session]
REPLY_WORKDAYS = 5
MAX_BODY = 2000
MAX_COMMENT = 500

SCORES = {
    5: N_("Very good"),
    4: N_("Good"),
    3: N_("Fair"),
    2: N_("Poor"),
    1: N_("Very poor"),
}
GOOD_REASONS = {
    "fast": N_("Quick"),
    "helpful": N_("Helpful staff"),
    "clear": N_("Clear guidance"),
    "no_trip": N_("No trip needed, or only one"),
}
BAD_REASONS = {
    "slow": N_("Slow"),
    "unclear": N_("Unclear guidance"),
    "papers_twice": N_("Asked for the same papers twice"),
    "unfriendly": N_("Unfriendly staff"),
}
REASONS = {**GOOD_REASONS, **BAD_REASONS}
CATEGORIES = {
    "complaint": N_("Complaint"),
    "suggestion": N_("Suggestion"),
    "correction": N_("Wrong or out-of-date information"),
    "praise": N_("Praise"),
}
COMPLAINT_STATES = {
    ComplaintState.OPEN: N_("Waiting for a reply"),
    ComplaintState.ANSWERED: N_("Answered"),
}


def _in_range(identifier: int) -> None:
    if not 0 < identifier <= MAX_ID:  # beyond a Serial: nothing there, not a database error
        raise NotFoundException()


async def _account(request: Request[Any, Any, Any]) -> Account:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed.account


def _number(text: str) -> int | None:
    text = text.strip()
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) <= 10 else None


# ---------------------------------------------------------------- ratings (好差评)


def reasons_allowed(score: int) -> dict[str, str]:
    """A good rating says what went well, a poor one what went wrong; "fair" may say both."""
    if score >= 4:
        return GOOD_REASONS
    if score <= 2:
        return BAD_REASONS
    return REASONS


def check_rating(form: RatingForm) -> tuple[dict[str, str], int, list[str]]:
    """(errors by field, score, reasons) of a rating form."""
    errors = dict(form.field_errors)
    score = _number(form.score) or 0
    reasons = sorted(set(as_list(form.reasons)))
    if not 1 <= score <= 5:
        errors["score"] = _("Choose a rating from 1 to 5 stars.")
        return errors, 0, reasons
    if not set(reasons) <= set(reasons_allowed(score)):
        errors["reasons"] = _(
            "Choose what went well for a good rating, and what went wrong for a poor one."
        )
    elif score <= 2 and not reasons:
        errors["reasons"] = _("Please say what went wrong, so the department can put it right.")
    if len(form.comment) > MAX_COMMENT:
        errors["comment"] = _("Please keep it under %(max)s characters.", max=MAX_COMMENT)
    return errors, score, reasons


@dataclass(frozen=True, slots=True)
class RatingPage:
    application: Application
    cases: list[Case]
    ratings: dict[int, dict[str, Any]]  # case id → its rating

    @property
    def decided(self) -> list[Case]:
        return [case for case in self.cases if case.state in DECIDED]


async def _rating_page(account: Account, application_id: int) -> RatingPage:
    _in_range(application_id)
    application = await service.application_of(int(account.id), application_id)
    if application is None:
        raise NotFoundException()
    cases = await service.cases_of(application_id)
    rows = (
        await Rating.select(Rating.case, Rating.score, Rating.reasons, Rating.comment)
        .where(Rating.case.is_in([int(case.id) for case in cases] or [0]))
        .output(load_json=True)
    )
    return RatingPage(application, cases, {int(row["case"]): row for row in rows})


def _rating_template(
    page: RatingPage,
    *,
    errors: dict[int, dict[str, str]] | None = None,
    sent: dict[int, dict[str, Any]] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> Template:
    message = refusal
    if not page.decided and message is None:
        message = _(
            "You can rate the service once a decision has been made. Come back when the "
            "application is approved or refused."
        )
        status = 400
    context = {
        "page": page,
        "message": message,
        "errors": errors or {},
        "sent": sent or {},
        "scores": SCORES,
        "good": GOOD_REASONS,
        "bad": BAD_REASONS,
        "reasons": REASONS,
        "state_labels": STATE_LABELS,
        "display_code": service.display_code(page.application.code),
        "max_comment": MAX_COMMENT,
    }
    return Template(
        template_name="feedback/rating.html", context=context, status_code=status, headers=NO_STORE
    )


@get("/applications/{application_id:int}/rating", name="rating", guards=[requires_signed_in])
async def rating_page(request: Request[Any, Any, Any], application_id: int) -> Template:
    return _rating_template(await _rating_page(await _account(request), application_id))


@post("/applications/{application_id:int}/rating", name="rating_send", guards=[requires_signed_in])
async def rating_send(
    request: Request[Any, Any, Any],
    application_id: int,
    data: Annotated[RatingForm, FORM_BODY],
) -> Template | Redirect:
    page = await _rating_page(await _account(request), application_id)
    case_id = _number(data.case)
    case = next((c for c in page.cases if case_id is not None and int(c.id) == case_id), None)
    refusal = None
    if case is None:
        refusal = _("That case is not part of this application.")
    elif case.state not in DECIDED:
        refusal = _("This case has not been decided yet; you can rate it once it is.")
    elif int(case.id) in page.ratings:
        refusal = _("You have rated this case already. Thank you.")
    if case is None or refusal is not None:
        return _rating_template(page, refusal=refusal, status=400)
    errors, score, reasons = check_rating(data)
    if errors:
        return _rating_template(
            page,
            errors={int(case.id): errors},
            sent={
                int(case.id): {
                    "score": data.score,
                    "reasons": reasons,
                    "comment": "" if "comment" in data.field_errors else data.comment,
                }
            },
            status=400,
        )
    async with write_transaction(f"rating:{case.id}"):
        if await Rating.exists().where(Rating.case == case.id):  # a second tab, a double tap
            return _rating_template(
                page, refusal=_("You have rated this case already. Thank you."), status=400
            )
        await Rating(
            case=case.id,
            department=case.department,
            score=score,
            reasons=reasons,
            comment=data.comment.strip(),
        ).save()
    log.info("rating_create_success", case_id=case.id, score=score)
    flash(request, _("Thank you for your rating."), "success")
    return Redirect(f"/applications/{application_id}/rating", status_code=303)


# ---------------------------------------------------------------- complaints (找茬)


def reply_due(today: date) -> date | None:
    """The day a reply is due, or None when the calendar does not know that year yet."""
    try:
        return add_working_days(today, REPLY_WORKDAYS)
    except CalendarUnknown:
        return None


async def _own_applications(account: Account) -> list[dict[str, Any]]:
    rows = await service.applications_of(int(account.id), limit=50)
    return [
        {**row, "display_code": service.display_code(row["code"])}
        for row in rows
        if row["state"] != State.DRAFT
    ]


async def _feedback_template(
    request: Request[Any, Any, Any],
    account: Account,
    *,
    form: ComplaintForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    complaints = (
        await Complaint.select(
            Complaint.id,
            Complaint.category,
            Complaint.body,
            Complaint.state,
            Complaint.due_on,
            Complaint.reply,
            Complaint.replied_at,
            Complaint.created_at,
            Complaint.department.name_zh.as_alias("department_zh"),
            Complaint.department.name_en.as_alias("department_en"),
            Complaint.application.code.as_alias("application_code"),
        )
        .where(Complaint.account == account.id)
        .order_by(Complaint.id, ascending=False)
        .limit(50)
    )
    form = form or ComplaintForm()
    context = {
        "form": {  # what was sent, less text refused as unsafe (it would not even parse)
            name: "" if name in form.field_errors else getattr(form, name)
            for name in ComplaintForm.__struct_fields__
        },
        "errors": errors or {},
        "complaints": complaints,
        "categories": CATEGORIES,
        "states": COMPLAINT_STATES,
        "departments": await list_departments(request.app.state.redis),
        "applications": await _own_applications(account),
        "display_code": service.display_code,
        "max_body": MAX_BODY,
    }
    return Template(
        template_name="feedback/page.html", context=context, status_code=status, headers=NO_STORE
    )


@get("/feedback", name="feedback", guards=[requires_signed_in])
async def feedback_page(request: Request[Any, Any, Any]) -> Template:
    return await _feedback_template(request, await _account(request))


async def _check_complaint(
    account: Account, form: ComplaintForm
) -> tuple[dict[str, str], int | None, int | None]:
    """(errors by field, department id, application id) of a complaint form."""
    errors = dict(form.field_errors)  # text no one could have typed: nothing more to check
    if form.category not in CATEGORIES:
        errors.setdefault("category", _("Choose what kind of feedback this is."))
    department = (
        await Department.select(Department.id).where(Department.code == form.department).first()
        if form.department and len(form.department) <= 60 and "department" not in errors
        else None
    )
    if department is None:
        errors.setdefault("department", _("Choose the department it is about."))
    application_id = None
    if form.application.strip() and "application" not in errors:
        number = _number(form.application)
        found = (
            await service.application_of(int(account.id), number)
            if number is not None and number <= MAX_ID
            else None
        )
        if found is None or found.state == State.DRAFT:
            errors["application"] = _("Choose one of your own applications, or none.")
        else:
            application_id = int(found.id)
    body = form.body.strip()
    if "body" in errors:
        pass
    elif not body:
        errors["body"] = _("Please write what you want to tell the department.")
    elif len(body) > MAX_BODY:
        errors["body"] = _("Please keep it under %(max)s characters.", max=MAX_BODY)
    return errors, department["id"] if department else None, application_id


@post("/feedback", name="feedback_send", guards=[requires_signed_in])
async def feedback_send(
    request: Request[Any, Any, Any], data: Annotated[ComplaintForm, FORM_BODY]
) -> Template | Redirect:
    account = await _account(request)
    errors, department_id, application_id = await _check_complaint(account, data)
    if errors:
        return await _feedback_template(request, account, form=data, errors=errors, status=400)
    due_on = reply_due(service.today())
    complaint = Complaint(
        account=account.id,
        department=department_id,
        application=application_id,
        category=data.category,
        body=data.body.strip(),
        state=ComplaintState.OPEN,
        due_on=due_on,
    )
    await complaint.save()
    log.info("complaint_create_success", complaint_id=complaint.id, category=data.category)
    if due_on is None:
        message = _(
            "Thank you. Your feedback no. %(number)s was sent to the department. The reply "
            "deadline cannot be computed yet: the working-day calendar for the coming year "
            "is not published.",
            number=complaint.id,
        )
    else:
        message = _(
            "Thank you. Your feedback no. %(number)s was sent to the department, which will "
            "reply by %(day)s.",
            number=complaint.id,
            day=due_on.isoformat(),
        )
    flash(request, message, "success")
    return Redirect("/feedback", status_code=303)


# ---------------------------------------------------------------- officers


def _overdue(row: dict[str, Any], today: date) -> bool:
    return bool(
        row["state"] == ComplaintState.OPEN and row["due_on"] is not None and row["due_on"] < today
    )


COMPLAINT_COLUMNS = (
    Complaint.id,
    Complaint.category,
    Complaint.body,
    Complaint.state,
    Complaint.due_on,
    Complaint.created_at,
    Complaint.reply,
    Complaint.replied_at,
    Complaint.application.code.as_alias("application_code"),
)


@get("/officer/complaints", name="officer_complaints", guards=OFFICER)
async def officer_complaints(request: Request[Any, Any, Any]) -> Template:
    officer = await _account(request)
    mine = Complaint.department == officer.department
    open_rows = (
        await Complaint.select(*COMPLAINT_COLUMNS)
        .where(mine, Complaint.state == ComplaintState.OPEN)
        .order_by(Complaint.id)
        .limit(200)
    )
    answered = (
        await Complaint.select(*COMPLAINT_COLUMNS)
        .where(mine, Complaint.state == ComplaintState.ANSWERED)
        .order_by(Complaint.id, ascending=False)
        .limit(50)
    )
    today = service.today()
    rows = [{**row, "overdue": _overdue(row, today)} for row in [*open_rows, *answered]]
    context = {"rows": rows, "categories": CATEGORIES, "states": COMPLAINT_STATES}
    return Template(template_name="feedback/officer_list.html", context=context, headers=NO_STORE)


async def _complaint_for(officer: Account, complaint_id: int) -> dict[str, Any]:
    _in_range(complaint_id)
    row = (
        await Complaint.select(*COMPLAINT_COLUMNS, Complaint.account)
        .where(Complaint.id == complaint_id, Complaint.department == officer.department)
        .first()
    )
    if row is None or officer.department is None:
        raise NotFoundException()
    return row


async def _complaint_template(
    officer: Account,
    complaint_id: int,
    *,
    reply: str = "",
    error: str | None = None,
    status: int = 200,
) -> Template:
    row = await _complaint_for(officer, complaint_id)
    context = {
        "row": {**row, "overdue": _overdue(row, service.today())},
        "categories": CATEGORIES,
        "states": COMPLAINT_STATES,
        "display_code": service.display_code,
        "reply": reply,
        "error": error,
        "max_body": MAX_BODY,
    }
    return Template(
        template_name="feedback/officer_complaint.html",
        context=context,
        status_code=status,
        headers=NO_STORE,
    )


@get("/officer/complaints/{complaint_id:int}", name="officer_complaint", guards=OFFICER)
async def officer_complaint(request: Request[Any, Any, Any], complaint_id: int) -> Template:
    return await _complaint_template(await _account(request), complaint_id)


@post(
    "/officer/complaints/{complaint_id:int}/reply", name="officer_complaint_reply", guards=OFFICER
)
async def officer_reply(
    request: Request[Any, Any, Any],
    complaint_id: int,
    data: Annotated[ReplyForm, FORM_BODY],
) -> Template | Redirect:
    officer = await _account(request)
    row = await _complaint_for(officer, complaint_id)
    reply = data.reply.strip()
    error = data.field_errors.get("reply")
    if error is None and not reply:
        error = _("Please write the reply.")
    elif error is None and len(reply) > MAX_BODY:
        error = _("Please keep it under %(max)s characters.", max=MAX_BODY)
    if error is not None:
        kept = "" if "reply" in data.field_errors else data.reply
        return await _complaint_template(officer, complaint_id, reply=kept, error=error, status=400)
    async with write_transaction(f"complaint:{complaint_id}"):
        # Conditional on still being open: a second officer's reply changes nothing.
        answered = (
            await Complaint.update(
                {
                    Complaint.state: ComplaintState.ANSWERED,
                    Complaint.reply: reply,
                    Complaint.replied_by: officer.id,
                    Complaint.replied_at: datetime.now(UTC),
                }
            )
            .where(Complaint.id == complaint_id, Complaint.state == ComplaintState.OPEN)
            .returning(Complaint.id)
        )
        citizen = await Account.objects().where(Account.id == row["account"]).first()
        sent = None
        if answered and citizen is not None:
            sent = await notify(
                "complaint_reply",
                citizen.phone,
                {"number": complaint_id},
                locale=citizen.locale,
                user_id=int(citizen.id),
            )
    if not answered:
        return await _complaint_template(
            officer,
            complaint_id,
            error=_("This was answered already, perhaps by a colleague. Here is the reply."),
            status=400,
        )
    if sent is not None:
        await send_soon([sent], request.app.state.redis)
    log.info("complaint_reply_success", complaint_id=complaint_id, officer_id=officer.id)
    flash(request, _("Reply sent. The citizen gets a text message."), "success")
    return Redirect(f"/officer/complaints/{complaint_id}", status_code=303)


# ---------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Figures:
    ratings: int
    average: float | None  # one decimal
    distribution: dict[int, int]  # score → count, 5 down to 1
    top_reasons: list[tuple[str, int]]  # (reason code, count), most frequent first
    open: int
    answered: int
    overdue: int
    reply_days: float | None  # average days from complaint to reply, one decimal


async def figures_of(department_id: int, today: date) -> Figures:
    mine = Rating.department == department_id
    distribution = dict.fromkeys(range(5, 0, -1), 0)
    for row in await Rating.select(Rating.score).where(mine):
        distribution[int(row["score"])] = distribution.get(int(row["score"]), 0) + 1
    total = sum(distribution.values())
    reasons: Counter[str] = Counter()
    for row in await Rating.select(Rating.reasons).where(mine).output(load_json=True):
        reasons.update(code for code in row["reasons"] or [] if code in REASONS)
    complaints = Complaint.department == department_id
    replies = await Complaint.select(Complaint.created_at, Complaint.replied_at).where(
        complaints, Complaint.state == ComplaintState.ANSWERED
    )
    waited = [
        (as_utc(row["replied_at"]) - as_utc(row["created_at"])).total_seconds() / 86400
        for row in replies
        if row["replied_at"] is not None
    ]
    return Figures(
        ratings=total,
        average=round(sum(s * n for s, n in distribution.items()) / total, 1) if total else None,
        distribution=distribution,
        top_reasons=reasons.most_common(5),
        open=await Complaint.count().where(complaints, Complaint.state == ComplaintState.OPEN),
        answered=len(replies),
        overdue=await Complaint.count().where(
            complaints, Complaint.state == ComplaintState.OPEN, Complaint.due_on < today
        ),
        reply_days=round(sum(waited) / len(waited), 1) if waited else None,
    )


@get("/officer/figures", name="officer_figures", guards=OFFICER)
async def officer_figures(request: Request[Any, Any, Any]) -> Template:
    officer = await _account(request)
    if officer.department is None:
        raise NotFoundException()
    context = {
        "figures": await figures_of(int(officer.department), service.today()),
        "scores": SCORES,
        "reasons": REASONS,
    }
    return Template(
        template_name="feedback/officer_figures.html", context=context, headers=NO_STORE
    )


ROUTES: list[Any] = [
    rating_page,
    rating_send,
    feedback_page,
    feedback_send,
    officer_complaints,
    officer_complaint,
    officer_reply,
    officer_figures,
]
