"""Cross-site request forgery: a signed double-submit cookie, rotated at sign-in and sign-out.

OWASP CSRF Prevention Cheat Sheet, "signed double-submit cookie": the cookie holds a random
token followed by its HMAC under the secret key; an unsafe request must repeat the token in the
``x-csrftoken`` header (htmx, fetch) or the ``_csrf_token`` form field (plain forms).

Two things Litestar's own middleware does not do, and why we need them:
- **Rotation.** A token that never changes can be planted: someone who can set cookies for our
  host (a sibling subdomain, a network attacker on plain HTTP) gives the victim a token they
  know and then forges requests. ``rotate_csrf_token`` issues a fresh token at sign-in and
  sign-out, so a planted one dies when it matters.
- **The ``__Host-`` prefix** under HTTPS (RFC 6265bis §4.1.3.2): the browser accepts such a
  cookie only with ``Secure``, ``Path=/`` and no ``Domain``, so no sibling subdomain can set it.

The form is read only after the route's body limit applies (``request_max_body_size``), so a
huge url-encoded body is refused with 413 before it is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import RequestEncodingType, ScopeType
from litestar.exceptions import PermissionDeniedException
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app.core.context import cookie_header, cookie_value

HEADER = b"x-csrftoken"
FORM_FIELD = "_csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_OPT = "exclude_from_csrf"  # handler opt for routes that take no browser forms
_ROTATE = "tongban.csrf_rotate"
_RANDOM_HEX = 64


def cookie_name(https: bool) -> str:
    return "__Host-tongban_csrf" if https else "tongban_csrf"


def _sign(random_part: str, secret: bytes) -> str:
    return hmac.new(secret, random_part.encode(), hashlib.sha256).hexdigest()


def new_token(secret: bytes) -> str:
    random_part = secrets.token_hex(_RANDOM_HEX // 2)
    return random_part + _sign(random_part, secret)


def valid_token(token: str | None, secret: bytes) -> bool:
    if not token or len(token) != _RANDOM_HEX * 2 or not token.isascii():
        return False
    return hmac.compare_digest(token[_RANDOM_HEX:], _sign(token[:_RANDOM_HEX], secret))


def rotate_csrf_token(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Give this browser a new token with the current response (call at sign-in and sign-out)."""
    token = new_token(connection.app.state.settings.secret_key.encode())
    connection.scope[_ROTATE] = token  # type: ignore[literal-required]
    ScopeState.from_scope(connection.scope).csrf_token = token


def _full_path(scope: Scope) -> str:
    """The path as asked: for a mounted app (``/admin``) Litestar leaves only the part below
    the mount in ``scope["path"]``, so ``/admin/api/…`` would pass for an excluded ``/api/…``."""
    if getattr(scope.get("route_handler"), "is_mount", False):
        return scope.get("raw_path", b"").decode("latin-1")
    return scope["path"]


class CSRFMiddleware:
    """Litestar middleware (one per route): ``exclude`` lists path prefixes that never take a
    form (probes, static files); a handler may also opt out with ``opt={EXEMPT_OPT: True}``."""

    def __init__(
        self, app: ASGIApp, *, secret: str, https: bool, exclude: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.exclude = exclude
        self.secret = secret.encode()
        self.https = https
        self.cookie = cookie_name(self.https)
        self._cookie_start = (self.cookie + "=").encode()
        self._cookie_end = b"; Path=/; SameSite=lax; HttpOnly" + (b"; Secure" if https else b"")

    def _set_cookie_header(self, token: str) -> tuple[bytes, bytes]:
        # Built by hand around the token: the header Litestar's Cookie would write, at a
        # fraction of the cost on every first visit. HttpOnly: scripts take the token from the
        # page (hx-headers on <body>), never from the cookie.
        return b"set-cookie", self._cookie_start + token.encode("ascii") + self._cookie_end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or _full_path(scope).startswith(self.exclude)
            or scope["route_handler"].opt.get(EXEMPT_OPT)
        ):
            await self.app(scope, receive, send)
            return
        cookie = cookie_value(cookie_header(scope), self.cookie)
        if not valid_token(cookie, self.secret):
            cookie = None
        state = ScopeState.from_scope(scope)
        if scope["method"] in SAFE_METHODS:
            state.csrf_token = token = cookie or new_token(self.secret)
            issue = None if cookie else token
        else:
            if cookie is None or not hmac.compare_digest(
                await self._submitted(scope, receive), cookie
            ):
                raise PermissionDeniedException("CSRF token verification failed")
            state.csrf_token = cookie
            issue = None

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                fresh = scope.get(_ROTATE) or issue
                if isinstance(fresh, str):
                    message["headers"] = [
                        *message.get("headers", []),
                        self._set_cookie_header(fresh),
                    ]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _submitted(self, scope: Scope, receive: Receive) -> str:
        for name, raw in scope["headers"]:
            if name == HEADER:
                return raw.decode("latin-1")
        request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        content_type, _ = request.content_type
        if content_type in (RequestEncodingType.URL_ENCODED, RequestEncodingType.MULTI_PART):
            value = (await request.form()).get(FORM_FIELD)
            if isinstance(value, str):
                return value
        return ""
