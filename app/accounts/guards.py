"""Guards named for what they require; attach them to controllers or handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from app.accounts import services
from app.accounts.tables import Role
from app.core.i18n import _

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class SignInRequired(NotAuthorizedException):
    """Answered with a redirect to the sign-in page for browsers (see app/core/errors.py)."""


class Refused(PermissionDeniedException):
    """A 403 whose detail is a localised sentence meant for the user."""

    localised = True


async def _signed(connection: ASGIConnection[Any, Any, Any, Any]) -> services.Signed:
    signed = await services.current(connection)
    if signed is None:
        raise SignInRequired()
    return signed


async def requires_signed_in(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    if await services.current(connection) is None:
        raise SignInRequired()


def requires_role(*roles: Role) -> Guard:
    allowed = {role.value for role in roles}

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        signed = await _signed(connection)
        if signed.account.role not in allowed:
            raise Refused(detail=_("Your account does not have access to this page."))

    return guard


async def requires_passkey_session(
    connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
) -> None:
    """Back-office pages: the session must have been opened with a passkey, not an SMS code."""
    signed = await _signed(connection)
    if signed.method != "passkey":
        raise Refused(
            detail=_(
                "Staff pages need a passkey sign-in. Sign out, then sign in with your passkey."
            )
        )


def requires_assurance(level: int) -> Guard:
    """L1 phone verified, L2 identity verified, L3 identity verified plus a passkey."""

    async def guard(
        connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler
    ) -> None:
        signed = await _signed(connection)
        passkey = await services.has_passkey(signed.account.id)
        if services.assurance_level(signed.account, passkey) < level:
            raise Refused(
                detail=_(
                    "This service needs identity assurance level %(level)s. See your account page to raise it.",
                    level=level,
                )
            )

    return guard


STAFF = [
    requires_role(Role.OFFICER, Role.FLOOR_MANAGER, Role.COURIER, Role.ADMIN),
    requires_passkey_session,
]
