"""The dev inbox: what the console SMS provider "sent", for people and for browser tests.

Development only. In production the routes answer 404, as if they did not exist: the messages
would include sign-in codes.
"""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.connection import ASGIConnection
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromQuery
from litestar.plugins.htmx import HTMXRequest
from litestar.response import Template

from app.core.errors import BadInput
from app.core.i18n import _
from app.core.security import NO_STORE
from app.notifications.services import E164, recent_dev_messages


def requires_dev(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if not connection.app.state.settings.is_dev:
        raise NotFoundException()


@get("/dev/sms", name="notifications:dev_inbox", guards=[requires_dev])
async def dev_inbox(request: HTMXRequest) -> Template:
    messages = await recent_dev_messages()
    name = "notifications/_dev_inbox_list.html" if request.htmx else "notifications/dev_inbox.html"
    return Template(
        template_name=name,
        context={"messages": messages},
        headers=NO_STORE,
    )


@get(
    "/dev/sms.json",
    name="notifications:dev_inbox_json",
    guards=[requires_dev],
    cache_control=CacheControlHeader(no_store=True),  # sign-in codes: never in a cache
)
async def dev_inbox_json(to: FromQuery[str | None] = None) -> list[dict[str, Any]]:
    """Newest first; ``?to=+86…`` keeps one recipient's messages (what a browser test wants)."""
    if to:
        # An unencoded "+" in a query string arrives as a space.
        to = "+" + to.strip().removeprefix("+")
        if not E164.fullmatch(to):
            raise BadInput(
                detail=_("Please give a phone number in E.164 form, e.g. +8613800000001.")
            )
    return [
        {
            "to": message.to,
            "body": message.body,
            "created_at": message.created_at.isoformat(),
            "notification_id": message.notification_id,
        }
        for message in await recent_dev_messages(to=to)
    ]


ROUTES = [dev_inbox, dev_inbox_json]
