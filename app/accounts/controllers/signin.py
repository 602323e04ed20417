"""Sign in by SMS code or passkey, and sign out."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.params import FromQuery, JSONBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts import passkeys, services, sms
from app.accounts.controllers._shared import go
from app.accounts.phone import national
from app.accounts.schemas import CodeForm, PasskeySignIn, PhoneForm
from app.accounts.tables import Account
from app.config import get_settings
from app.core.context import current as request_context
from app.core.flash import flash
from app.core.forms import FORM_BODY
from app.core.i18n import _
from app.core.page_cache import page_cache
from app.core.preferences import safe_next
from app.core.ratelimit import allow
from app.core.security import NO_STORE


def ticket_cookie(https: bool) -> str:
    """The cookie that carries the ticket of the code this device asked for (app/accounts/sms).
    A cookie, not the session: asking for a code must work while Redis is away (the outbox
    sends it later). Under HTTPS it takes the __Host- prefix, so no subdomain can plant one."""
    return "__Host-tongban_sms_ticket" if https else "tongban_sms_ticket"


_FIRST_STEP = {
    "step": "phone",
    "next": "/account",
    "phone": "",
    "phone_input": "",
    "error": None,
    "error_field": None,
}


def _sms_page(request: HTMXRequest, context: dict[str, Any], status: int = 200) -> Template:
    base = {**_FIRST_STEP, **context}
    name = "signin/_sms.html" if request.htmx else "signin/page.html"
    return Template(template_name=name, context=base, status_code=status, headers=NO_STORE)


def _landing(signed_in: Account, target: str, has_key: bool) -> str:
    if services.is_staff(signed_in) and not has_key:
        return "/account?setup=passkey"
    return safe_next(target)


@get("/signin", name="signin")
async def signin_page(request: HTMXRequest, next: FromQuery[str] = "/account") -> Response[Any]:
    if await services.current(request):
        return Redirect(safe_next(next), status_code=303)
    if request.htmx:
        return _sms_page(request, {"next": safe_next(next)})
    return await page_cache(request).page(
        request, "signin/page.html", {**_FIRST_STEP, "next": safe_next(next)}, headers=NO_STORE
    )


@post("/signin/code", name="signin_code")
async def signin_code(request: HTMXRequest, data: Annotated[PhoneForm, FORM_BODY]) -> Template:
    target = safe_next(data.next)
    try:
        sent = await sms.request_code(
            data.phone,
            request_context().client_ip,
            request_context().locale,
            request.app.state.redis,
        )
    except sms.SignInError as exc:
        return _sms_page(
            request,
            {
                "next": target,
                "phone_input": data.phone[:32],
                "error": exc.message,
                "error_field": exc.field,
            },
            exc.status,
        )
    settings = get_settings()
    page = _sms_page(
        request,
        {
            "step": "code",
            "next": target,
            "phone": sent.phone,
            "phone_display": national(sent.phone),
            "minutes": settings.sms_code_ttl // 60,
            "dev_inbox": settings.is_dev,
        },
    )
    # The code can be redeemed only by this device (see app/accounts/sms.py).
    page.set_cookie(
        ticket_cookie(settings.is_https),
        sent.ticket,
        max_age=settings.sms_code_ttl,
        path="/",
        httponly=True,
        samesite="strict",
        secure=settings.is_https,
    )
    return page


@post("/signin/verify", name="signin_verify")
async def signin_verify(
    request: HTMXRequest, data: Annotated[CodeForm, FORM_BODY]
) -> Response[Any]:
    target = safe_next(data.next)
    code_context = {
        "step": "code",
        "next": target,
        "phone": data.phone[:32],
        "phone_display": data.phone[:32],
        "minutes": get_settings().sms_code_ttl // 60,
        "dev_inbox": get_settings().is_dev,
    }
    try:
        phone = await sms.verify_code(
            data.phone,
            data.code,
            request.cookies.get(ticket_cookie(get_settings().is_https)),
            request_context().client_ip,
            request.app.state.redis,
        )
    except sms.SignInError as exc:
        return _sms_page(
            request, {**code_context, "error": exc.message, "error_field": exc.field}, exc.status
        )
    device = request_context()
    account = await services.get_or_create_citizen(
        phone, locale=device.locale, elderly=device.elder
    )
    if not account.is_active:
        return _sms_page(
            request,
            {
                **code_context,
                "phone_display": national(phone),
                "error": _("This account is disabled. Please contact a service counter."),
            },
            403,
        )
    has_key = await services.has_passkey(account.id)
    if services.is_staff(account) and has_key:
        # Staff hold a passkey from their first sign-in on, and must use it.
        return _sms_page(
            request,
            {
                **code_context,
                "phone_display": national(phone),
                "error": _("This account signs in with its passkey. Use the passkey button above."),
            },
            403,
        )
    await services.open_login_session(request, account, "sms")
    flash(request, _("You are signed in."), "success")
    response = go(request, _landing(account, target, has_key))
    services.apply_preferences(response, account)
    response.delete_cookie(ticket_cookie(get_settings().is_https), path="/")
    return response


@post("/signin/passkey/options", name="signin_passkey_options")
async def signin_passkey_options(request: HTMXRequest) -> Response[Any]:
    # Each call stores a challenge in Redis for 5 minutes: cap them per client address.
    redis, limit = request.app.state.redis, request.app.state.settings.passkey_options_per_minute
    if not await allow(redis, "passkey_options", request_context().client_ip, limit):
        return Response(
            {"detail": _("Too many requests. Please wait a moment and try again.")}, status_code=429
        )
    challenge_id, options = await passkeys.authentication_options(redis)
    return Response(
        {"challenge_id": challenge_id, "options": msgspec.json.decode(options)}, headers=NO_STORE
    )


@post("/signin/passkey/verify", name="signin_passkey_verify")
async def signin_passkey_verify(
    request: HTMXRequest, data: JSONBody[PasskeySignIn]
) -> Response[Any]:
    try:
        result = await passkeys.authenticate(
            request.app.state.redis, data.challenge_id, data.credential
        )
    except passkeys.PasskeyError as exc:
        return Response({"detail": exc.message}, status_code=400)
    await services.open_login_session(request, result.account, "passkey")
    flash(request, _("You are signed in with your passkey."), "success")
    target = safe_next(data.next or "/account")
    if services.is_staff(result.account) and target == "/account":
        target = "/staff"
    response = Response({"redirect": target})
    services.apply_preferences(response, result.account)
    return response


@post("/signout", name="signout")
async def signout(request: HTMXRequest) -> Redirect:
    await services.sign_out(request)
    response = Redirect("/", status_code=303)
    # Clear-Site-Data (W3C): the browser's HTTP cache for the site. The service worker deletes
    # the courier's kept jobs itself when it sees this POST (sw.js): the header does not reach
    # Cache Storage in Chromium.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


ROUTES = [
    signin_page,
    signin_code,
    signin_verify,
    signin_passkey_options,
    signin_passkey_verify,
    signout,
]
