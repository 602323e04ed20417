"""Availability as JSON for kiosks, in the OpenAPI schema (app/catalogue/api.py makes the schema):

    GET /api/v1/centres/{centre_id}/slots?date=YYYY-MM-DD[&group=code]

Public and read-only, like the rest of /api/v1: no session, any origin. Free places change by
the second, so answers are not cached. A date that is not a date, or outside the booking
window, is a 400 with a localised detail.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import NotFoundException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, Parameter
from litestar.response import Response

from app.appointments import slots
from app.catalogue.api import ApiError
from app.core.errors import BadInput, api_error_response
from app.core.i18n import _


class UnknownCentre(NotFoundException):
    localised = True


class SlotOut(msgspec.Struct, frozen=True):
    id: int
    starts_at: datetime  # UTC, ISO 8601
    ends_at: datetime
    capacity: int
    free: int  # places left; expired holds count as free


class GroupSlots(msgspec.Struct, frozen=True):
    group: str  # service group code
    prefix: str  # letter of its queue numbers
    name_zh: str
    name_en: str
    slots: list[SlotOut]


class CentreSlots(msgspec.Struct, frozen=True):
    centre: int
    name_zh: str
    name_en: str
    date: Date
    open: bool  # false on a closed day (a public holiday, a weekend without hours)
    groups: list[GroupSlots]


DateParam = Annotated[
    str,
    Parameter(description="The day, YYYY-MM-DD, within the next 30 days (Beijing time)."),
]
GroupParam = Annotated[
    str | None,
    Parameter(required=False, description="A service group code; all groups without it."),
]


@get(
    "/centres/{centre_id:int}/slots",
    name="api_centre_slots",
    summary="Free places of a service centre on one day",
    cache_control=CacheControlHeader(no_store=True),
    responses={
        400: ResponseSpec(ApiError, description="The date is not valid.", generate_examples=False),
        404: ResponseSpec(ApiError, description="No such centre.", generate_examples=False),
    },
)
async def centre_slots(
    request: Request[Any, Any, Any],
    centre_id: FromPath[int],
    date: DateParam,
    group: GroupParam = None,
) -> CentreSlots:
    place = await slots.centre(centre_id)
    if place is None:
        raise UnknownCentre(detail=_("No service centre has this id."))
    try:
        day = Date.fromisoformat(date) if len(date) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise BadInput(detail=_("date must be a day written YYYY-MM-DD, e.g. 2026-03-02."))
    first, last = slots.window()
    if not first <= day <= last:
        raise BadInput(
            detail=_(
                "date must be from %(first)s to %(last)s.",
                first=first.isoformat(),
                last=last.isoformat(),
            )
        )
    offered = {code for c in await slots.counters_of(int(place.id)) for code in c.groups}
    groups = [g for g in (await slots.groups()).values() if g.code in offered]
    if group is not None:
        groups = [g for g in groups if g.code == group]
        if not groups:
            raise BadInput(detail=_("group is not a service group of this centre."))
    out = []
    for found in groups:
        free = await slots.availability(place, day, found.code)
        out.append(
            GroupSlots(
                group=found.code,
                prefix=found.prefix,
                name_zh=found.name_zh,
                name_en=found.name_en,
                slots=[SlotOut(s.id, s.starts_at, s.ends_at, s.capacity, s.free) for s in free],
            )
        )
    return CentreSlots(
        centre=int(place.id),
        name_zh=place.name_zh,
        name_en=place.name_en,
        date=day,
        open=bool(slots.is_open(slots.hours_of(place), day)),
        groups=out,
    )


def _invalid_parameter(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    keys = {
        str(entry.get("key"))
        for entry in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(entry, dict)
    }
    if "date" in keys or "'date'" in str(exc.detail):
        detail = _("date must be a day written YYYY-MM-DD, e.g. 2026-03-02.")
    else:
        detail = _("A parameter of the request is not valid: {names}.").format(
            names=", ".join(sorted(keys)) or "?"
        )
    return api_error_response(400, detail)


ROUTER = Router(
    path="/api/v1",
    route_handlers=[centre_slots],
    include_in_schema=True,
    tags=["appointments"],
    response_headers=[ResponseHeader(name="Access-Control-Allow-Origin", value="*")],
    exception_handlers={ValidationException: _invalid_parameter},
)
