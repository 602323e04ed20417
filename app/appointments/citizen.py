"""The citizen's pages (docs/appointments.md): centres, booking a slot for an item or an
application, the booking with its QR, confirm / cancel / reschedule (signed in, or signed out
by the SMS link's token for that one booking), check-in, walk-in numbers and the ticket page
that follows the queue by itself.

Every page is a plain form that works without JavaScript; htmx polls the ticket page and the
hall display. Someone else's booking is not found, never forbidden.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, cast

import segno
from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.accounts.guards import requires_signed_in
from app.accounts.tables import Account
from app.applications import service as applications
from app.appointments import queue, service, slots
from app.appointments.service import BookingError, Purpose
from app.appointments.tables import Booking, BookingState, Centre, Slot
from app.catalogue import services as catalogue
from app.core.context import current as request_context
from app.core.display import LOCAL_ZONE
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.ratelimit import allow
from app.core.security import NO_STORE
from app.notifications.services import send_soon

STATE_LABELS = {
    BookingState.HELD: N_("Held for you: confirm it"),
    BookingState.CONFIRMED: N_("Booked"),
    BookingState.CHECKED_IN: N_("Checked in"),
    BookingState.CANCELLED: N_("Cancelled"),
    BookingState.EXPIRED: N_("Not confirmed in time"),
}
DAY_KIND_LABELS = {
    "workday": N_("Working days"),
    "saturday": N_("Saturdays"),
    "sunday": N_("Sundays"),
    "holiday": N_("Public holidays"),
}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))


class SlotForm(Form):
    slot: int = 0
    item: str = ""
    application: int = 0


def _zh() -> bool:
    return request_context().locale == "zh-Hans"


def local_name(obj: Any, field: str = "name") -> str:
    return str(getattr(obj, f"{field}_zh" if _zh() else f"{field}_en"))


async def _signed(request: Request[Any, Any, Any]) -> Account:
    signed = await accounts.current(request)
    assert signed is not None  # the guard ran
    return signed.account


async def centre_or_404(centre_id: int) -> Centre:
    found = await slots.centre(centre_id)
    if found is None:
        raise NotFoundException()
    return found


def _parse_day(text: str | None) -> date | None:
    if not text or len(text) != 10:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def hours_lines(place: Centre) -> list[tuple[str, str]]:
    hours = slots.hours_of(place)
    return [
        (
            _(DAY_KIND_LABELS[kind]),
            "、".join(hours[kind]) if _zh() else ", ".join(hours[kind]),
        )
        for kind in slots.DAY_KINDS
        if hours.get(kind)
    ]


def _day_label(day: date) -> str:
    weekday = _(WEEKDAYS[day.weekday()])
    return f"{day.month}月{day.day}日 {weekday}" if _zh() else f"{weekday} {day:%d %b}"


def _materials(booking: Booking) -> list[dict[str, str]]:
    found = booking.materials
    return cast("list[dict[str, str]]", found if isinstance(found, list) else [])


def _time(moment: datetime) -> str:
    return moment.astimezone(LOCAL_ZONE).strftime("%H:%M")


# ---------------------------------------------------------------- what a booking is for


async def _purpose(
    request: Request[Any, Any, Any], account: Account, item: str, application: int
) -> tuple[Purpose, slots.Group] | None:
    """The item or the person's own application a booking is for, with its service group."""
    if application:
        found = await applications.application_of(int(account.id), application)
        if found is None:
            return None
        cases = await applications.cases_of(int(found.id))
        if not cases:
            return None
        department = await _department_code(int(cases[0].department))
        entries = await applications.entries_of(int(found.id))
        materials = [{"zh": e.name_zh, "en": e.name_en} for e in entries]
        group = await slots.group_of_department(department)
        if group is None:
            return None
        return (
            Purpose(found.item_code, int(found.id), found.title_zh, found.title_en, materials),
            group,
        )
    detail = await catalogue.get_item(request.app.state.redis, item[:60]) if item else None
    if detail is None:
        return None
    group = await slots.group_of_department(detail.department)
    if group is None:
        return None
    materials = [
        {"zh": m.name_zh, "en": m.name_en}
        for m in detail.materials
        if m.condition is None and m.required
    ]
    return Purpose(detail.code, None, detail.name_zh, detail.name_en, materials), group


