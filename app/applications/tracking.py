"""Tracking (一码通): anyone holding an application's code sees where it stands.

    GET /track                      a form to type a code (a plain GET form, no script needed)
    GET /track?code=…               normalised and sent on to /track/{code}, or a 400 saying why
    GET /track/{code}               status and timeline; the applicant, signed in, sees it all
    GET /track/{code}/qr.svg        a QR code of the tracking page's public address
    GET /api/v1/track/{code}        the public view as JSON (in the OpenAPI schema)

What a code holder sees is what a counter clerk would read out to someone with the receipt:
the titles, the states, the dates. Never a name, a phone number or an officer's reasons —
those are the applicant's (service.Event.reason says so) and appear only when the applicant
is signed in. A draft is not shown to anyone else at all: nothing was filed yet.

Lookups are counted per client address (app/core/ratelimit.py): a code is a bearer secret of
about 40 bits a year, and the limit keeps guessing far slower than it would need to be
(OWASP Authentication Cheat Sheet, "Protect against automated attacks").
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import segno
from litestar import Request, Router, get
from litestar.datastructures import CacheControlHeader, ResponseHeader
from litestar.exceptions import HTTPException, NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Response, Template

from app.accounts import services as accounts
from app.applications import service
from app.applications.machine import STATE_LABELS
from app.applications.schemas import Tracked, TrackedCase, TrackedEvent
from app.applications.tables import Application, Case, MaterialEntry, Obligation, State
from app.catalogue.api import ApiError
from app.core.context import current as request_context
from app.core.i18n import _, translations
from app.core.page_cache import page_cache
from app.core.ratelimit import allow
from app.core.security import NO_STORE
from app.courier.citizen import on_tracking as courier_timeline

LOOKUPS_PER_MINUTE = 30  # the default of TONGBAN_TRACK_LOOKUPS_PER_MINUTE, for the schema text
RATE_BUCKET = "track_lookup"
QR_CACHE = {"Cache-Control": "public, max-age=86400"}  # the image depends on the code alone


class UnknownCode(NotFoundException):
    localised = True  # app/core/errors.py shows the detail as it is


class TooManyLookups(HTTPException):
    status_code = 429
    localised = True


def _unknown() -> UnknownCode:
    return UnknownCode(detail=_("No application has this tracking code. Check it and try again."))


async def _count_lookup(request: Request[Any, Any, Any]) -> None:
    if not await allow(
        request.app.state.redis,
        RATE_BUCKET,
        request_context().client_ip,
        request.app.state.settings.track_lookups_per_minute,
    ):
        raise TooManyLookups(
            detail=_(
                "Too many tracking codes were looked up from your network. Please wait a minute and try again."
            )
        )


# ---------------------------------------------------------------- what a code holder sees


@dataclass(frozen=True, slots=True)
class View:
    application: Application
    cases: list[Case]
    events: list[service.Event]
    owner: bool  # the signed-in applicant: reasons, owed materials, a link to the application
    owed: list[MaterialEntry]
    shipments: list[dict[str, Any]]  # courier: kinds, states and dates (app/courier)


async def _view(code: str, account_id: int | None) -> View | None:
    application = await service.application_by_code(code)
    if application is None:
        return None
    owner = account_id is not None and int(application.applicant) == account_id
    if application.state == State.DRAFT and not owner:
        return None
    owed = []
    if owner:
        owed = [
            entry
            for entry in await service.entries_of(int(application.id))
            if entry.obligation == Obligation.OWED
        ]
    return View(
        application=application,
        cases=await service.cases_of(int(application.id)),
        events=await service.timeline(int(application.id), int(application.applicant)),
        owner=owner,
        owed=owed,
        shipments=await courier_timeline(int(application.id)),
    )


def _label(msgid: str, locale: str) -> str:
    return translations(locale).gettext(msgid)


def public_view(view: View) -> Tracked:
    """The JSON of the public view: labels in both languages, no reasons, no people."""
    application = view.application
    state = State(application.state)
    return Tracked(
        code=application.code,
        title_zh=application.title_zh,
        title_en=application.title_en,
        state=state.value,
        state_label_zh=_label(STATE_LABELS[state], "zh-Hans"),
        state_label_en=_label(STATE_LABELS[state], "en"),
        cases=[
            TrackedCase(
                title_zh=case.title_zh,
                title_en=case.title_en,
                state=case.state,
                promised_due=case.promised_due,
            )
            for case in view.cases
        ],
        events=[
            TrackedEvent(
                at=event.at,
                action=event.action,
                label_zh=_label(event.label, "zh-Hans"),
                label_en=_label(event.label, "en"),
                to_state=event.to_state,
            )
            for event in view.events
        ],
    )


# ---------------------------------------------------------------- pages


def _form(code: str = "", error: str | None = None, status: int = 200) -> Template:
    return Template(
        template_name="tracking/form.html",
        context={"code": code, "error": error},
        status_code=status,
    )


@get("/track", name="track")
async def track_form(
    request: Request[Any, Any, Any], code: FromQuery[str | None] = None
) -> Response[Any] | Template | Redirect:
    if code is None:
        return await page_cache(request).page(
            request, "tracking/form.html", {"code": "", "error": None}
        )
    parsed = service.parse_code(code)
    if parsed is None:
        return _form(
            code[:40],
            _(
                "That is not a tracking code. A code is a year and 8 letters or digits, "
                "like 2026-ABCD-2345."
            ),
            400,
        )
    return Redirect(f"/track/{parsed}", status_code=303)


@get("/track/{code:str}", name="track_code")
async def track_page(
    request: Request[Any, Any, Any], code: FromPath[str]
) -> Response[Any] | Template | Redirect:
    parsed = service.parse_code(code)
    if parsed is None:
        raise _unknown()
    if parsed != code:  # 2026-abcd-2345 → 2026ABCD2345: one address per application
        return Redirect(f"/track/{parsed}", status_code=301)
    await _count_lookup(request)
    signed = await accounts.current(request)
    url = f"{request.app.state.settings.public_url}/track/{parsed}"
    if signed is None:
        # The public view changes only with the application's version: rendered once per
        # version, its cases and timeline are read only then.
        application = await service.application_by_code(parsed)
        if application is None or application.state == State.DRAFT:
            raise _unknown()

        async def public() -> dict[str, Any]:
            view = await _view(parsed, None)
            if view is None:
                raise _unknown()
            return _context(view, parsed, url)

        return await page_cache(request).page(
            request,
            "tracking/page.html",
            public,
            key=(application.id, application.version),
            headers=NO_STORE,
        )
    view = await _view(parsed, int(signed.account.id))
    if view is None:
        raise _unknown()
    return Template(
        template_name="tracking/page.html", context=_context(view, parsed, url), headers=NO_STORE
    )


def _context(view: View, code: str, url: str) -> dict[str, Any]:
    return {
        "view": view,
        "display_code": service.display_code(code),
        "state_labels": STATE_LABELS,
        "state": State(view.application.state),
        "url": url,
    }


@get("/track/{code:str}/qr.svg", name="track_qr")
async def track_qr(request: Request[Any, Any, Any], code: FromPath[str]) -> Response[bytes]:
    """The QR of any well-formed code, without looking it up: it tells nothing about whether
    the application exists, so it needs no rate limit and may be cached anywhere."""
    if service.parse_code(code) != code:
        raise _unknown()
    url = f"{request.app.state.settings.public_url}/track/{code}"
    # Never a Micro QR (segno.make picks one for short data): phone cameras skip those.
    buffer = io.BytesIO()
    segno.make_qr(url, error="m").save(
        buffer, kind="svg", xmldecl=False, scale=4, border=4, svgclass=None, lineclass=None
    )
    return Response(buffer.getvalue(), media_type="image/svg+xml", headers=QR_CACHE)


# ---------------------------------------------------------------- the JSON API


@get(
    "/track/{code:str}",
    name="api_track",
    summary="Where an application stands, by its tracking code",
    description="Dashes, spaces and lower case in the code are accepted. Lookups are "
    f"limited to {LOOKUPS_PER_MINUTE} a minute per client address.",
    responses={
        404: ResponseSpec(
            ApiError, description="No application has this code.", generate_examples=False
        ),
        429: ResponseSpec(
            ApiError,
            description="Too many lookups from this address; wait a minute.",
            generate_examples=False,
        ),
    },
)
async def track_api(request: Request[Any, Any, Any], code: FromPath[str]) -> Tracked:
    parsed = service.parse_code(code)
    if parsed is None:
        raise _unknown()
    await _count_lookup(request)
    view = await _view(parsed, None)
    if view is None:
        raise _unknown()
    return public_view(view)


API = Router(
    path="/api/v1",
    route_handlers=[track_api],
    include_in_schema=True,
    tags=["tracking"],
    cache_control=CacheControlHeader(public=True, max_age=30),
    response_headers=[ResponseHeader(name="Access-Control-Allow-Origin", value="*")],
)

ROUTES: list[Any] = [track_form, track_page, track_qr, API]
