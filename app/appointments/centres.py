"""A centre's own pages (docs/appointments.md): the list of centres and each centre, the walk-in
page behind the QR at the entrance (a number without a booking, no daily cap), the ticket page
that follows a number by itself, and the hall display of the numbers being called.

All public: a ticket page is addressed by the ticket's id and a MAC of it (queue.ticket_ref),
so whoever holds the number slip or the link follows it and nobody can guess another's.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.appointments import queue, slots
from app.appointments.citizen import centre_or_404, hours_lines, local_name
from app.appointments.service import BookingError
from app.appointments.tables import Centre, Counter, Ticket, TicketState
from app.core.context import current as request_context
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import N_, _
from app.core.page_cache import page_cache
from app.core.ratelimit import allow
from app.core.security import NO_STORE

TICKET_LABELS = {
    TicketState.WAITING: N_("Waiting"),
    TicketState.CALLED: N_("Called"),
    TicketState.SERVED: N_("Served"),
    TicketState.NO_SHOW: N_("Missed"),
}


class GroupForm(Form):
    group: str = ""


# ---------------------------------------------------------------- centres


@get("/centres", name="centres")
async def centres_page(request: Request[Any, Any, Any]) -> Response[Any]:
    """The same for everyone: rendered once per language and mode while the centres stay as
    they are (app/core/page_cache.py); a hit costs no query and no formatting."""
    shown = await slots.shown(request.app.state.redis)

    async def context() -> dict[str, Any]:
        places = shown.centres
        return {"centres": places, "hours": {c.id: hours_lines(c) for c in places}}

    return await page_cache(request).page(
        request, "appointments/centres.html", context, key=shown.all_facts
    )


@get("/centres/{centre_id:int}", name="centre")
async def centre_page(request: Request[Any, Any, Any], centre_id: FromPath[int]) -> Response[Any]:
    shown = await slots.shown(request.app.state.redis)
    place = shown.by_id.get(centre_id)
    if place is None:
        raise NotFoundException()
    today_open = slots.is_open(slots.hours_of(place), slots.today())

    async def context() -> dict[str, Any]:
        return {"centre": place, "hours": hours_lines(place), "open_today": today_open}

    return await page_cache(request).page(
        request,
        "appointments/centre.html",
        context,
        key=(shown.facts[centre_id], today_open),
    )


@get("/centres/{centre_id:int}/ticket", name="walk_in_page")
async def walk_in_page(centre_id: FromPath[int]) -> Template:
    """The centre's QR at the entrance leads here: take a number, no booking needed."""
    place = await centre_or_404(centre_id)
    offered = {
        code for counter in await slots.counters_of(int(place.id)) for code in counter.groups
    }
    groups = [g for g in (await slots.groups()).values() if g.code in offered]
    return Template(
        template_name="appointments/walk_in.html",
        context={
            "centre": place,
            "groups": groups,
            "open_today": slots.is_open(slots.hours_of(place), slots.today()),
        },
        headers=NO_STORE,
    )


@post("/centres/{centre_id:int}/ticket", name="walk_in")
async def walk_in(
    request: Request[Any, Any, Any], centre_id: FromPath[int], data: Annotated[GroupForm, FORM_BODY]
) -> Response[Any]:
    place = await centre_or_404(centre_id)
    settings = request.app.state.settings
    if not await allow(
        request.app.state.redis,
        "walk_in_ip",
        request_context().client_ip,
        settings.appointments_tickets_per_ip_hour,
        3600,
    ):
        flash(
            request,
            _("Too many numbers taken from this device. Please ask at the front desk."),
            "error",
        )
        return Redirect(f"/centres/{place.id}/ticket", status_code=303)
    signed = await accounts.current(request)
    try:
        ticket = await queue.walk_in(
            place, data.group[:40], int(signed.account.id) if signed else None
        )
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect(f"/centres/{place.id}/ticket", status_code=303)
    return Redirect(f"/tickets/{queue.ticket_ref(int(ticket.id))}", status_code=303)


async def centre_of(centre_id: int) -> Centre:
    """A centre whether active or not: a ticket taken before it closed still shows."""
    found = await Centre.objects().where(Centre.id == centre_id).first()
    assert found is not None  # a ticket's centre is a foreign key
    return found


async def _ticket(ref: str) -> Ticket:
    found = await queue.ticket_by_ref(ref[:40])
    if found is None:
        raise NotFoundException()
    return found


@get("/tickets/{ref:str}", name="ticket")
async def ticket_page(request: HTMXRequest, ref: FromPath[str]) -> Template:
    """The person's number: position and estimated wait, then "called — counter 5". htmx
    asks again every few seconds and gets the status fragment only."""
    ticket = await _ticket(ref)
    redis = request.app.state.redis
    shown = await slots.shown(redis)
    place = shown.by_id.get(int(ticket.centre)) or await centre_of(int(ticket.centre))
    standing = (
        await queue.standing(redis, ticket, request.app.state.settings.appointments_service_minutes)
        if ticket.state == TicketState.WAITING
        else None
    )
    counter = next(
        (
            c.number
            for c in await queue.centre_counters(redis, int(ticket.centre))
            if c.id == ticket.counter
        ),
        None,
    )
    if counter is None and ticket.counter is not None:  # a counter added since the centres loaded
        found = await Counter.select(Counter.number).where(Counter.id == ticket.counter).first()
        counter = found["number"] if found else None
    group = shown.groups.get(ticket.group)
    context = {
        "ticket": ticket,
        "ref": ref,
        "number": queue.label(ticket.prefix, ticket.number),
        "centre": place,
        "group": local_name(group) if group else "",
        "state_label": _(TICKET_LABELS[TicketState(ticket.state)]),
        "standing": standing,
        "counter": counter,
        "live": ticket.state in (TicketState.WAITING, TicketState.CALLED),
    }
    name = "appointments/_ticket_status.html" if request.htmx else "appointments/ticket.html"
    return Template(template_name=name, context=context, headers=NO_STORE)


@get("/centres/{centre_id:int}/board", name="hall_board")
async def hall_board(request: HTMXRequest, centre_id: FromPath[int]) -> Response[Any]:
    """The hall display: numbers called and their counter, never a name. htmx refreshes the
    list; a display without JavaScript reloads by the Refresh header. Both come from memory
    (queue.CALLS, slots.CACHE): the whole page from the page cache until the next call."""
    redis = request.app.state.redis
    shown = await slots.shown(redis)
    place = shown.by_id.get(centre_id)
    if place is None:
        raise NotFoundException()
    rows = await queue.hall_numbers(redis, centre_id, slots.today())
    context = {"centre": place, "rows": rows}
    headers = {**NO_STORE, "Refresh": "30"}
    if request.htmx:
        return Template(template_name="appointments/_board.html", context=context, headers=headers)
    return await page_cache(request).page(
        request,
        "appointments/board.html",
        context,
        key=(shown.facts[centre_id], rows),
        headers=headers,
    )


ROUTES: list[Any] = [centres_page, centre_page, walk_in_page, walk_in, ticket_page, hall_board]