async def _department_code(department_id: int) -> str:
    from app.catalogue.tables import Department

    row = await Department.select(Department.code).where(Department.id == department_id).first()
    return str(row["code"]) if row else ""


def _purpose_query(item: str, application: int) -> str:
    return f"application={application}" if application else f"item={item}"


# ---------------------------------------------------------------- booking


@get("/appointments/book", name="book_choose_centre", guards=[requires_signed_in])
async def choose_centre(
    request: Request[Any, Any, Any], item: FromQuery[str] = "", application: FromQuery[int] = 0
) -> Template:
    account = await _signed(request)
    found = await _purpose(request, account, item, application)
    return Template(
        template_name="appointments/choose_centre.html",
        context={
            "purpose": found[0] if found else None,
            "group": found[1] if found else None,
            "query": _purpose_query(item, application),
            "centres": await slots.centres() if found else [],
        },
        headers=NO_STORE,
    )


@dataclass(frozen=True, slots=True)
class DayChoice:
    day: date
    label: str
    open: bool | None


async def _slot_context(place: Centre, group: str, day_text: str | None) -> dict[str, Any]:
    days = [
        DayChoice(day, _day_label(day), is_open) for day, is_open in await slots.open_days(place)
    ]
    asked = _parse_day(day_text)
    error = ""
    if day_text and asked is None:
        error = _("That date is not valid. Choose one of the days shown.")
    chosen = asked if asked in {d.day for d in days} else None
    if asked is not None and chosen is None:
        error = _("Bookings open %(days)s days ahead at most.", days=slots.WINDOW_DAYS)
    free: list[slots.Free] = []
    if chosen is None:
        for choice in days:
            if choice.open and (free := await slots.availability(place, choice.day, group)):
                chosen = choice.day
                break
    else:
        free = await slots.availability(place, chosen, group)
    return {
        "days": days,
        "chosen": chosen,
        "chosen_label": _day_label(chosen) if chosen else "",
        "slots": [(s, _time(s.starts_at), _time(s.ends_at)) for s in free],
        "day_error": error,
        "unknown": any(d.open is None for d in days),
    }


@get("/appointments/book/{centre_id:int}", name="book_slots", guards=[requires_signed_in])
async def choose_slot(
    request: Request[Any, Any, Any],
    centre_id: FromPath[int],
    item: FromQuery[str] = "",
    application: FromQuery[int] = 0,
    date: FromQuery[str] = "",
) -> Template:
    place = await centre_or_404(centre_id)
    account = await _signed(request)
    found = await _purpose(request, account, item, application)
    if found is None:
        raise NotFoundException()
    purpose, group = found
    context = await _slot_context(place, group.code, date)
    return Template(
        template_name="appointments/slots.html",
        context={
            **context,
            "centre": place,
            "purpose": purpose,
            "group": group,
            "item": purpose.item_code if not purpose.application_id else "",
            "application": purpose.application_id or 0,
            "query": _purpose_query(item, application),
            "action": f"/appointments/book/{place.id}",
            "page": f"/appointments/book/{place.id}",
            "current": 0,
            "reschedule": False,
        },
        headers=NO_STORE,
    )


async def _limited(request: Request[Any, Any, Any], account: Account) -> bool:
    """Per account and per client address: holds started this hour (slot-hoarding bots)."""
    settings = request.app.state.settings
    redis = request.app.state.redis
    return not (
        await allow(
            redis,
            "booking_hold_account",
            str(account.id),
            settings.appointments_holds_per_account_hour,
            3600,
        )
        and await allow(
            redis,
            "booking_hold_ip",
            request_context().client_ip,
            settings.appointments_holds_per_ip_hour,
            3600,
        )
    )


