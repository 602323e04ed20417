"""The applicant's side of the courier service: the address book (``/addresses``), asking for
a pickup of originals or a delivery of the licence from the application page, cancelling
before pickup, and the shipment timeline on the application and tracking pages.

Every page is a plain form that works without JavaScript. Someone else's address, application
or shipment is not found, never forbidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.controllers._shared import MAX_ID
from app.accounts.guards import requires_signed_in
from app.applications.tables import Application, Case, MaterialEntry, State
from app.core.context import current as request_context
from app.core.display import mask_phone
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import _
from app.core.security import NO_STORE
from app.courier import service
from app.courier.machine import (
    ACTION_LABELS,
    KIND_LABELS,
    PROOF_LABELS,
    STATUS_LABELS,
    Actor,
    Proof,
    allowed_actions,
)
from app.courier.service import AddressInput, CourierError, Event
from app.courier.tables import Kind, Shipment, ShipmentEvent, Status
from app.notifications.services import send_soon

SAFE_NEXT = ("/applications/",)
PROOF_VALUES = frozenset(p.value for p in PROOF_LABELS)


class AddressForm(Form):
    contact_name: str = ""
    phone: str = ""
    district: str = ""
    street: str = ""
    next: str = ""

    __inline_errors__ = True


class PickupForm(Form):
    address: int = 0
    day: str = ""
    slot: str = ""


class DeliveryForm(Form):
    to: str = ""  # "address:ID" or "locker:CODE"


class KeyForm(Form):
    key: str = ""


def _next(value: str) -> str:
    return value if value.startswith(SAFE_NEXT) and value[len("/applications/") :].isdigit() else ""


async def _signed(request: Request[Any, Any, Any]) -> accounts.Signed:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed


# ---------------------------------------------------------------- the address book


def _districts() -> list[tuple[str, str]]:
    locale = request_context().locale
    return [(code, service.district_name(code, locale)) for code in service.DISTRICTS]


async def _book(
    request: Request[Any, Any, Any],
    *,
    form: AddressForm | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Template:
    signed = await _signed(request)
    locale = request_context().locale
    return Template(
        template_name="courier/addresses.html",
        context={
            "addresses": [
                {
                    "id": a.id,
                    "contact_name": a.contact_name,
                    "phone": mask_phone(a.phone),
                    "district": service.district_name(a.district, locale),
                    "street": a.street,
                }
                for a in await service.addresses_of(int(signed.account.id))
            ],
            "districts": _districts(),
            "form": form or AddressForm(next=_next(request.query_params.get("next", ""))),
            "errors": errors or {},
        },
        status_code=status,
        headers=NO_STORE,
    )


@get("/addresses", name="courier_addresses", guards=[requires_signed_in])
async def address_book(request: Request[Any, Any, Any]) -> Template:
    return await _book(request)


@post("/addresses", name="courier_address_add", guards=[requires_signed_in])
async def address_add(
    request: Request[Any, Any, Any], data: Annotated[AddressForm, FORM_BODY]
) -> Response[Any]:
    signed = await _signed(request)
    if data.field_errors:
        # Unsafe text is not shown back: the fields it was typed in start empty.
        shown = AddressForm(
            **{
                name: "" if name in data.field_errors else getattr(data, name)
                for name in AddressForm.__struct_fields__
            }
        )
        return await _book(request, form=shown, errors=data.field_errors, status=400)
    given = AddressInput(data.contact_name, data.phone, data.district, data.street)
    _cleaned, errors = service.check_address(given)
    if errors:
        return await _book(request, form=data, errors=errors, status=400)
    try:
        await service.add_address(int(signed.account.id), given)
    except CourierError as error:
        return await _book(request, form=data, errors={"street": error.message}, status=400)
    flash(request, _("The address is saved."), "success")
    return Redirect(_next(data.next) or "/addresses", status_code=303)


@post(
    "/addresses/{address_id:int}/delete",
    name="courier_address_delete",
    guards=[requires_signed_in],
)
async def address_delete(
    request: Request[Any, Any, Any], address_id: FromPath[int]
) -> Response[Any]:
    signed = await _signed(request)
    if not 0 < address_id <= MAX_ID or not await service.delete_address(
        int(signed.account.id), address_id
    ):
        raise NotFoundException()
    flash(request, _("The address is deleted."), "success")
    return Redirect("/addresses", status_code=303)


# ---------------------------------------------------------------- on the application page


@dataclass(frozen=True, slots=True)
class Step:
    at: datetime
    label: str
    reason: str
    photo: int | None  # the handover photo, for the applicant
    proof: str  # how the handover was proved, localised; "" when no proof


def _steps(events: list[ShipmentEvent], *, private: bool) -> list[Step]:
    """A shipment's timeline: labels and dates; reasons, proofs and photos only for the
    applicant."""
    return [
        Step(
            at=e.at,
            label=_(ACTION_LABELS.get(e.action, e.action)),
            reason=e.reason if private else "",
            photo=int(e.photo) if private and e.photo else None,
            proof=_(PROOF_LABELS[Proof(e.proof)]) if private and e.proof in PROOF_VALUES else "",
        )
        for e in events
    ]


def _day_choices(today: date) -> list[tuple[str, str]]:
    return [
        ((today + timedelta(days=n)).isoformat(), (today + timedelta(days=n)).isoformat())
        for n in range(service.WINDOW_DAYS + 1)
    ]


async def on_application(
    application: Application,
    items: list[Any],
    entries: list[MaterialEntry],
    cases: list[Case],
) -> dict[str, Any]:
    """The context of courier/_on_application.html for the applicant's own page, from the
    items, materials and cases that page has read already."""
    locale = request_context().locale
    shipments = await service.shipments_of(int(application.id))
    can_pickup = service.pickup_possible(application, items, entries, shipments)
    can_deliver = service.delivery_possible(
        items, any(c.state in (State.APPROVED, State.ISSUED) for c in cases), shipments
    )
    events = await service.events_of([int(s.id) for s in shipments])
    addresses = (
        await service.addresses_of(int(application.applicant)) if can_pickup or can_deliver else []
    )
    to_address, to_locker = service.delivery_options(items)
    return {
        "shipments": [
            {
                "id": s.id,
                "waybill": s.waybill,
                "kind": _(KIND_LABELS[Kind(s.kind)]),
                "status": s.status,
                "status_label": _(STATUS_LABELS[Status(s.status)]),
                "where": service.place(s, locale),
                "window": s.window_start,
                "window_end": s.window_end,
                "free": s.free,
                "steps": _steps(events[int(s.id)], private=True),
                "can_cancel": "cancel"
                in allowed_actions(s.kind, s.status, Actor.APPLICANT, to_locker=bool(s.locker)),
                "sign": s.receipt_document
                if s.status == Status.OUT_FOR_DELIVERY and s.receipt_document
                else None,
                "code_hint": s.status
                in (Status.REQUESTED, Status.ASSIGNED, Status.OUT_FOR_DELIVERY),
                "cancel_key": f"cancel:{s.waybill}",
            }
            for s in shipments
        ],
        "can_pickup": can_pickup,
        "can_deliver": can_deliver,
        "to_address": to_address,
        "to_locker": to_locker,
        "addresses": [
            {
                "id": a.id,
                "contact": a.contact_name,
                "district": service.district_name(a.district, locale),
                "street": a.street,
            }
            for a in addresses
        ],
        "lockers": [(code, service.locker_name(code, locale)) for code in service.LOCKERS],
        "windows": [(slot, _(label)) for slot, label in service.WINDOW_LABELS.items()],
        "days": _day_choices(service.shanghai_today()),
    }


async def on_tracking(application_id: int) -> list[dict[str, Any]]:
    """The public view of an application's shipments: kinds, states and dates, no address,
    no names, no reasons."""
    shipments = await service.shipments_of(application_id)
    events = await service.events_of([int(s.id) for s in shipments])
    return [
        {
            "kind": KIND_LABELS[Kind(s.kind)],
            "status": STATUS_LABELS[Status(s.status)],
            "steps": [(e.at, ACTION_LABELS.get(e.action, e.action)) for e in events[int(s.id)]],
        }
        for s in shipments
    ]


async def _application(request: Request[Any, Any, Any], application_id: int) -> Application:
    from app.applications import service as applications

    if not 0 < application_id <= MAX_ID:
        raise NotFoundException()
    signed = await _signed(request)
    found = await applications.application_of(int(signed.account.id), application_id)
    if found is None:
        raise NotFoundException()
    return found


async def _items(request: Request[Any, Any, Any], application: Application) -> list[Any]:
    from app.applications import service as applications
    from app.catalogue import services as catalogue

    codes = sorted(
        {c for case in await applications.cases_of(int(application.id)) for c in case.items}
    )
    redis = request.app.state.redis
    return [item for code in codes if (item := await catalogue.get_item(redis, code)) is not None]


async def _refused(
    request: Request[Any, Any, Any], application: Application, error: CourierError
) -> Response[Any]:
    from app.applications.citizen import _page

    status = 404 if error.status == 404 else 400 if error.status == 400 else 409
    return await _page(request, application, error=error.message, status=status)


def _anchor(application: Application) -> str:
    return f"/applications/{application.id}#courier"


@post(
    "/applications/{application_id:int}/courier/pickup",
    name="courier_pickup",
    guards=[requires_signed_in],
)
async def ask_pickup(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    data: Annotated[PickupForm, FORM_BODY],
) -> Response[Any]:
    application = await _application(request, application_id)
    signed = await _signed(request)
    try:
        day = date.fromisoformat(data.day[:10])
    except ValueError:
        return await _refused(
            request, application, CourierError("window", _("Please choose a pickup day."))
        )
    try:
        done = await service.request_pickup(
            signed.account,
            application,
            await _items(request, application),
            address_id=data.address if 0 < data.address <= MAX_ID else 0,
            day=day,
            slot=data.slot,
        )
    except CourierError as error:
        return await _refused(request, application, error)
    await send_soon(done.notifications, request.app.state.redis)
    flash(
        request,
        _(
            "A courier will come for your originals. Tell them the handover code we sent you by SMS."
        ),
        "success",
    )
    return Redirect(_anchor(application), status_code=303)


@post(
    "/applications/{application_id:int}/courier/delivery",
    name="courier_delivery",
    guards=[requires_signed_in],
)
async def ask_delivery(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    data: Annotated[DeliveryForm, FORM_BODY],
) -> Response[Any]:
    application = await _application(request, application_id)
    signed = await _signed(request)
    where, _sep, value = data.to.partition(":")
    address_id = int(value) if where == "address" and value.isdigit() and len(value) < 10 else 0
    locker = value if where == "locker" else ""
    if where not in ("address", "locker"):
        return await _refused(
            request,
            application,
            CourierError("to", _("Please choose an address or a licence locker.")),
        )
    try:
        done = await service.request_delivery(
            signed.account,
            application,
            await _items(request, application),
            address_id=address_id,
            locker=locker,
        )
    except CourierError as error:
        return await _refused(request, application, error)
    await send_soon(done.notifications, request.app.state.redis)
    flash(request, _("Your licence will be sent. You can follow it on this page."), "success")
    return Redirect(_anchor(application), status_code=303)


@post(
    "/applications/{application_id:int}/courier/{shipment_id:int}/cancel",
    name="courier_cancel",
    guards=[requires_signed_in],
)
async def cancel(
    request: Request[Any, Any, Any],
    application_id: FromPath[int],
    shipment_id: FromPath[int],
    data: Annotated[KeyForm, FORM_BODY],
) -> Response[Any]:
    application = await _application(request, application_id)
    signed = await _signed(request)
    shipment: Shipment | None = (
        await service.shipment_for_applicant(int(signed.account.id), shipment_id)
        if 0 < shipment_id <= MAX_ID
        else None
    )
    if shipment is None or shipment.application != application.id:
        raise NotFoundException()
    try:
        await service.record(
            int(shipment.id),
            Event(action="cancel", key=f"cancel:{shipment.waybill}"),
            Actor.APPLICANT,
            signed.account,
        )
    except CourierError as error:
        return await _refused(request, application, error)
    flash(request, _("The courier is cancelled."), "success")
    return Redirect(_anchor(application), status_code=303)


ROUTES: list[Any] = [address_book, address_add, address_delete, ask_pickup, ask_delivery, cancel]
