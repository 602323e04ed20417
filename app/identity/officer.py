"""The officers' side of identity verification (docs/identity.md): the review queue, one
verification with both images side by side and every check, the decision on it, and the
counter check of a person who came in with their identity card.

Officers only, in a passkey session; the queue is platform-wide (any officer may review). The
images are served by ``/files/{id}`` only while a verification is in review or decided
(``service.reviewer_may_read``); these pages are never cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar

from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.phone import normalise_phone
from app.accounts.tables import Account, Role
from app.core.context import current as request_context
from app.core.display import mask_phone
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.security import NO_STORE
from app.identity import service
from app.identity.tables import DocumentSource, Method, Verification, VerificationState
from app.licences.services import licence_of
from app.notifications.services import send_soon
from app.signing.service import mask_name

OFFICER = [requires_role(Role.OFFICER), requires_passkey_session]
PAGE_SIZE = 20
MAX_REASON = 500  # the service keeps this much of a reason
NUMBER = re.compile(r"[0-9]{1,10}")
# The images may be shown once both passed their checks; the files service agrees.
REVIEWABLE = frozenset(
    {VerificationState.IN_REVIEW, VerificationState.APPROVED, VerificationState.REJECTED}
)

STATE_LABELS = {
    VerificationState.CAPTURING: N_("Waiting for the person's photos"),
    VerificationState.CHECKING: N_("Photos being checked"),
    VerificationState.IN_REVIEW: N_("Waiting for an officer"),
    VerificationState.APPROVED: N_("Approved"),
    VerificationState.REJECTED: N_("Rejected"),
    VerificationState.EXPIRED: N_("Expired unfinished"),
}
CHALLENGE_LABELS = {"number": N_("Number on paper"), "turn": N_("Head turn")}
VERDICT_LABELS = {
    "match": N_("The faces match."),
    "no_match": N_("The faces do not match."),
    "deferred": N_("No automated comparison: compare the two faces yourself."),
}


class DecideForm(Form):
    __multiline__: ClassVar[frozenset[str]] = frozenset({"reason"})

    decision: str = ""
    version: str = ""
    reason: str = ""


class CounterForm(Form):
    """What the officer types at the counter; refusals are shown next to their field."""

    __multiline__: ClassVar[frozenset[str]] = frozenset({"reason"})
    __inline_errors__: ClassVar[bool] = True

    phone: str = ""
    id_number: str = ""
    reason: str = ""


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    name: str  # masked
    phone: str  # masked
    ready_at: datetime
    challenge_kind: str


@dataclass(frozen=True, slots=True)
class QueuePage:
    rows: list[QueueRow]
    next_after: int | None


async def review_queue(after: int | None = None, size: int = PAGE_SIZE) -> QueuePage:
    """Verifications waiting for an officer, oldest first, ``size`` at a time after the id
    ``after`` (keyset: every page costs the same however deep)."""
    query = Verification.select(
        Verification.id,
        Verification.updated_at,
        Verification.challenge_kind,
        Verification.account.name.as_alias("name"),
        Verification.account.phone.as_alias("phone"),
    ).where(Verification.state == VerificationState.IN_REVIEW)
    if after is not None:
        query = query.where(Verification.id > after)
    found = await query.order_by(Verification.id).limit(size + 1)
    rows = [
        QueueRow(
            id=row["id"],
            name=mask_name(row["name"] or ""),
            phone=mask_phone(row["phone"] or ""),
            ready_at=row["updated_at"],
            challenge_kind=row["challenge_kind"],
        )
        for row in found[:size]
    ]
    return QueuePage(rows, rows[-1].id if len(found) > size else None)


def check_message(check: dict[str, Any]) -> str:
    """A check's reason in the page's language: a msgid (with its parameters), or a stored
    pair of sentences."""
    if "zh" in check or "en" in check:
        return str(check.get("zh" if request_context().locale == "zh-Hans" else "en", ""))
    message = str(check.get("message", ""))
    params = check.get("params")
    return _(message, **params) if isinstance(params, dict) and params else _(message)


def _checks(report: Any) -> list[tuple[bool, str]]:
    if not isinstance(report, dict):
        return []
    return [
        (bool(check.get("ok")), check_message(check))
        for check in report.get("checks", [])
        if isinstance(check, dict)
    ]


async def _officer(request: HTMXRequest) -> Account:
    signed = await accounts.current(request)
    assert signed is not None  # the guards ran
    return signed.account


def _in_range(verification_id: int) -> None:
    # Beyond a Serial there is no such row: not found, not a database error.
    if not 0 < verification_id <= MAX_ID:
        raise NotFoundException()


# ---------------------------------------------------------------- the queue


@get("/officer/identity", name="officer_identity_queue", guards=OFFICER)
async def identity_queue(after: FromQuery[str] = "") -> Template:
    if after and not (NUMBER.fullmatch(after) and 0 < int(after) <= MAX_ID):
        raise BadInput(detail=_("That page of the queue does not exist."))
    page = await review_queue(int(after) if after else None)
    context = {
        "page": page,
        "paged": bool(after),
        "next_url": f"/officer/identity?after={page.next_after}" if page.next_after else "",
        "challenge_labels": CHALLENGE_LABELS,
    }
    return Template(template_name="identity/officer_queue.html", context=context, headers=NO_STORE)


# ---------------------------------------------------------------- one verification


async def _verification_page(
    verification_id: int, *, error: str | None = None, status: int = 200
) -> Template:
    _in_range(verification_id)
    verification = (
        await Verification.objects()
        .where(Verification.id == verification_id)
        .output(load_json=True)
        .first()
    )
    if verification is None:
        raise NotFoundException()
    person = (
        await Account.select(Account.name, Account.phone)
        .where(Account.id == verification.account)
        .first()
    )
    reviewer = (
        await Account.select(Account.name).where(Account.id == verification.reviewer).first()
        if verification.reviewer is not None
        else None
    )
    reviewable = verification.state in REVIEWABLE and verification.method == Method.REMOTE
    licence = (
        await licence_of(int(verification.account), int(verification.licence))
        if reviewable
        and verification.document_source == DocumentSource.LICENCE
        and verification.licence is not None
        else None
    )
    context = {
        "verification": verification,
        "person_name": mask_name(person["name"]) if person else "",
        "person_phone": mask_phone(person["phone"]) if person else "",
        "reviewer_name": reviewer["name"] if reviewer else "",
        "reviewable": reviewable,
        "counter": verification.method == Method.COUNTER,
        "licence": licence,
        "locale": request_context().locale,
        "challenge": service.challenge_text(verification) if verification.challenge else "",
        "selfie_checks": _checks(verification.selfie_report),
        "document_checks": _checks(verification.document_report),
        "match": verification.match or None,
        "state_label": _(STATE_LABELS[VerificationState(verification.state)]),
        "verdict_labels": VERDICT_LABELS,
        "error": error,
    }
    return Template(
        template_name="identity/officer_verification.html",
        context=context,
        status_code=status,
        headers=NO_STORE,
    )


@get("/officer/identity/{verification_id:int}", name="officer_identity", guards=OFFICER)
async def identity_verification(verification_id: FromPath[int]) -> Template:
    return await _verification_page(verification_id)


@post(
    "/officer/identity/{verification_id:int}/decide",
    name="officer_identity_decide",
    guards=OFFICER,
)
async def identity_decide(
    request: HTMXRequest, verification_id: FromPath[int], data: Annotated[DecideForm, FORM_BODY]
) -> Redirect | Template:
    officer = await _officer(request)
    _in_range(verification_id)
    if data.decision not in ("approve", "reject") or not NUMBER.fullmatch(data.version):
        raise BadInput(detail=_("This form has expired. Reload the page and try again."))
    if len(data.reason) > MAX_REASON:
        return await _verification_page(
            verification_id,
            error=_("Please keep the reason under %(count)s characters.", count=MAX_REASON),
            status=400,
        )
    try:
        decided = await service.decide(
            officer,
            verification_id,
            approve=data.decision == "approve",
            reason=data.reason,
            version=int(data.version),
        )
    except service.IdentityError as exc:
        if exc.code == "missing":
            raise NotFoundException() from exc
        return await _verification_page(
            verification_id, error=exc.message, status=409 if exc.code == "stale" else 400
        )
    # After the commit: the SMS row is in the outbox already; this only hurries it.
    if decided.notification is not None:
        await send_soon([decided.notification], request.app.state.redis)
    approved = decided.verification.state == VerificationState.APPROVED
    flash(
        request,
        _("Approved: the person was told by SMS.")
        if approved
        else _("Rejected: the person was told by SMS."),
        "success",
    )
    return Redirect(f"/officer/identity/{verification_id}", status_code=303)


# ---------------------------------------------------------------- at the counter


def _counter_page(
    data: CounterForm | None = None,
    errors: dict[str, str] | None = None,
    error: str | None = None,
) -> Template:
    return Template(
        template_name="identity/officer_counter.html",
        context={"form": data or CounterForm(), "errors": errors or {}, "error": error},
        status_code=400 if errors or error else 200,
        headers=NO_STORE,
    )


# Which field a refusal of the service belongs next to.
COUNTER_FIELDS = {"id_number": "id_number", "id_mismatch": "id_number", "reason": "reason"}


@get("/officer/identity/counter", name="officer_identity_counter", guards=OFFICER)
async def identity_counter() -> Template:
    return _counter_page()


@post("/officer/identity/counter", name="officer_identity_counter_check", guards=OFFICER)
async def identity_counter_check(
    request: HTMXRequest, data: Annotated[CounterForm, FORM_BODY]
) -> Redirect | Template:
    officer = await _officer(request)
    if data.field_errors:
        return _counter_page(data, data.field_errors)
    if len(data.reason) > MAX_REASON:
        message = _("Please keep the reason under %(count)s characters.", count=MAX_REASON)
        return _counter_page(data, {"reason": message})
    phone = normalise_phone(data.phone)
    if phone is None:
        return _counter_page(
            data,
            {"phone": _("Please enter a valid mainland mobile number, for example 138 0000 0000.")},
        )
    person = await Account.objects().where(Account.phone == phone).first()
    if person is None:
        message = _("There is no account with this number: the person signs in once first.")
        return _counter_page(data, {"phone": message})
    try:
        decided = await service.verify_at_counter(officer, person, data.id_number, data.reason)
    except service.IdentityError as exc:
        if exc.code in COUNTER_FIELDS:
            return _counter_page(data, {COUNTER_FIELDS[exc.code]: exc.message})
        return _counter_page(data, error=exc.message)
    if decided.notification is not None:
        await send_soon([decided.notification], request.app.state.redis)
    flash(request, _("Identity verified at the counter: the person was told by SMS."), "success")
    return Redirect(f"/officer/identity/{decided.verification.id}", status_code=303)


ROUTES: list[Any] = [
    identity_queue,
    identity_counter,
    identity_counter_check,
    identity_verification,
    identity_decide,
]