@post("/appointments/book/{centre_id:int}", name="book_hold", guards=[requires_signed_in])
async def book(
    request: Request[Any, Any, Any],
    centre_id: FromPath[int],
    data: Annotated[SlotForm, FORM_BODY],
) -> Response[Any]:
    place = await centre_or_404(centre_id)
    account = await _signed(request)
    back = f"/appointments/book/{place.id}?{_purpose_query(data.item, data.application)}"
    found = await _purpose(request, account, data.item, data.application)
    if found is None:
        raise NotFoundException()
    if await _limited(request, account):
        flash(
            request,
            _("Too many bookings started in the last hour. Please try again later."),
            "error",
        )
        return Redirect(back, status_code=303)
    slot = (
        await Slot.objects().where(Slot.id == data.slot).first()
        if 0 < data.slot <= slots.MAX_ID
        else None
    )
    if slot is None or slot.centre != place.id or slot.group != found[1].code:
        flash(request, _("That time is not offered. Please choose another time."), "error")
        return Redirect(back, status_code=303)
    try:
        booking = await service.hold(account, int(slot.id), found[0])
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(f"{back}&date={slot.day.isoformat()}", status_code=303)
    return Redirect(f"/bookings/{booking.id}", status_code=303)


# ---------------------------------------------------------------- the person's bookings


@get("/bookings", name="bookings", guards=[requires_signed_in])
async def my_bookings(request: Request[Any, Any, Any]) -> Template:
    account = await _signed(request)
    now = slots.utcnow()
    rows = [
        {
            "id": row["id"],
            "title": row["title_zh"] if _zh() else row["title_en"],
            "centre": row["centre_zh"] if _zh() else row["centre_en"],
            "when": f"{_day_label(row['day'])} {_time(row['starts_at'])}",
            "state": _("Time passed")
            if row["state"] == BookingState.CONFIRMED and row["starts_at"] < now
            else _(STATE_LABELS[BookingState(row["state"])]),
        }
        for row in await service.bookings_of(int(account.id))
    ]
    return Template(
        template_name="appointments/bookings.html", context={"rows": rows}, headers=NO_STORE
    )


async def _mine(request: Request[Any, Any, Any], booking_id: int) -> Booking:
    account = await _signed(request)
    found = await service.booking_of(int(account.id), booking_id)
    if found is None:
        raise NotFoundException()
    return found


async def _booking_page(
    request: Request[Any, Any, Any], booking: Booking, base: str, *, owner: bool
) -> Template:
    slot = await Slot.objects().where(Slot.id == booking.slot).first()
    place = await Centre.objects().where(Centre.id == booking.centre).output(load_json=True).first()
    assert slot is not None and place is not None
    now = slots.utcnow()
    ticket = await queue.ticket_of_booking(int(booking.id))
    in_slot = slot.starts_at - service.EARLY_CHECKIN <= now < slot.ends_at
    return Template(
        template_name="appointments/booking.html",
        context={
            "booking": booking,
            "centre": place,
            "title": local_name(booking, "title"),
            "state_label": _(STATE_LABELS[BookingState(booking.state)]),
            "when": f"{_day_label(slot.day)} {_time(slot.starts_at)}–{_time(slot.ends_at)}",
            "hold_minutes": service.minutes_until(booking.hold_until, now)
            if booking.hold_until
            else 0,
            "hold_until": _time(booking.hold_until) if booking.hold_until else "",
            "materials": [m["zh"] if _zh() else m["en"] for m in _materials(booking)],
            "changeable": booking.state == BookingState.CONFIRMED and slot.starts_at > now,
            "can_arrive": booking.state == BookingState.CONFIRMED and in_slot,
            "ticket": queue.ticket_ref(int(ticket.id)) if ticket else "",
            "base": base,
            "owner": owner,
            "checkin_url": f"{request.app.state.settings.public_url}/checkin/{service.checkin_ref(int(booking.id))}",
        },
        headers=NO_STORE,
    )


