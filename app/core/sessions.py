"""Server-side sessions in Redis, so that any replica serves any request.

Litestar's backend is extended in three ways:
- nothing is written and no cookie is set until there is something to keep, so anonymous
  page views cost no Redis write (and still work while Redis is down);
- an id from a cookie that the store does not know is never adopted: a fresh one is issued
  (OWASP Session Management: no session fixation through planted cookies);
- ``rotate_session`` issues a new id for the same data, for use at sign-in;
- a session that a request did not change is not written back (no Redis SET, no Set-Cookie)
  unless its last write is older than ``REWRITE_AFTER``: a signed-in page view costs one Redis
  GET instead of a GET and a SET. The idle lifetime is therefore ``SESSION_MAX_AGE`` after
  the last write, which a session in use gets at least every ``REWRITE_AFTER``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any, cast

from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import Empty, Message, ScopeSession

SESSION_MAX_AGE = 14 * 24 * 3600  # seconds of inactivity after which a session is gone
REWRITE_AFTER = 3600  # seconds: an unchanged session is written back at most this often
_KNOWN_ID = "tongban.session_id"  # the id whose data was found in the store
_NEW_ID = "tongban.session_new_id"  # the id this response will hand out, if any
_LOADED = "tongban.session_loaded"  # the bytes read from the store
_WRITTEN_AT = "tongban.session_written_at"  # when the store last got this session (epoch s)
_WRITTEN_KEY = "_written"  # inside the stored data; never shown to the application


class SessionBackend(ServerSideSessionBackend):
    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        if session_id and session_id != "null":
            store = self.config.get_store_from_app(connection.scope["app"])
            data = await self.get(session_id, store=store)
            if data is not None:
                scope: Any = connection.scope
                scope[_KNOWN_ID] = session_id
                scope[_LOADED] = data
                session = self.deserialize_data(data)
                scope[_WRITTEN_AT] = session.pop(_WRITTEN_KEY, 0)
                return session
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
        rotated = bool(known and scope.get(_NEW_ID) and scope[_NEW_ID] != known)
        if rotated:
            await self.delete(known, store=store)  # rotated: the old id stops working now
        if empty:
            await super().store_in_message(Empty, message, connection)
            return
        session: dict[str, Any] = dict(cast("dict[str, Any]", scope_session))
        now = int(time.time())
        if known and not rotated:
            written_at = scope.get(_WRITTEN_AT, 0)
            as_loaded = self.serialize_data({**session, _WRITTEN_KEY: written_at}, scope)
            if as_loaded == scope.get(_LOADED) and now - written_at < REWRITE_AFTER:
                return  # unchanged and written recently: no SET, no Set-Cookie
        stamped = {**session, _WRITTEN_KEY: now}
        await super().store_in_message(stamped, message, connection)


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
