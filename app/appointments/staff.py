"""Staff pages of the queue (docs/appointments.md): the counter an officer works at, and the
floor manager's wait board. Both need a passkey session.

An officer chooses their counter on /counter; the choice is kept in their session (a counter
is a desk, not a person: whoever sits there takes it for the day) until they leave it or sign
out. Calling, recalling and finishing act only on tickets that counter called.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.tables import Role
from app.appointments import queue, slots
from app.appointments.service import BookingError
from app.appointments.tables import Centre, Counter
from app.core.flash import flash
from app.core.forms import FORM_BODY, Form
from app.core.i18n import _
from app.core.security import NO_STORE
from app.notifications.services import send_soon

OFFICER = [requires_role(Role.OFFICER), requires_passkey_session]
FLOOR = [requires_role(Role.FLOOR_MANAGER, Role.ADMIN), requires_passkey_session]
SESSION_KEY = "appointments_counter"
ACTIONS = {"recall", "serve", "no_show"}


class CounterForm(Form):
    counter: int = 0


async def _counter(request: Request[Any, Any, Any]) -> Counter | None:
    chosen = request.session.get(SESSION_KEY)
    if not isinstance(chosen, int) or not 0 < chosen <= slots.MAX_ID:
        return None
    found: Counter | None = (
        await Counter.objects().where(Counter.id == chosen).output(load_json=True).first()
    )
    return found


def _zh(request: Request[Any, Any, Any]) -> bool:
    from app.core.context import current

    return current().locale == "zh-Hans"


@get("/counter", name="counter", guards=OFFICER)
async def counter_page(request: HTMXRequest) -> Template:
    """The counter; to htmx (every 10 s) only the list of who is waiting for it."""
    counter = await _counter(request)
    if counter is None:
        places = await slots.centres()
        counters = {int(place.id): await slots.counters_of(int(place.id)) for place in places}
        zh = _zh(request)
        names = {
            code: group.name_zh if zh else group.name_en
            for code, group in (await slots.groups()).items()
        }
        # Left in another tab while this one polls: htmx reloads the whole page.
        return Template(
            template_name="appointments/counter_choose.html",
            context={"centres": places, "counters": counters, "group_names": names},
            headers={**NO_STORE, "HX-Refresh": "true"} if request.htmx else NO_STORE,
        )
    place = await Centre.objects().where(Centre.id == counter.centre).first()
    assert place is not None
    groups = await slots.groups()
    current = await queue.current_at(counter)
    now = slots.utcnow()
    waiting = await queue.waiting(int(counter.centre), list(counter.groups), now)
    return Template(
        template_name=(
            "appointments/_counter_waiting.html" if request.htmx else "appointments/counter.html"
        ),
        context={
            "counter": counter,
            "centre": place,
            "groups": [groups[code] for code in counter.groups if code in groups],
            "current": current,
            "current_number": queue.label(current.prefix, current.number) if current else "",
            "max_calls": queue.MAX_CALLS,
            "waiting": [
                {
                    "number": queue.label(row["prefix"], row["number"]),
                    "booked": row["booking"] is not None,
                }
                for row in waiting[:10]
            ],
            "waiting_count": len(waiting),
        },
        headers=NO_STORE,
    )


@post("/counter/choose", name="counter_choose", guards=OFFICER)
async def choose_counter(
    request: Request[Any, Any, Any], data: Annotated[CounterForm, FORM_BODY]
) -> Response[Any]:
    if not 0 < data.counter <= slots.MAX_ID or not await Counter.exists().where(
        Counter.id == data.counter
    ):
        flash(request, _("Choose one of the counters listed."), "error")
        return Redirect("/counter", status_code=303)
    request.set_session({**request.session, SESSION_KEY: data.counter})
    return Redirect("/counter", status_code=303)


@post("/counter/leave", name="counter_leave", guards=OFFICER)
async def leave_counter(request: Request[Any, Any, Any]) -> Response[Any]:
    session = dict(request.session)
    session.pop(SESSION_KEY, None)
    request.set_session(session)
    return Redirect("/counter", status_code=303)


async def _working(request: Request[Any, Any, Any]) -> Counter:
    counter = await _counter(request)
    if counter is None:
        raise NotFoundException()
    return counter


@post("/counter/next", name="counter_next", guards=OFFICER)
async def call_next(request: Request[Any, Any, Any]) -> Response[Any]:
    counter = await _working(request)
    try:
        ticket, sms = await queue.call_next(request.app.state.redis, counter)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect("/counter", status_code=303)
    await send_soon(sms, request.app.state.redis)
    if ticket is None:
        flash(request, _("Nobody is waiting for this counter's services."), "info")
    else:
        flash(
            request,
            _("Called %(number)s.", number=queue.label(ticket.prefix, ticket.number)),
            "success",
        )
    return Redirect("/counter", status_code=303)


@post("/counter/tickets/{ticket_id:int}/{action:str}", name="counter_act", guards=OFFICER)
async def act(
    request: Request[Any, Any, Any], ticket_id: FromPath[int], action: FromPath[str]
) -> Response[Any]:
    counter = await _working(request)
    if action not in ACTIONS:
        raise NotFoundException()
    try:
        sms = await queue.act(request.app.state.redis, counter, ticket_id, action)
    except BookingError as error:
        flash(request, error.message, "error")
        return Redirect("/counter", status_code=303)
    await send_soon(sms, request.app.state.redis)
    return Redirect("/counter", status_code=303)


# ---------------------------------------------------------------- floor managers


@get("/floor", name="floor", guards=FLOOR)
async def floor_page() -> Template:
    return Template(
        template_name="appointments/floor.html",
        context={"centres": await slots.centres()},
        headers=NO_STORE,
    )


@get("/floor/centres/{centre_id:int}", name="floor_board", guards=FLOOR)
async def floor_board(request: HTMXRequest, centre_id: FromPath[int]) -> Template:
    """Every waiting person with their wait so far; over the long-wait setting highlighted
    (a floor manager walks up to them). htmx refreshes the list every 10 s."""
    place = await slots.centre(centre_id)
    if place is None:
        raise NotFoundException()
    settings = request.app.state.settings
    rows, averages = await queue.wait_board(int(place.id), settings.appointments_long_wait_minutes)
    groups = await slots.groups()
    zh = _zh(request)
    context = {
        "centre": place,
        "rows": rows,
        "group_names": {
            code: (group.name_zh if zh else group.name_en) for code, group in groups.items()
        },
        "averages": [
            (group.name_zh if zh else group.name_en, round(averages[code]))
            for code, group in groups.items()
            if code in averages
        ],
        "long_minutes": settings.appointments_long_wait_minutes,
        "long_count": sum(1 for row in rows if row.long),
    }
    name = "appointments/_floor_board.html" if request.htmx else "appointments/floor_board.html"
    return Template(template_name=name, context=context, headers=NO_STORE)


ROUTES: list[Any] = [
    counter_page,
    choose_counter,
    leave_counter,
    call_next,
    act,
    floor_page,
    floor_board,
]
