"""The applicant's pages: apply from a checklist, provide the materials (uploads from the
phone's camera, licences from the library, pledges signed with a passkey, materials for
later), submit, follow, correct, withdraw (docs/applications.md).

Every page is a plain form that works without JavaScript. Someone else's application is not
found, never forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from anyio import CancelScope
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_signed_in
from app.applications import service
from app.applications.machine import STATE_LABELS, Actor, allowed_actions
from app.applications.service import MODE_LABELS, ApplicationError, display_code
from app.applications.tables import Application, AttachedFile, Mode, Obligation, Provision, State
from app.catalogue import services as catalogue
from app.catalogue.pages import Found, personal_checklist
from app.catalogue.schemas import ServiceItemDetail
from app.config import get_settings
from app.core.context import current as request_context
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.security import NO_STORE
from app.courier.citizen import on_application as courier_section
from app.files import service as files
from app.files.controllers import MARGIN, incoming, max_file_bytes, storage_of
from app.files.sniff import Refused
from app.files.tables import StoredFile
from app.licences.services import licences_of
from app.notifications.services import send_soon
from app.signing.service import has_signed
from app.signing.tables import DocumentKind

PROVISION_LABELS = {
    Provision.UPLOAD: N_("Upload photos or a PDF"),
    Provision.LICENCE: N_("From your licence library (exempt)"),
    Provision.ORIGINAL: N_("Paper original, at the counter or by courier"),
    Provision.PLEDGE: N_("Replace it with a signed pledge"),
    Provision.LATER: N_("Hand it in later"),
    Provision.MISSING: N_("Missing for now, tolerated"),
}

NEXT_STEP = {
    State.DRAFT: N_("Provide the materials and submit."),
    State.SUBMITTED: N_("Waiting for the department's pre-review."),
    State.PRE_REVIEW: N_("The department is checking your materials."),
    State.CORRECTION: N_("Correct the materials the officer asked for, then submit again."),
    State.RESUBMITTED: N_("Waiting for the department to look at your correction."),
    State.ACCEPTED: N_("Accepted: the review starts soon."),
    State.IN_REVIEW: N_("The department is reviewing your application."),
    State.APPROVED: N_("Approved."),
    State.ISSUED: N_("Done: the licence is in your licence library."),
    State.REJECTED: N_("Rejected: the reason is in the timeline."),
    State.WITHDRAWN: N_("Withdrawn."),
}


class VersionForm(Form):
    version: int = 0


class WithdrawForm(Form):
    version: int = 0
    reason: str = ""

    __multiline__ = frozenset({"reason"})


class ProvisionForm(Form):
    provision: str = ""


def _path(application: Application | int) -> str:
    ident = application if isinstance(application, int) else application.id
    return f"/applications/{ident}"


async def _signed(request: Request[Any, Any, Any]) -> accounts.Signed:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed


async def _mine(request: Request[Any, Any, Any], application_id: int) -> Application:
    if not 0 < application_id <= MAX_ID:
        raise NotFoundException()
    signed = await _signed(request)
    found = await service.application_of(int(signed.account.id), application_id)
    if found is None:
        raise NotFoundException()
    return found


async def _items(request: Request[Any, Any, Any], codes: list[str]) -> list[ServiceItemDetail]:
    redis = request.app.state.redis
    return [item for code in codes if (item := await catalogue.get_item(redis, code)) is not None]


async def _held(account_id: int) -> dict[str, int]:
    """Licence types usable from the library (the data-use authorisation is signed): the
    first current licence of each type."""
    if not await has_signed(account_id, DocumentKind.AUTHORISATION):
        return {}
    held: dict[str, int] = {}
    for licence in await licences_of(account_id):
        if licence.current():
            held.setdefault(licence.type_code, licence.id)
    return held


# ---------------------------------------------------------------- applying


@post("/guide/{code:str}/apply", name="apply", guards=[requires_signed_in])
async def apply(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[Any]:
    """Start a draft from the checklist the answers in the query lead to."""
    found = await personal_checklist(request, code)
    if not isinstance(found, Found):
        return found
    signed = await _signed(request)
    application = await service.start(
        signed.account, found.guide, found.answers, await _held(int(signed.account.id))
    )
    flash(
        request,
        _(
            "Your draft is saved: you can come back to it until %(day)s.",
            day=str(application.keep_until),
        ),
        "success",
    )
    return Redirect(_path(application), status_code=303)


# ---------------------------------------------------------------- the applicant's pages


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    code: str
    title: str
    state: str
    state_label: str
    next_step: str
    updated_at: Any


@get("/applications", name="applications", guards=[requires_signed_in])
async def my_applications(
    request: Request[Any, Any, Any], before: FromQuery[int | None] = None
) -> Template:
    signed = await _signed(request)
    zh = request_context().locale == "zh-Hans"
    limit = 20
    cursor = before if before is not None and 0 < before <= MAX_ID else None
    rows = await service.applications_of(int(signed.account.id), before=cursor, limit=limit + 1)
    shown = [
        Row(
            id=row["id"],
            code=display_code(row["code"]),
            title=row["title_zh"] if zh else row["title_en"],
            state=row["state"],
            state_label=_(STATE_LABELS[State(row["state"])]),
            next_step=_(NEXT_STEP[State(row["state"])]),
            updated_at=row["updated_at"],
        )
        for row in rows[:limit]
    ]
    more = shown[-1].id if len(rows) > limit else None
    return Template(
        template_name="applications/list.html",
        context={"rows": shown, "more": more},
        headers=NO_STORE,
    )


async def _page(
    request: Request[Any, Any, Any],
    application: Application,
    *,
    error: str = "",
    status: int = 200,
) -> Template:
    signed = await _signed(request)
    account = signed.account
    entries = await service.entries_of(int(application.id))
    editable = application.state in service.EDITABLE
    # Only what can have changed is looked at again: a pledge awaiting its signature, a
    # material the library may now supply.
    if any(e.pledge_document is not None and not e.pledge_signature for e in entries):
        await service.sync_pledges(application, entries)
    if editable and any(e.kind == "licence" and e.licence is None for e in entries):
        await service.fill_from_library(application, entries, await _held(int(account.id)))
    cases = await service.cases_of(int(application.id))
    items = await _items(request, sorted({code for case in cases for code in case.items}))
    needed = max((item.min_assurance for item in items), default=1)
    assurance = (
        accounts.assurance_level(account, await accounts.has_passkey(account.id))
        if editable
        else needed
    )
    pages = await service.files_of(int(application.id))
    problems = (
        {
            p.entry_id: p.message
            for p in await service.problems(
                application, entries, {entry: len(found) for entry, found in pages.items()}
            )
        }
        if editable
        else {}
    )
    zh = request_context().locale == "zh-Hans"
    events = await service.timeline(int(application.id), int(application.applicant))
    can_withdraw = any(
        "withdraw"
        in allowed_actions(case.state, Actor.APPLICANT, accepted=case.accepted_on is not None)
        for case in cases
    )
    context = {
        "application": application,
        "code": display_code(application.code),
        "state_label": _(STATE_LABELS[State(application.state)]),
        "next_step": _(NEXT_STEP[State(application.state)]),
        "cases": [
            {
                "title": case.title_zh if zh else case.title_en,
                "state": case.state,
                "state_label": _(STATE_LABELS[State(case.state)]),
                "mode": _(MODE_LABELS[Mode(case.mode)]) if case.mode else "",
                "promised_due": case.promised_due,
                "paused": case.clock is not None
                and case.promised_due is None
                and not case.calendar_unknown,
                "calendar_unknown": case.calendar_unknown,
                "decided": case.state in (State.APPROVED, State.ISSUED, State.REJECTED),
                "reason": case.decision_reason,
            }
            for case in cases
        ],
        "entries": entries,
        "files": pages,
        "problems": problems,
        "editable": editable,
        "choices": {entry.id: service.provisions_for(entry) for entry in entries},
        "provision_labels": {key: _(label) for key, label in PROVISION_LABELS.items()},
        "owed": [e for e in entries if e.obligation == Obligation.OWED],
        "events": events,
        "to_correct": _to_correct(events, cases),
        "needed": needed,
        "assurance": assurance,
        "can_submit": application.state in service.EDITABLE and assurance >= needed,
        "can_withdraw": can_withdraw,
        "decided": any(
            case.state in (State.APPROVED, State.ISSUED, State.REJECTED) for case in cases
        ),
        "max_mb": max_file_bytes() // files.MIB,
        "error": error,
        "courier": await courier_section(application, items, entries, cases),
    }
    return Template(
        template_name="applications/page.html",
        context=context,
        status_code=status,
        headers=NO_STORE,
    )


def _to_correct(events: list[service.Event], cases: list[Any]) -> frozenset[str]:
    """Codes of the materials officers asked to correct, for cases waiting for it: the
    latest return of each such case."""
    waiting = {int(case.id) for case in cases if case.state == State.CORRECTION}
    latest: dict[int, tuple[str, ...]] = {}
    for event in events:
        if event.action == "case_return" and event.case_id in waiting:
            latest[int(event.case_id)] = event.materials
    return frozenset(code for codes in latest.values() for code in codes)


@get("/applications/{application_id:int}", name="application", guards=[requires_signed_in])
async def application_page(
    request: Request[Any, Any, Any], application_id: FromPath[int]
) -> Template:
    return await _page(request, await _mine(request, application_id))


async def _refused(
    request: Request[Any, Any, Any], application_id: int, error: ApplicationError | Refused
) -> Template:
    status = 409 if isinstance(error, ApplicationError) and error.code == "stale" else 400
    return await _page(
        request, await _mine(request, application_id), error=error.message, status=status
    )


@post(
    "/applications/{application_id:int}/materials/{entry_id:int}",
    name="application_provision",
    guards=[requires_signed_in],
)
async def choose_provision(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    entry_id: FromPath[int],
    data: Annotated[ProvisionForm, FORM_BODY],
) -> Response[Any]:
    application = await _mine(request, application_id)
    signed = await _signed(request)
    items = await _items(request, [application.item_code] if application.item_code else [])
    if not items:
        cases = await service.cases_of(int(application.id))
        items = await _items(request, [code for case in cases for code in case.items])
    pledge = next((item.acceptance for item in items if item.acceptance.pledge), None)
    try:
        entry = await service.choose(
            signed.account,
            application,
            entry_id if 0 < entry_id <= MAX_ID else 0,
            data.provision,
            pledge_title=f"告知承诺书 Pledge — {application.title_zh}",
            pledge_body=(
                f"{pledge.pledge_text_zh}\n\n{pledge.pledge_text_en}"
                if pledge
                else "本人承诺所提交的材料真实有效，如有不实，愿意承担相应法律责任。\n\n"
                "I pledge that the materials I hand in are true; if they are not, I accept the "
                "legal consequences."
            ),
        )
    except ApplicationError as error:
        return await _refused(request, application_id, error)
    if entry.provision == Provision.PLEDGE and not entry.pledge_signature:
        return Redirect(f"/sign/{entry.pledge_document}?next={_path(application)}", status_code=303)
    return Redirect(f"{_path(application)}#material-{entry.id}", status_code=303)


@post(
    "/applications/{application_id:int}/materials/{entry_id:int}/files",
    name="application_upload",
    guards=[requires_signed_in],
    request_max_body_size=get_settings().max_application_mb * files.MIB + MARGIN,
)
async def upload_pages(
    request: Request[Any, Any, Any], application_id: FromPath[int], entry_id: FromPath[int]
) -> Response[Any]:
    """Pages of one material, photographed or chosen on the phone. Each is stored through the
    files service (type by content, size limits), then attached; a refused file leaves
    nothing behind."""
    application = await _mine(request, application_id)
    limit = request.app.state.settings.max_application_mb * files.MIB
    storage = storage_of(request)
    stored_ids: list[int] = []
    try:
        for filename, chunks in await incoming(request):
            stored = await files.receive(
                storage,
                int(application.applicant),
                filename,
                chunks,
                max_bytes=max_file_bytes(),
                purpose=f"application:{application.code}",
            )
            try:
                files.check_total(await _sizes(application), stored.size, limit)
                await service.attach(application, entry_id if 0 < entry_id <= MAX_ID else 0, stored)
            except (ApplicationError, Refused):
                with CancelScope(shield=True):
                    await StoredFile.delete().where(StoredFile.id == stored.id)
                    await storage.delete(stored.storage_key)
                raise
            stored_ids.append(int(stored.id))
    except (ApplicationError, Refused) as error:
        return await _refused(request, application_id, error)
    for file_id in stored_ids:
        await files.check_soon(file_id, request.app.state.redis)
    return Redirect(f"{_path(application)}#material-{entry_id}", status_code=303)


async def _sizes(application: Application) -> list[int]:
    return [
        row["size"]
        for row in await AttachedFile.select(AttachedFile.file.size.as_alias("size")).where(
            AttachedFile.application == application.id
        )
    ]


@post(
    "/applications/{application_id:int}/files/{file_id:int}/delete",
    name="application_file_delete",
    guards=[requires_signed_in],
)
async def delete_page(
    request: Request[Any, Any, Any], application_id: FromPath[int], file_id: FromPath[int]
) -> Response[Any]:
    application = await _mine(request, application_id)
    stored = await files.file_of(file_id) if 0 < file_id <= MAX_ID else None
    try:
        await service.detach(application, file_id if stored else 0)
    except ApplicationError as error:
        return await _refused(request, application_id, error)
    if stored is not None and int(stored.owner) == int(application.applicant):
        await storage_of(request).delete(stored.storage_key)
    return Redirect(_path(application), status_code=303)


@post(
    "/applications/{application_id:int}/submit",
    name="application_submit",
    guards=[requires_signed_in],
)
async def submit(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    data: Annotated[VersionForm, FORM_BODY],
) -> Response[Any]:
    application = await _mine(request, application_id)
    signed = await _signed(request)
    cases = await service.cases_of(int(application.id))
    items = await _items(request, [code for case in cases for code in case.items])
    assurance = accounts.assurance_level(
        signed.account, await accounts.has_passkey(signed.account.id)
    )
    try:
        moved = await service.submit(
            signed.account, application, version=data.version, assurance=assurance, items=items
        )
    except ApplicationError as error:
        return await _refused(request, application_id, error)
    await send_soon(moved.notifications, request.app.state.redis)
    flash(
        request,
        _(
            "Submitted. Your tracking code is %(code)s: it follows every step of this application.",
            code=display_code(application.code),
        ),
        "success",
    )
    return Redirect(_path(application), status_code=303)


@post(
    "/applications/{application_id:int}/withdraw",
    name="application_withdraw",
    guards=[requires_signed_in],
)
async def withdraw(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    data: Annotated[WithdrawForm, FORM_BODY],
) -> Response[Any]:
    application = await _mine(request, application_id)
    signed = await _signed(request)
    try:
        await service.withdraw(
            signed.account, application, version=data.version, reason=data.reason[:500]
        )
    except ApplicationError as error:
        return await _refused(request, application_id, error)
    flash(request, _("Your application is withdrawn."), "success")
    return Redirect(_path(application), status_code=303)


@post(
    "/applications/{application_id:int}/discard",
    name="application_discard",
    guards=[requires_signed_in],
)
async def discard(request: Request[Any, Any, Any], application_id: FromPath[int]) -> Response[Any]:
    application = await _mine(request, application_id)
    keys = [
        row["key"]
        for row in await AttachedFile.select(AttachedFile.file.storage_key.as_alias("key")).where(
            AttachedFile.application == application.id
        )
    ]
    try:
        await service.discard(application)
    except ApplicationError as error:
        return await _refused(request, application_id, error)
    storage = storage_of(request)
    for key in keys:
        await storage.delete(key)
    flash(request, _("The draft is deleted."), "success")
    return Redirect("/applications", status_code=303)


ROUTES: list[Any] = [
    apply,
    my_applications,
    application_page,
    choose_provision,
    upload_pages,
    delete_page,
    submit,
    withdraw,
    discard,
]
