"""Per-request context, set by the outermost ASGI middleware.

It wraps the whole Litestar application, so every response — pages, static files, error
pages produced by exception handlers, routing 404s — gets the security headers and the
request id, and every log line written while serving it carries that id.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

import structlog

from app.config import Settings, get_settings
from app.core import i18n
from app.core.logging import get_logger
from app.core.security import security_headers

ELDER_COOKIE = "tongban_elder"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
log = get_logger("http")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    nonce: str
    locale: str
    elder: bool
    https: bool
    client_ip: str = "unknown"


_context: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def current() -> RequestContext:
    """The context of the request being served (a neutral one outside requests, e.g. CLI)."""
    ctx = _context.get()
    if ctx is None:
        return RequestContext(
            request_id="-", nonce="", locale=i18n.current_locale.get(), elder=False, https=False
        )
    return ctx


def _cookies(headers: dict[bytes, bytes]) -> dict[str, str]:
    raw = headers.get(b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def _is_https(scope: dict[str, Any], headers: dict[bytes, bytes], proxies: int) -> bool:
    if scope.get("scheme") == "https":
        return True
    if proxies <= 0:
        return False
    forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[-1]
    return forwarded.strip().lower() == "https"


def client_ip(scope: dict[str, Any], headers: dict[bytes, bytes], proxies: int) -> str:
    """The address of the person, not of our own proxy. Each trusted proxy appends the address
    it saw to X-Forwarded-For, so with N proxies the N-th entry from the right is the client's;
    entries further left were written by the client and prove nothing."""
    peer = scope.get("client")
    direct = str(peer[0]) if peer else "unknown"
    if proxies <= 0:
        return direct
    chain = [
        part.strip() for part in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",")
    ]
    chain = [part for part in chain if part]
    return chain[-proxies] if len(chain) >= proxies else direct


class RequestContextMiddleware:
    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings or get_settings()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        cookies = _cookies(headers)
        locale = i18n.negotiate(
            cookies.get(i18n.LANG_COOKIE), headers.get(b"accept-language", b"").decode("latin-1")
        )
        proxies = self.settings.trusted_proxies
        https = _is_https(scope, headers, proxies)
        ctx = RequestContext(
            request_id=request_id,
            nonce=secrets.token_urlsafe(18),
            locale=locale,
            elder=cookies.get(ELDER_COOKIE) == "1",
            https=https,
            client_ip=client_ip(scope, headers, proxies),
        )
        extra_headers = [
            *security_headers(self.settings, ctx.nonce, https=https),
            (b"x-request-id", request_id.encode()),
            (b"content-language", locale.encode()),
        ]
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(pair for pair in extra_headers if pair[0] not in present),
                ]
            await send(message)

        context_token = _context.set(ctx)
        locale_token = i18n.current_locale.set(locale)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz") and not path.startswith("/static/"):
                log.info(
                    "http_request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            i18n.current_locale.reset(locale_token)
            _context.reset(context_token)
