"""Sign-in, sign-out, the account page and the staff landing page. Thin: rules live in
``sms``, ``passkeys`` and ``services``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException
from litestar.params import Body, FromPath, FromQuery, JSONBody
from litestar.plugins.htmx import ClientRedirect, HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts import passkeys, services, sms
from app.accounts.guards import STAFF, requires_signed_in
from app.accounts.id_number import mask_id_number, normalise_id_number, seal, unseal
from app.accounts.phone import national
from app.accounts.tables import Account, Passkey, Role
from app.catalogue.tables import Department
from app.config import get_settings
from app.core.context import current as request_context
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.i18n import _
from app.core.preferences import safe_next
from app.core.ratelimit import allow
from app.core.text import has_control_characters
from app.notifications.services import notify, send_soon

Form = Body(media_type=RequestEncodingType.URL_ENCODED)
MAX_ID = 2**31 - 1  # Serial columns are 32-bit integers
NO_STORE = {"Cache-Control": "no-store"}  # personal pages never enter a shared cache


class PhoneForm(msgspec.Struct):
    phone: str = ""
    next: str = "/account"


class CodeForm(msgspec.Struct):
    phone: str = ""
    code: str = ""
    next: str = "/account"


class ProfileForm(msgspec.Struct):
    name: str = ""
    id_number: str = ""


class NameForm(msgspec.Struct):
    name: str = ""


def _sms_page(request: HTMXRequest, context: dict[str, Any], status: int = 200) -> Template:
    base = {
        "step": "phone",
        "next": "/account",
        "phone": "",
        "phone_input": "",
        "error": None,
        "error_field": None,
    }
    base.update(context)
    name = "signin/_sms.html" if request.htmx else "signin/page.html"
    return Template(template_name=name, context=base, status_code=status, headers=NO_STORE)


def _landing(signed_in: Account, target: str, has_key: bool) -> str:
    if services.is_staff(signed_in) and not has_key:
        return "/account?setup=passkey"
    return safe_next(target)


def _go(request: HTMXRequest, target: str) -> Response[Any]:
    if request.htmx:
        return ClientRedirect(target)
    return Redirect(target, status_code=303)


@get("/signin", name="signin")
async def signin_page(
    request: HTMXRequest, next: FromQuery[str] = "/account"
) -> Template | Redirect:
    if await services.current(request):
        return Redirect(safe_next(next), status_code=303)
    return _sms_page(request, {"next": safe_next(next)})


@post("/signin/code", name="signin_code")
async def signin_code(request: HTMXRequest, data: Annotated[PhoneForm, Form]) -> Template:
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
    return _sms_page(
        request,
        {
            "step": "code",
            "next": target,
            "phone": sent.phone,
            "phone_display": national(sent.phone),
            "minutes": get_settings().sms_code_ttl // 60,
            "dev_inbox": get_settings().is_dev,
        },
    )


@post("/signin/verify", name="signin_verify")
async def signin_verify(request: HTMXRequest, data: Annotated[CodeForm, Form]) -> Response[Any]:
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
        phone = await sms.verify_code(data.phone, data.code)
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
    response = _go(request, _landing(account, target, has_key))
    services.apply_preferences(response, account)
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
    request: HTMXRequest, data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    try:
        result = await passkeys.authenticate(
            request.app.state.redis, data.get("challenge_id"), data.get("credential")
        )
    except passkeys.PasskeyError as exc:
        return Response({"detail": exc.message}, status_code=400)
    await services.open_login_session(request, result.account, "passkey")
    flash(request, _("You are signed in with your passkey."), "success")
    target = safe_next(str(data.get("next") or "/account"))
    if services.is_staff(result.account) and target == "/account":
        target = "/staff"
    response = Response({"redirect": target})
    services.apply_preferences(response, result.account)
    return response


@post("/signout", name="signout")
async def signout(request: HTMXRequest) -> Redirect:
    await services.sign_out(request)
    response = Redirect("/", status_code=303)
    # Clear-Site-Data (W3C): drop what the service worker cached for this person.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


def level_label(level: int) -> str:
    return {
        1: _("Phone verified"),
        2: _("Identity verified"),
        3: _("Identity verified with a passkey"),
    }[level]


def role_label(role: str) -> str:
    return {
        Role.CITIZEN.value: _("Citizen"),
        Role.OFFICER.value: _("Officer"),
        Role.FLOOR_MANAGER.value: _("Floor manager"),
        Role.COURIER.value: _("Courier"),
        Role.ADMIN.value: _("Administrator"),
    }[role]


async def _department_name(account: Account) -> str | None:
    if account.department is None:
        return None
    row = (
        await Department.select(Department.name_zh, Department.name_en)
        .where(Department.id == account.department)
        .first()
    )
    if row is None:
        return None
    return str(row["name_zh"] if request_context().locale == "zh-Hans" else row["name_en"])


async def _account_page(
    request: HTMXRequest, errors: dict[str, str], status: int = 200
) -> Template:
    signed = await services.current(request)
    assert signed is not None  # the guard ran
    account = signed.account
    keys = await Passkey.select().where(Passkey.account == account.id).order_by(Passkey.created_at)
    number = unseal(account.id_number_encrypted)
    level = services.assurance_level(account, bool(keys))
    context = {
        "phone": national(account.phone),
        "name": account.name,
        "role_label": role_label(account.role),
        "department": await _department_name(account),
        "level": level,
        "level_label": level_label(level),
        "id_masked": mask_id_number(number) if number else None,
        "passkeys": keys,
        "sessions": await services.active_sessions(account.id),
        "this_session": signed.login.id,
        "needs_passkey": services.is_staff(account) and not keys,
        "errors": errors,
    }
    return Template(
        template_name="account/page.html", context=context, status_code=status, headers=NO_STORE
    )


@get("/account", name="account", guards=[requires_signed_in])
async def account_page(request: HTMXRequest) -> Template:
    return await _account_page(request, {})


@post("/account/profile", name="account_profile", guards=[requires_signed_in])
async def account_profile(
    request: HTMXRequest, data: Annotated[ProfileForm, Form]
) -> Template | Redirect:
    signed = await services.current(request)
    assert signed is not None
    errors: dict[str, str] = {}
    name = data.name.strip()
    if len(name) > 60 or has_control_characters(name):
        errors["name"] = _("Please enter a name of at most 60 characters, on one line.")
    changes: dict[Any, Any] = {Account.name: name}
    if signed.account.identity_verified_at is not None:
        # A verified identity (L2+) is tied to this name and number; changing either here
        # would keep the assurance level for someone else's identity.
        locked = _("Your identity is verified, so this can only be changed at a service counter.")
        if name != signed.account.name:
            errors["name"] = locked
        if data.id_number.strip():
            errors["id_number"] = locked
    if data.id_number.strip() and "id_number" not in errors:
        number = normalise_id_number(data.id_number)
        if number is None:
            errors["id_number"] = _("This is not a valid 18-character resident ID number.")
        else:
            changes[Account.id_number_encrypted] = seal(number)
    if errors:
        return await _account_page(request, errors, 400)
    await Account.update(changes).where(Account.id == signed.account.id)
    flash(request, _("Your profile is saved."), "success")
    return Redirect("/account", status_code=303)


@post("/account/passkeys/options", name="passkey_register_options", guards=[requires_signed_in])
async def passkey_register_options(request: HTMXRequest) -> Response[Any]:
    signed = await services.current(request)
    assert signed is not None
    challenge_id, options = await passkeys.registration_options(
        signed.account, request.app.state.redis
    )
    return Response(
        {"challenge_id": challenge_id, "options": msgspec.json.decode(options)}, headers=NO_STORE
    )


@post("/account/passkeys/verify", name="passkey_register_verify", guards=[requires_signed_in])
async def passkey_register_verify(
    request: HTMXRequest, data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    from app.piccolo_conf import DB

    signed = await services.current(request)
    assert signed is not None
    redis = request.app.state.redis
    try:
        async with DB.transaction():
            await passkeys.register(
                signed.account,
                redis,
                data.get("challenge_id"),
                data.get("credential"),
                str(data.get("name") or ""),
            )
            # Tell the owner by SMS: an attacker who got in must not add a passkey unseen.
            notification_id = await notify(
                "passkey_added",
                signed.account.phone,
                {},
                locale=signed.account.locale,
                user_id=signed.account.id,
            )
    except passkeys.PasskeyError as exc:
        return Response({"detail": exc.message}, status_code=400)
    await send_soon([notification_id], redis)
    if services.is_staff(signed.account):
        flash(
            request,
            _("Passkey added. Staff pages need a passkey sign-in: sign out, then sign in with it."),
            "success",
        )
    else:
        flash(request, _("Passkey added."), "success")
    return Response({"redirect": "/account"})


async def _own_passkey(request: HTMXRequest, passkey_id: int) -> tuple[services.Signed, Passkey]:
    signed = await services.current(request)
    assert signed is not None
    if not 0 < passkey_id <= MAX_ID:
        raise NotFoundException()  # beyond the column's range: no such passkey, not a 500
    # Ownership is part of the query: another user's passkey id is simply not found.
    passkey = (
        await Passkey.objects()
        .where(Passkey.id == passkey_id, Passkey.account == signed.account.id)
        .first()
    )
    if passkey is None:
        raise NotFoundException()
    return signed, passkey


@post(
    "/account/passkeys/{passkey_id:int}/rename", name="passkey_rename", guards=[requires_signed_in]
)
async def passkey_rename(
    request: HTMXRequest, passkey_id: FromPath[int], data: Annotated[NameForm, Form]
) -> Redirect:
    _signed, passkey = await _own_passkey(request, passkey_id)
    name = data.name.strip()
    if not name or len(name) > 60:
        raise BadInput(detail=_("Please give the passkey a name of 1 to 60 characters."))
    await Passkey.update({Passkey.name: name}).where(Passkey.id == passkey.id)
    flash(request, _("Passkey renamed."), "success")
    return Redirect("/account", status_code=303)


@post(
    "/account/passkeys/{passkey_id:int}/delete", name="passkey_delete", guards=[requires_signed_in]
)
async def passkey_delete(request: HTMXRequest, passkey_id: FromPath[int]) -> Redirect:
    signed, passkey = await _own_passkey(request, passkey_id)
    if (
        services.is_staff(signed.account)
        and await Passkey.count().where(Passkey.account == signed.account.id) <= 1
    ):
        raise BadInput(
            detail=_(
                "Staff accounts must keep at least one passkey. Add another before deleting this one."
            )
        )
    await Passkey.delete().where(Passkey.id == passkey.id, Passkey.account == signed.account.id)
    flash(request, _("Passkey deleted."), "success")
    return Redirect("/account", status_code=303)


@post("/account/sessions/revoke-others", name="sessions_revoke_others", guards=[requires_signed_in])
async def sessions_revoke_others(request: HTMXRequest) -> Redirect:
    signed = await services.current(request)
    assert signed is not None
    count = await services.revoke_other_sessions(signed)
    flash(request, _("Signed out %(count)s other devices.", count=count), "success")
    return Redirect("/account", status_code=303)


@get("/staff", name="staff_home", guards=STAFF)
async def staff_home(request: HTMXRequest) -> Template:
    signed = await services.current(request)
    assert signed is not None
    return Template(
        template_name="staff/home.html",
        context={
            "role_label": role_label(signed.account.role),
            "department": await _department_name(signed.account),
        },
        headers=NO_STORE,
    )


ROUTES = [
    signin_page,
    signin_code,
    signin_verify,
    signin_passkey_options,
    signin_passkey_verify,
    signout,
    account_page,
    account_profile,
    passkey_register_options,
    passkey_register_verify,
    passkey_rename,
    passkey_delete,
    sessions_revoke_others,
    staff_home,
]
