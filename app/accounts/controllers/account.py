"""The account page: profile, passkeys and signed-in devices."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Redirect, Response, Template

from app.accounts import passkeys, services
from app.accounts.controllers._shared import MAX_ID, department_name, role_label
from app.accounts.guards import requires_signed_in
from app.accounts.id_number import mask_id_number, normalise_id_number, seal, unseal
from app.accounts.phone import national
from app.accounts.schemas import NameForm, PasskeyRegistration, ProfileForm
from app.accounts.tables import Account, Passkey
from app.core.errors import BadInput
from app.core.flash import flash
from app.core.forms import FORM_BODY
from app.core.i18n import _
from app.core.ratelimit import allow
from app.core.security import NO_STORE
from app.core.transactions import write_transaction
from app.identity.service import latest_of as latest_verification
from app.notifications.services import notify, send_soon
from app.signing import service as signing
from app.signing.tables import DocumentKind


def level_label(level: int) -> str:
    return {
        1: _("Phone verified"),
        2: _("Identity verified"),
        3: _("Identity verified with a passkey"),
    }[level]


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
        "department": await department_name(account),
        "level": level,
        "level_label": level_label(level),
        "id_masked": mask_id_number(number) if number else None,
        "passkeys": keys,
        "sessions": await services.active_sessions(account.id),
        "signatures": await signing.signatures_of(account.id),
        "authorised": await signing.has_signed(account.id, DocumentKind.AUTHORISATION),
        "this_session": signed.login.id,
        "needs_passkey": services.is_staff(account) and not keys,
        "verification": await latest_verification(int(account.id)) if level == 1 else None,
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
    request: HTMXRequest, data: Annotated[ProfileForm, FORM_BODY]
) -> Template | Redirect:
    signed = await services.current(request)
    assert signed is not None
    errors: dict[str, str] = dict(data.field_errors)
    name = data.name.strip()
    if len(name) > 60:
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
    # Each call keeps a challenge in Redis for 5 minutes: cap them per account.
    limit = request.app.state.settings.passkey_register_per_minute
    if not await allow(request.app.state.redis, "passkey_register", str(signed.account.id), limit):
        return Response(
            {"detail": _("Too many requests. Please wait a moment and try again.")}, status_code=429
        )
    challenge_id, options = await passkeys.registration_options(
        signed.account, request.app.state.redis
    )
    return Response(
        {"challenge_id": challenge_id, "options": msgspec.json.decode(options)}, headers=NO_STORE
    )


@post("/account/passkeys/verify", name="passkey_register_verify", guards=[requires_signed_in])
async def passkey_register_verify(
    request: HTMXRequest, data: JSONBody[PasskeyRegistration]
) -> Response[Any]:
    signed = await services.current(request)
    assert signed is not None
    redis = request.app.state.redis
    try:
        async with write_transaction(f"passkey-account:{signed.account.id}"):
            await passkeys.register(
                signed.account,
                redis,
                data.challenge_id,
                data.credential,
                data.name,
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
    request: HTMXRequest, passkey_id: FromPath[int], data: Annotated[NameForm, FORM_BODY]
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


ROUTES = [
    account_page,
    account_profile,
    passkey_register_options,
    passkey_register_verify,
    passkey_rename,
    passkey_delete,
    sessions_revoke_others,
]
