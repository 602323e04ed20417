"""The officers' back office (受理审批): the department's inbox, one case with its materials
side by side, the decisions on it and the actions on what the applicant still owes.

Officers only, in a passkey session. A case of another department, or a draft, is not found
(404): ``service.case_for_officer`` puts the department into the query itself.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, ClassVar
from urllib.parse import urlencode

import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.tables import Account, Role
from app.applications import inbox as inbox_queries
from app.applications import obligations, service
from app.applications.machine import (
    ACTION_LABELS,
    STATE_LABELS,
    Actor,
    TransitionRefused,
    allowed_actions,
)
from app.applications.tables import Application, Mode, Obligation, Provision, State
from app.core.display import mask_phone
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.security import NO_STORE
from app.notifications.services import send_soon

OFFICER = [requires_role(Role.OFFICER), requires_passkey_session]
MAX_REASON = 2000
NUMBER = re.compile(r"[0-9]{1,10}")
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

PROVISION_LABELS = {
    Provision.NONE: N_("Not provided yet"),
    Provision.UPLOAD: N_("Uploaded"),
    Provision.LICENCE: N_("Held in the licence library (exempt)"),
    Provision.ORIGINAL: N_("Paper original"),
    Provision.PLEDGE: N_("Replaced by a signed pledge"),
    Provision.LATER: N_("Follows later"),
    Provision.MISSING: N_("Missing, tolerated"),
}
OBLIGATION_LABELS = {
    Obligation.OWED: N_("Owed"),
    Obligation.SUPPLIED: N_("Supplied"),
    Obligation.ENFORCED: N_("Acted on by an officer"),
}
DUE_LABELS = {"soon": N_("Due soon"), "overdue": N_("Overdue")}
# What each decision's button says; the timeline says what was done (machine.ACTION_LABELS).
ACTION_BUTTONS = {
    "prereview": N_("Start pre-review"),
    "return": N_("Return for correction"),
    "accept": N_("Accept"),
    "review": N_("Start review"),
    "approve": N_("Approve"),
    "reject": N_("Reject"),
}


class ActForm(Form):
    """A decision on a case. ``materials`` are the codes ticked when returning for
    correction: one arrives as a string, several as a list."""

    __multiline__: ClassVar[frozenset[str]] = frozenset({"reason"})

    action: str = ""
    version: str = ""
    reason: str = ""
    mode: str = ""
    materials: list[str] | str = msgspec.field(default_factory=list)

    def chosen(self) -> list[str]:
        return [self.materials] if isinstance(self.materials, str) else list(self.materials)


class ExtendForm(Form):
    __multiline__: ClassVar[frozenset[str]] = frozenset({"reason"})

    version: str = ""
    new_due: str = ""
    reason: str = ""


class EnforceForm(Form):
    __multiline__: ClassVar[frozenset[str]] = frozenset({"reason"})

    version: str = ""
    reason: str = ""


async def _officer(request: HTMXRequest) -> Account:
    signed = await accounts.current(request)
    assert signed is not None  # the guards ran
    return signed.account


def _in_range(*ids: int) -> None:
    # Beyond a Serial there is no such row: not found, not a database error.
    if not all(0 < value <= MAX_ID for value in ids):
        raise NotFoundException()


def _version(text: str) -> int:
    if not NUMBER.fullmatch(text):
        raise BadInput(detail=_("This form has expired. Reload the page and try again."))
    return int(text)


def _reason(text: str) -> str:
    if len(text) > MAX_REASON:
        raise BadInput(
            detail=_("Please keep the reason under %(count)s characters.", count=MAX_REASON)
        )
    return text


# ---------------------------------------------------------------- the inbox


@get("/officer", name="officer_inbox", guards=OFFICER)
async def officer_inbox(
    request: HTMXRequest,
    state_filter: Annotated[str, QueryParameter(name="state")] = "",
    mode: FromQuery[str] = "",
    due: FromQuery[str] = "",
    owed: FromQuery[str] = "",
    after: FromQuery[str] = "",
) -> Template:
    officer = await _officer(request)
    if after and not (NUMBER.fullmatch(after) and 0 < int(after) <= MAX_ID):
        raise BadInput(detail=_("That page of the inbox does not exist."))
    owed_only = owed in ("1", "on")
    filters = {"state": state_filter, "mode": mode, "due": due, "owed": "1" if owed_only else ""}
    try:
        inbox_queries.check_filters(state_filter, mode, due)
    except inbox_queries.InboxFilterError as exc:
        raise BadInput(detail=exc.message) from exc
    page = (
        await inbox_queries.inbox(
            int(officer.department),
            state=state_filter,
            mode=mode,
            due=due,
            owed=owed_only,
            after=int(after) if after else None,
        )
        if officer.department is not None
        else inbox_queries.InboxPage([], None)
    )
    kept = {name: value for name, value in filters.items() if value}
    context = {
        "page": page,
        "filters": filters,
        "filtered": bool(kept),
        "next_url": "/officer?" + urlencode({**kept, "after": page.next_after})
        if page.next_after
        else "",
        "first_url": "/officer?" + urlencode(kept) if kept else "/officer",
        "paged": bool(after),
        "states": [(s.value, STATE_LABELS[s]) for s in inbox_queries.OFFICER_STATES],
        "modes": [(m.value, service.MODE_LABELS[m]) for m in Mode],
        "dues": list(DUE_LABELS.items()),
        "state_labels": STATE_LABELS,
        "mode_labels": service.MODE_LABELS,
    }
    return Template(template_name="officer/inbox.html", context=context, headers=NO_STORE)


# ---------------------------------------------------------------- one case


async def _case_page(
    request: HTMXRequest, case_id: int, *, error: str | None = None, status: int = 200
) -> Template:
    officer = await _officer(request)
    _in_range(case_id)
    case = await service.case_for_officer(officer, case_id)
    if case is None or case.state == State.DRAFT:  # a draft is the applicant's alone
        raise NotFoundException()
    application = (
        await Application.objects()
        .where(Application.id == case.application)
        .output(load_json=True)
        .first()
    )
    assert application is not None
    applicant = (
        await Account.select(Account.name, Account.phone)
        .where(Account.id == application.applicant)
        .first()
    )
    entries = await service.entries_of(int(application.id))
    mine = [entry for entry in entries if set(entry.items) & set(case.items)]
    accepted = case.accepted_on is not None
    actions = [
        action
        for action in allowed_actions(case.state, Actor.OFFICER, accepted=accepted)
        if action != "approve_level"  # "approve" passes one level at a time (service.act)
    ]
    left = (
        None
        if case.calendar_unknown
        else inbox_queries.days_left(case.promised_due, service.today())
    )
    context = {
        "case": case,
        "code": service.display_code(application.code),
        "applicant_name": applicant["name"] if applicant else "",
        "applicant_phone": mask_phone(applicant["phone"]) if applicant else "",
        "entries": mine,
        "files": await service.files_of(int(application.id)),
        "enforceable": {int(entry.id) for entry in mine if obligations.enforceable(entry)},
        "modes": service.possible_modes(entries),
        "actions": actions,
        "events": [
            event
            for event in await service.timeline(int(application.id))
            if event.case_id in (None, case.id)
        ],
        "days_left": left,
        "countdown": inbox_queries.countdown(case.state, case.calendar_unknown, left),
        "error": error,
        "today": service.today(),
        "state_labels": STATE_LABELS,
        "mode_labels": service.MODE_LABELS,
        "action_buttons": ACTION_BUTTONS,
        "provision_labels": PROVISION_LABELS,
        "obligation_labels": OBLIGATION_LABELS,
    }
    return Template(
        template_name="officer/case.html", context=context, status_code=status, headers=NO_STORE
    )


@get("/officer/cases/{case_id:int}", name="officer_case", guards=OFFICER)
async def officer_case(request: HTMXRequest, case_id: FromPath[int]) -> Template:
    return await _case_page(request, case_id)


async def _refused(
    request: HTMXRequest, case_id: int, exc: service.ApplicationError | TransitionRefused
) -> Template:
    """The case page again with the refusal: nothing was changed."""
    if exc.code in ("no_case", "no_entry"):
        raise NotFoundException()
    return await _case_page(
        request, case_id, error=exc.message, status=409 if exc.code == "stale" else 400
    )


@post("/officer/cases/{case_id:int}/act", name="officer_case_act", guards=OFFICER)
async def officer_case_act(
    request: HTMXRequest, case_id: FromPath[int], data: Annotated[ActForm, FORM_BODY]
) -> Redirect | Template:
    officer = await _officer(request)
    _in_range(case_id)
    version, reason = _version(data.version), _reason(data.reason)
    # The service decides whether an approval passes one level or the last one.
    action = "approve" if data.action == "approve_level" else data.action
    try:
        moved = await service.act(
            officer,
            case_id,
            action,
            version=version,
            reason=reason,
            mode=data.mode,
            materials=data.chosen(),
        )
    except (service.ApplicationError, TransitionRefused) as exc:
        return await _refused(request, case_id, exc)
    # After the commit: the SMS rows are in the outbox already; this only hurries them.
    await send_soon(moved.notifications, request.app.state.redis)
    flash(request, _("Done: %(action)s.", action=_(ACTION_LABELS[action])), "success")
    return Redirect(f"/officer/cases/{case_id}", status_code=303)


@post(
    "/officer/cases/{case_id:int}/obligations/{entry_id:int}/extend",
    name="officer_obligation_extend",
    guards=OFFICER,
)
async def officer_obligation_extend(
    request: HTMXRequest,
    case_id: FromPath[int],
    entry_id: FromPath[int],
    data: Annotated[ExtendForm, FORM_BODY],
) -> Redirect | Template:
    officer = await _officer(request)
    _in_range(case_id, entry_id)
    version, reason = _version(data.version), _reason(data.reason)
    new_due: date | None = None
    if ISO_DATE.fullmatch(data.new_due):
        try:
            new_due = date.fromisoformat(data.new_due)
        except ValueError:
            new_due = None
    if new_due is None:
        return await _case_page(
            request, case_id, error=_("Please give the new due date as a date."), status=400
        )
    try:
        await obligations.extend(
            officer, case_id, entry_id, new_due, version=version, reason=reason
        )
    except service.ApplicationError as exc:
        return await _refused(request, case_id, exc)
    flash(request, _("More time granted: the new due date is %(day)s.", day=new_due), "success")
    return Redirect(f"/officer/cases/{case_id}", status_code=303)


@post(
    "/officer/cases/{case_id:int}/obligations/{entry_id:int}/enforce",
    name="officer_obligation_enforce",
    guards=OFFICER,
)
async def officer_obligation_enforce(
    request: HTMXRequest,
    case_id: FromPath[int],
    entry_id: FromPath[int],
    data: Annotated[EnforceForm, FORM_BODY],
) -> Redirect | Template:
    officer = await _officer(request)
    _in_range(case_id, entry_id)
    version, reason = _version(data.version), _reason(data.reason)
    try:
        revoked = await obligations.enforce(
            officer, case_id, entry_id, version=version, reason=reason
        )
    except service.ApplicationError as exc:
        return await _refused(request, case_id, exc)
    message = (
        _("Recorded; the licence issued for this case was revoked.") if revoked else _("Recorded.")
    )
    flash(request, message, "success")
    return Redirect(f"/officer/cases/{case_id}", status_code=303)


ROUTES: list[Any] = [
    officer_inbox,
    officer_case,
    officer_case_act,
    officer_obligation_extend,
    officer_obligation_enforce,
]
