"""The courier app (``/courier``): a courier in a passkey session sees their open jobs, opens
one (the address, the contact number masked, tap to call) and reports each step with one big
button.

``POST /courier/jobs/{id}/events`` takes one event, as a plain form (no JavaScript: the answer
is the job page again) or from frontend/static/js/courier.js, which queues events in IndexedDB
while the phone is offline and replays them (then it asks for JSON). Every event carries an
idempotency key, a UUID made when the button was pressed (or when the page was rendered, for
plain forms): sent again, it is found and nothing changes. A job given to another courier, or
cancelled, meanwhile is answered 409 with a sentence the app shows.

CSRF: the token of the page is stored with each queued event and sent back in the
``x-csrftoken`` header, the same signed double-submit check as every other form (docs/courier.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from anyio import CancelScope
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.tables import Account, Role
from app.applications.tables import MaterialEntry
from app.core.context import current as request_context
from app.core.display import mask_phone
from app.core.flash import flash
from app.core.i18n import N_, _
from app.core.security import NO_STORE
from app.courier import service
from app.courier.machine import (
    ACTION_LABELS,
    BUTTON_LABELS,
    KIND_LABELS,
    PROOF_LABELS,
    STATUS_LABELS,
    TABLE,
    Actor,
    Proof,
    allowed_actions,
)
from app.courier.service import CourierError, Event
from app.courier.tables import Kind, Shipment, Status
from app.files import service as files
from app.files.controllers import MARGIN, max_file_bytes, storage_of
from app.files.sniff import Refused
from app.notifications.services import send_soon

COURIER = [requires_role(Role.COURIER), requires_passkey_session]
# Why an attempt failed: the courier picks one; it is stored in both languages.
FAIL_REASONS = {
    "nobody": "无人在家 Nobody at home",
    "refused": "收件人拒收 Refused by the recipient",
    "address": "地址有误 Wrong address",
    "unreachable": "电话无法接通 Phone unreachable",
}
FAIL_LABELS = {
    "nobody": N_("Nobody at home"),
    "refused": N_("Refused by the recipient"),
    "address": N_("Wrong address"),
    "unreachable": N_("Phone unreachable"),
}


async def _courier(request: Request[Any, Any, Any]) -> Account:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed.account


def _job_row(shipment: Shipment, locale: str) -> dict[str, Any]:
    return {
        "id": shipment.id,
        "waybill": shipment.waybill,
        "kind": _(KIND_LABELS[Kind(shipment.kind)]),
        "status": shipment.status,
        "status_label": _(STATUS_LABELS[Status(shipment.status)]),
        "where": service.place(shipment, locale),
        "window": shipment.window_start,
        "window_end": shipment.window_end,
        "late": service.is_late(shipment),
    }


@get("/courier", name="courier_jobs", guards=COURIER)
async def jobs(request: Request[Any, Any, Any]) -> Template:
    courier = await _courier(request)
    locale = request_context().locale
    return Template(
        template_name="courier/jobs.html",
        context={
            "jobs": [_job_row(s, locale) for s in await service.jobs_of(int(courier.id))],
        },
        headers=NO_STORE,
    )


async def _job(courier: Account, shipment_id: int) -> Shipment:
    found = (
        await service.job_for(int(courier.id), shipment_id) if 0 < shipment_id <= MAX_ID else None
    )
    if found is None:
        raise NotFoundException()
    return found


async def _materials(shipment: Shipment, locale: str) -> list[str]:
    codes = [c for c in shipment.materials.split(",") if c]
    if not codes:
        return []
    rows = await MaterialEntry.select(MaterialEntry.name_zh, MaterialEntry.name_en).where(
        MaterialEntry.application == shipment.application, MaterialEntry.code.is_in(codes)
    )
    return [row["name_zh"] if locale == "zh-Hans" else row["name_en"] for row in rows]


def _buttons(shipment: Shipment) -> list[dict[str, Any]]:
    """One form per action the courier may take now, each with its own idempotency key."""
    forms = []
    for action in allowed_actions(
        shipment.kind, shipment.status, Actor.COURIER, to_locker=bool(shipment.locker)
    ):
        proofs = sorted(TABLE[(Kind(shipment.kind), action)].proofs)
        if Proof.SIGNATURE in proofs and shipment.receipt_document is None:
            proofs.remove(Proof.SIGNATURE)
        forms.append(
            {
                "action": action,
                "label": _(BUTTON_LABELS.get(action, ACTION_LABELS[action])),
                "proofs": [(p.value, _(PROOF_LABELS[p])) for p in proofs],
                "reason": TABLE[(Kind(shipment.kind), action)].reason_required,
                "key": str(uuid.uuid4()),
            }
        )
    return forms


async def _job_page(
    request: Request[Any, Any, Any],
    courier: Account,
    shipment: Shipment,
    *,
    error: str = "",
    status: int = 200,
) -> Template:
    locale = request_context().locale
    events = (await service.events_of([int(shipment.id)]))[int(shipment.id)]
    return Template(
        template_name="courier/job.html",
        context={
            "job": _job_row(shipment, locale),
            "shipment": shipment,
            "contact": shipment.contact_name,
            "phone_masked": mask_phone(shipment.phone) if shipment.phone else "",
            "phone": shipment.phone,
            "materials": await _materials(shipment, locale),
            "buttons": _buttons(shipment),
            "reasons": [(key, _(label)) for key, label in FAIL_LABELS.items()],
            "steps": [(e.at, _(ACTION_LABELS.get(e.action, e.action)), e.reason) for e in events],
            "error": error,
            "max_mb": max_file_bytes() // files.MIB,
        },
        status_code=status,
        headers=NO_STORE,
    )


@get("/courier/jobs/{shipment_id:int}", name="courier_job", guards=COURIER)
async def job(request: Request[Any, Any, Any], shipment_id: FromPath[int]) -> Template:
    courier = await _courier(request)
    return await _job_page(request, courier, await _job(courier, shipment_id))


def _float(value: Any) -> float | None:
    if not isinstance(value, str) or not value or len(value) > 20:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value or len(value) > 40:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _text(form: Any, name: str, limit: int = 500) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _wants_json(request: Request[Any, Any, Any]) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _answer(request: Request[Any, Any, Any], status: int, payload: dict[str, Any]) -> Response[Any]:
    return Response(payload, status_code=status, headers={"Cache-Control": "no-store"})


@post(
    "/courier/jobs/{shipment_id:int}/events",
    name="courier_event",
    guards=COURIER,
    request_max_body_size=max_file_bytes() + MARGIN,
)
async def report(request: Request[Any, Any, Any], shipment_id: FromPath[int]) -> Response[Any]:
    courier = await _courier(request)
    wants_json = _wants_json(request)
    if not 0 < shipment_id <= MAX_ID:
        raise NotFoundException()
    form = await request.form()
    key = _text(form, "key", 100)
    action = _text(form, "action", 40)
    proof_text = _text(form, "proof", 20)
    reason_key = _text(form, "reason", 40)
    reason = FAIL_REASONS.get(reason_key, "") if reason_key in FAIL_REASONS else ""
    if reason_key and not reason:
        reason = _text(form, "reason", 500)
    upload = form.get("photo")
    has_photo = isinstance(upload, UploadFile) and bool(upload.filename)
    try:
        proof = Proof(proof_text) if proof_text else (Proof.PHOTO if has_photo else Proof.NONE)
    except ValueError:
        proof = Proof.NONE
    try:
        if proof is Proof.PHOTO and not has_photo:
            raise CourierError("photo", _("Please take a photo of the handover."))
        photo_id = None
        event = Event(
            action=action,
            key=key,
            proof=proof,
            code=_text(form, "code", 12),
            reason=reason,
            at=_when(form.get("at")),
            lat=_float(form.get("lat")),
            lng=_float(form.get("lng")),
        )
        earlier = await service.record_if_known(shipment_id, key, courier)
        if earlier is not None:
            done = earlier
        else:
            if has_photo:
                assert isinstance(upload, UploadFile)
                stored = await files.receive(
                    storage_of(request),
                    int(courier.id),
                    upload.filename,
                    _chunks(upload),
                    max_bytes=max_file_bytes(),
                    purpose=f"courier:{shipment_id}",
                )
                photo_id = int(stored.id)
                event.photo_id = photo_id
            try:
                done = await service.record(
                    shipment_id, event, Actor.COURIER, courier, checked=True
                )
            except CourierError:
                if photo_id is not None:
                    with CancelScope(shield=True):
                        await _forget(request, photo_id)
                raise
            if photo_id is not None and done.duplicate:
                # A replay raced the first send and lost: its copy of the photo goes.
                await _forget(request, photo_id)
            elif photo_id is not None:
                await files.check_soon(photo_id, request.app.state.redis)
    except (CourierError, Refused) as error:
        status = error.status if isinstance(error, CourierError) else 400
        if wants_json:
            return _answer(
                request,
                status,
                {"status": "refused", "code": error.code, "message": error.message},
            )
        if status == 404:
            raise NotFoundException() from error
        shipment = await service.job_for(int(courier.id), shipment_id)
        if shipment is None:
            flash(request, error.message, "error")
            return Redirect("/courier", status_code=303)
        return await _job_page(request, courier, shipment, error=error.message, status=status)
    await send_soon(done.notifications, request.app.state.redis)
    label = _(STATUS_LABELS[Status(done.shipment.status)])
    if wants_json:
        return _answer(
            request,
            200,
            {
                "status": "duplicate" if done.duplicate else "recorded",
                "shipment_status": done.shipment.status,
                "label": label,
                "message": _("Sent: %(status)s.", status=label),
            },
        )
    flash(request, _("Sent: %(status)s.", status=label), "success")
    return Redirect(f"/courier/jobs/{shipment_id}", status_code=303)


async def _chunks(upload: UploadFile) -> Any:
    while chunk := await upload.read(64 * 1024):
        yield chunk


async def _forget(request: Request[Any, Any, Any], photo_id: int) -> None:
    from app.files.tables import StoredFile

    rows = (
        await StoredFile.delete().where(StoredFile.id == photo_id).returning(StoredFile.storage_key)
    )
    for row in rows:
        await storage_of(request).delete(row["storage_key"])


ROUTES: list[Any] = [jobs, job, report]
