"""Mounts piccolo-admin at /admin behind Tongban's own sign-in (docs/security.md, "Admin").

The way in is ours: the mount carries our guards, so anonymous visitors are sent to sign in,
citizens and staff are refused, and an admin must have opened the session with a passkey.
Around piccolo-admin the mount also

- refuses its own entrances (login, logout, password change, MFA set-up) and its Swagger
  pages, so there is no second way in;
- refuses PUT, which piccolo-api runs without the write-time checks of app/admin/checks.py,
  and bodies larger than ``MAX_BODY``;
- gives its single-page app our CSRF token: the app sends the ``csrftoken`` cookie back in
  ``X-CSRFToken``, the header our CSRF middleware reads, so the cookie is set to our signed
  token (Path=/admin, SameSite=Strict) and both checks — ours, then piccolo's — pass;
- sends its own Content-Security-Policy, the narrowest one its bundled assets run under;
- announces every successful write (``catalogue_changed``) before the response leaves, so
  every replica reloads the catalogue and the change shows on the public pages at once.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

from asyncpg.exceptions import DataError
from litestar import asgi
from litestar.connection import ASGIConnection
from litestar.types import Message, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

from app.accounts import services as accounts
from app.accounts.guards import requires_passkey_session, requires_role
from app.accounts.tables import Role
from app.admin.site import SIGNED, build_admin
from app.catalogue.services import catalogue_changed
from app.core.i18n import _
from app.core.logging import get_logger

log = get_logger("admin")

PREFIX = "/admin"
MAX_BODY = 256 * 1024
MAX_ID = 2**31 - 1  # Serial primary keys: PostgreSQL refuses larger ids as query arguments
UNSAFE = frozenset({"POST", "PATCH", "DELETE"})
# piccolo-admin's own ways in and its API explorer (whose scripts come from a CDN our policy
# refuses anyway). Paths are as the mount sees them, below /admin.
REFUSED = (
    "/public/login/",
    "/public/logout/",
    "/public/docs/",
    "/public/openapi.json",
    "/api/change-password/",
    "/api/mfa-setup/",
    "/api/docs/",
)
# Its Vue bundle injects <style> elements (Font Awesome, component styles): styles need
# 'unsafe-inline'. Scripts come only from its own files: no inline script, no eval.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
).encode()


@cache
def _piccolo_admin(public_host: str) -> Any:
    return build_admin(allowed_hosts=[public_host])


async def _answer(send: Any, status: int, text: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-security-policy", CONTENT_SECURITY_POLICY),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text.encode()})


def _too_large(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return not value.isdigit() or int(value) > MAX_BODY
        if name == b"transfer-encoding":
            return True  # no length given: refuse rather than read without a bound
    return False


def _csrf_cookie(token: str, https: bool) -> tuple[bytes, bytes]:
    # Readable by the admin's scripts (js-cookie), so not HttpOnly; our pages hand scripts the
    # same token anyway. Strict: the admin is never entered from another site.
    attributes = "; Path=/admin; SameSite=Strict" + ("; Secure" if https else "")
    return b"set-cookie", f"csrftoken={token}{attributes}".encode()


@asgi(
    PREFIX,
    is_mount=True,
    copy_scope=True,
    guards=[requires_role(Role.ADMIN), requires_passkey_session],
)
async def admin(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        await send({"type": "websocket.close", "code": 1000, "reason": ""})
        return
    path: str = scope["path"]
    method: str = scope["method"]  # type: ignore[typeddict-item]  # an HTTP scope, checked above
    if path.startswith(REFUSED):
        await _answer(send, 404, _("The page you asked for does not exist or has moved."))
        return
    if any(part.isdigit() and int(part) > MAX_ID for part in path.split("/")):
        # No row has an id past the Serial range.
        await _answer(send, 404, _("The page you asked for does not exist or has moved."))
        return
    if method == "PUT":
        await _answer(send, 405, _("This page cannot be used that way."))
        return
    if method in UNSAFE and _too_large(scope):
        await _answer(send, 413, _("What you sent is larger than we accept."))
        return

    csrf_token = ScopeState.from_scope(scope).csrf_token
    if not isinstance(csrf_token, str):
        # Our CSRF middleware checked every unsafe request that reaches here and left the
        # token; without one it did not run (an exclusion too wide): refuse, never guess.
        await _answer(send, 403, _("This form has expired. Reload the page and try again."))
        return

    signed = await accounts.current(ASGIConnection(scope))
    settings = scope["litestar_app"].state.settings
    redis = scope["litestar_app"].state.redis
    # Starlette's convention: the full path, with the mount's prefix in root_path.
    root_path = scope.get("root_path", "") + PREFIX
    inner: dict[str, Any] = {
        **scope,
        SIGNED: signed,
        "path": root_path + path,
        "raw_path": (root_path + path).encode(),
        "root_path": root_path,
    }

    async def send_wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name != b"content-security-policy"
                and not (name == b"set-cookie" and value.startswith(b"csrftoken="))
            ]
            headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))
            if method not in UNSAFE:
                headers.append(_csrf_cookie(csrf_token, settings.is_https))
            message["headers"] = headers
            status = message["status"]
            if method in UNSAFE and 200 <= status < 300:
                # Committed already (piccolo-api writes outside a transaction): tell every
                # replica before the admin sees the answer.
                await catalogue_changed(redis)
                log.info(
                    "admin_change_success",
                    account_id=signed.account.id if signed else None,
                    method=method,
                    path=path,
                    status=status,
                )
        await send(message)

    app = _piccolo_admin(urlsplit(settings.public_url).hostname or "localhost")
    started = False

    async def send_tracked(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send_wrapped(message)

    try:
        await app(inner, receive, send_tracked)
    except (ValueError, OverflowError, DataError):
        # piccolo-api lets some malformed requests escape: an unknown column in ``__order``
        # (ValueError), an integer past a column's range (OverflowError on SQLite; asyncpg's
        # DataError, SQLSTATE class 22 "data exception", on PostgreSQL). The request was
        # wrong, not the server.
        if started:
            raise
        log.info("admin_request_refused", method=method, path=path)
        await _answer(send, 400, _("Please check what you entered and try again."))


ROUTES: list[Any] = [admin]