@get("/bookings/{booking_id:int}", name="booking", guards=[requires_signed_in])
async def booking_page(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Template:
    booking = await _mine(request, booking_id)
    return await _booking_page(request, booking, f"/bookings/{booking.id}", owner=True)


@get("/bookings/{booking_id:int}/qr.svg", name="booking_qr", guards=[requires_signed_in])
async def booking_qr(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Response[bytes]:
    """The check-in QR that the centre's scanner (or the person's own camera) opens."""
    booking = await _mine(request, booking_id)
    url = f"{request.app.state.settings.public_url}/checkin/{service.checkin_ref(int(booking.id))}"
    buffer = io.BytesIO()
    # Never a Micro QR (segno.make picks one for short data): phone cameras skip those.
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", xmldecl=False, scale=4, border=4, svgclass=None, lineclass=None
    )
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers=NO_STORE)


@post("/bookings/{booking_id:int}/confirm", name="booking_confirm", guards=[requires_signed_in])
async def confirm(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Response[Any]:
    booking = await _mine(request, booking_id)
    account = await _signed(request)
    try:
        sent = await service.confirm(account, booking, request.app.state.settings.public_url)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(f"/bookings/{booking.id}", status_code=303)
    await send_soon(sent, request.app.state.redis)
    flash(request, _("Booked. A text message with the details is on its way."), "success")
    return Redirect(f"/bookings/{booking.id}", status_code=303)


async def _cancel(request: Request[Any, Any, Any], booking: Booking, base: str) -> Response[Any]:
    try:
        await service.cancel(booking)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(base, status_code=303)
    flash(request, _("The booking is cancelled and the place given back."), "success")
    return Redirect(base, status_code=303)


@post("/bookings/{booking_id:int}/cancel", name="booking_cancel", guards=[requires_signed_in])
async def cancel(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Response[Any]:
    booking = await _mine(request, booking_id)
    return await _cancel(request, booking, f"/bookings/{booking.id}")


async def _reschedule_page(
    request: Request[Any, Any, Any], booking: Booking, base: str, day_text: str
) -> Template:
    place = await Centre.objects().where(Centre.id == booking.centre).output(load_json=True).first()
    assert place is not None
    groups = await slots.groups()
    context = await _slot_context(place, booking.group, day_text)
    return Template(
        template_name="appointments/slots.html",
        context={
            **context,
            "centre": place,
            "purpose": booking,
            "group": groups.get(booking.group),
            "item": "",
            "application": 0,
            "query": "",
            "action": f"{base}/reschedule",
            "page": f"{base}/reschedule",
            "current": booking.slot,
            "reschedule": True,
        },
        headers=NO_STORE,
    )


async def _reschedule(
    request: Request[Any, Any, Any], booking: Booking, base: str, slot_id: int
) -> Response[Any]:
    try:
        await service.reschedule(booking, slot_id)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(f"{base}/reschedule", status_code=303)
    flash(request, _("Your booking has its new time."), "success")
    return Redirect(base, status_code=303)


@get(
    "/bookings/{booking_id:int}/reschedule",
    name="booking_reschedule_page",
    guards=[requires_signed_in],
)
async def reschedule_page(
    request: Request[Any, Any, Any], booking_id: FromPath[int], date: FromQuery[str] = ""
) -> Template:
    booking = await _mine(request, booking_id)
    return await _reschedule_page(request, booking, f"/bookings/{booking.id}", date)


@post(
    "/bookings/{booking_id:int}/reschedule", name="booking_reschedule", guards=[requires_signed_in]
)
async def reschedule(
    request: Request[Any, Any, Any], booking_id: FromPath[int], data: Annotated[SlotForm, FORM_BODY]
) -> Response[Any]:
    booking = await _mine(request, booking_id)
    return await _reschedule(request, booking, f"/bookings/{booking.id}", data.slot)


async def _arrive(request: Request[Any, Any, Any], booking: Booking, back: str) -> Response[Any]:
    try:
        ticket = await queue.check_in(booking)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(back, status_code=303)
    return Redirect(f"/tickets/{queue.ticket_ref(int(ticket.id))}", status_code=303)


@post("/bookings/{booking_id:int}/arrive", name="booking_arrive", guards=[requires_signed_in])
async def arrive(request: Request[Any, Any, Any], booking_id: FromPath[int]) -> Response[Any]:
    """ "I'm here" from the booking page during the slot."""
    booking = await _mine(request, booking_id)
    return await _arrive(request, booking, f"/bookings/{booking.id}")


# ---------------------------------------------------------------- by the SMS link, signed out


async def _by_token(token: str) -> Booking:
    found = await service.booking_by_token(token)
    if found is None:
        raise NotFoundException()
    return found


@get("/bookings/manage/{token:str}", name="booking_manage")
async def manage_page(request: Request[Any, Any, Any], token: FromPath[str]) -> Template:
    booking = await _by_token(token)
    return await _booking_page(request, booking, f"/bookings/manage/{token}", owner=False)


@post("/bookings/manage/{token:str}/cancel", name="booking_manage_cancel")
async def manage_cancel(request: Request[Any, Any, Any], token: FromPath[str]) -> Response[Any]:
    booking = await _by_token(token)
    return await _cancel(request, booking, f"/bookings/manage/{token}")


@get("/bookings/manage/{token:str}/reschedule", name="booking_manage_reschedule_page")
async def manage_reschedule_page(
    request: Request[Any, Any, Any], token: FromPath[str], date: FromQuery[str] = ""
) -> Template:
    booking = await _by_token(token)
    return await _reschedule_page(request, booking, f"/bookings/manage/{token}", date)


@post("/bookings/manage/{token:str}/reschedule", name="booking_manage_reschedule")
async def manage_reschedule(
    request: Request[Any, Any, Any], token: FromPath[str], data: Annotated[SlotForm, FORM_BODY]
) -> Response[Any]:
    booking = await _by_token(token)
    return await _reschedule(request, booking, f"/bookings/manage/{token}", data.slot)


# ---------------------------------------------------------------- check-in and numbers


async def _by_checkin(ref: str) -> Booking:
    found = await service.booking_by_checkin(ref[:40])
    if found is None:
        raise NotFoundException()
    return found


@get("/checkin/{ref:str}", name="checkin_page")
async def checkin_page(ref: FromPath[str]) -> Template:
    """What the booking's QR opens: a button, since a GET must change nothing."""
    booking = await _by_checkin(ref)
    place = await Centre.objects().where(Centre.id == booking.centre).first()
    slot = await Slot.objects().where(Slot.id == booking.slot).first()
    assert place is not None and slot is not None
    ticket = await queue.ticket_of_booking(int(booking.id))
    return Template(
        template_name="appointments/checkin.html",
        context={
            "ref": ref,
            "centre": place,
            "title": local_name(booking, "title"),
            "when": f"{_day_label(slot.day)} {_time(slot.starts_at)}–{_time(slot.ends_at)}",
            "state": booking.state,
            "state_label": _(STATE_LABELS[BookingState(booking.state)]),
            "ticket": queue.ticket_ref(int(ticket.id)) if ticket else "",
        },
        headers=NO_STORE,
    )


@post("/checkin/{ref:str}", name="checkin")
async def checkin(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    booking = await _by_checkin(ref)
    return await _arrive(request, booking, f"/checkin/{ref}")


ROUTES: list[Any] = [
    choose_centre,
    choose_slot,
    book,
    my_bookings,
    booking_page,
    booking_qr,
    confirm,
    cancel,
    reschedule_page,
    reschedule,
    arrive,
    manage_page,
    manage_cancel,
    manage_reschedule_page,
    manage_reschedule,
    checkin_page,
    checkin,
]
