"""Dispatch (``/dispatch``) for centre staff: floor managers and admins, in a passkey session.

The board lists what needs a person at the centre: jobs nobody has, pickups whose window has
passed (late), failed attempts, originals on their way to the centre (to receive, which closes
the application's owed material) and licences in a locker (collected with the code). Each
button is a plain form with its own idempotency key, so a double press records one event.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.tables import Role
from app.config import get_settings
from app.core.context import current as request_context
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import _
from app.core.security import NO_STORE
from app.courier import service
from app.courier.machine import KIND_LABELS, STATUS_LABELS, Actor, Proof, allowed_actions
from app.courier.service import CourierError, Event
from app.courier.tables import Kind, Shipment, Status
from app.notifications.services import send_soon

DISPATCHERS = [requires_role(Role.FLOOR_MANAGER, Role.ADMIN), requires_passkey_session]


class DispatchForm(Form):
    action: str = ""
    key: str = ""
    to: str = ""  # assign: "courier:ID" or "company:NAME"
    code: str = ""  # collect: the locker code the citizen shows
    reason: str = ""


def _row(shipment: Shipment, names: dict[int, str], locale: str) -> dict[str, Any]:
    return {
        "id": shipment.id,
        "waybill": shipment.waybill,
        "kind": _(KIND_LABELS[Kind(shipment.kind)]),
        "status_label": _(STATUS_LABELS[Status(shipment.status)]),
        "where": service.place(shipment, locale, street=False)[0],
        "window": shipment.window_start,
        "window_end": shipment.window_end,
        "late": service.is_late(shipment),
        "attempts": shipment.attempts,
        "who": names.get(int(shipment.courier), "") if shipment.courier else shipment.company,
        "actions": allowed_actions(
            shipment.kind, shipment.status, Actor.STAFF, to_locker=bool(shipment.locker)
        ),
        "key": str(uuid.uuid4()),
    }


@get("/dispatch", name="courier_dispatch", guards=DISPATCHERS)
async def board(request: Request[Any, Any, Any]) -> Template:
    return await _board(request)


async def _board(request: Request[Any, Any, Any], error: str = "", status: int = 200) -> Template:
    locale = request_context().locale
    found = await service.board()
    couriers = await service.couriers()
    names = {int(c.id): c.name or c.phone[-4:] for c in couriers}

    def rows(shipments: list[Shipment]) -> list[dict[str, Any]]:
        return [_row(s, names, locale) for s in shipments]

    return Template(
        template_name="courier/dispatch.html",
        context={
            "sections": [
                ("unassigned", _("Waiting for a courier"), rows(found.unassigned)),
                ("late", _("Late pickups"), rows(found.late)),
                ("failed", _("Failed attempts"), rows(found.failed)),
                ("incoming", _("Originals on their way to the centre"), rows(found.in_transit)),
                ("lockers", _("In a licence locker"), rows(found.lockers)),
            ],
            "couriers": [(int(c.id), names[int(c.id)]) for c in couriers],
            "companies": get_settings().courier_companies,
            "error": error,
        },
        status_code=status,
        headers=NO_STORE,
    )


@post("/dispatch/shipments/{shipment_id:int}", name="courier_dispatch_act", guards=DISPATCHERS)
async def act(
    request: Request[Any, Any, Any],
    shipment_id: FromPath[int],
    data: Annotated[DispatchForm, FORM_BODY],
) -> Response[Any]:
    if not 0 < shipment_id <= MAX_ID:
        raise NotFoundException()
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    where, _sep, value = data.to.partition(":")
    event = Event(
        action=data.action[:40],
        key=data.key[:100],
        courier_id=int(value)
        if where == "courier" and value.isdigit() and len(value) < 10
        else None,
        company=value[:40] if where == "company" else "",
        proof=Proof.LOCKER_CODE if data.action == "collect" else Proof.NONE,
        code=data.code[:12],
        reason=data.reason[:500],
    )
    if data.action == "assign" and event.courier_id is None and not event.company:
        return await _board(request, _("Please choose a courier or a courier company."), 400)
    try:
        done = await service.record(shipment_id, event, Actor.STAFF, signed.account)
    except CourierError as error:
        if error.status == 404:
            raise NotFoundException() from error
        return await _board(request, error.message, 400 if error.status == 400 else 409)
    await send_soon(done.notifications, request.app.state.redis)
    flash(
        request,
        _(
            "%(waybill)s: %(status)s.",
            waybill=done.shipment.waybill,
            status=_(STATUS_LABELS[Status(done.shipment.status)]),
        ),
        "success",
    )
    return Redirect("/dispatch", status_code=303)


ROUTES: list[Any] = [board, act]
