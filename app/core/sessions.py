"""Server-side sessions in Redis, so that any replica serves any request.

Litestar's backend is extended in three ways:
- nothing is written and no cookie is set until there is something to keep, so anonymous
  page views cost no Redis write (and still work while Redis is down);
- an id from a cookie that the store does not know is never adopted: a fresh one is issued
  (OWASP Session Management: no session fixation through planted cookies);
- ``rotate_session`` issues a new id for the same data, for use at sign-in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession

SESSION_MAX_AGE = 14 * 24 * 3600  # seconds of inactivity after which a session is gone
_KNOWN_ID = "tongban.session_id"  # the id whose data was found in the store
_NEW_ID = "tongban.session_new_id"  # the id this response will hand out, if any


class SessionBackend(ServerSideSessionBackend):
    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id and session_id != "null":
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                connection.scope[_KNOWN_ID] = session_id  # type: ignore[literal-required]
                return self.deserialize_data(data)
        return {}

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        scope: Any = connection.scope
        if scope.get(_NEW_ID):
            return str(scope[_NEW_ID])
        if scope.get(_KNOWN_ID):
            return str(scope[_KNOWN_ID])
        scope[_NEW_ID] = self.generate_session_id()
        return str(scope[_NEW_ID])

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        scope: Any = connection.scope
        known = scope.get(_KNOWN_ID)
        empty = scope_session is Empty or not scope_session
        if empty and not known:
            return  # nothing to keep and nothing to forget
        store = self.config.get_store_from_app(scope["app"])
        if known and scope.get(_NEW_ID) and scope[_NEW_ID] != known:
            await self.delete(known, store=store)  # rotated: the old id stops working now
        await super().store_in_message(Empty if empty else scope_session, message, connection)


@dataclass
class SessionConfig(ServerSideSessionConfig):
    _backend_class = SessionBackend


def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give the current session data a new id when this response is sent (call at sign-in)."""
    scope: Any = connection.scope
    scope[_NEW_ID] = secrets.token_hex(32)


def session_id(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    scope: Any = connection.scope
    return scope.get(_NEW_ID) or scope.get(_KNOWN_ID)
