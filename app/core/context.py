"""Per-request context, set by the outermost ASGI middleware.

It wraps the whole Litestar application, so every response — pages, static files, error
pages produced by exception handlers, routing 404s — gets the security headers and the
request id, and every log line written while serving it carries that id.

Two things every route needs are done here, before routing, once:
- ``HEAD`` is served as ``GET`` without the body (RFC 9110 §9.3.2: the same headers a GET
  would get), so no page answers HEAD with 405;
- a path holding a control character (``/static/%00``) names nothing of ours: it is routed to
  the not-found page instead of reaching file-system calls that raise on NUL.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app.config import Settings, get_settings
from app.core import i18n
from app.core.logging import get_logger
from app.core.security import SecurityHeaders

ELDER_COOKIE = "tongban_elder"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
NOT_FOUND_PATH = "/.not-found"  # matches no route: Litestar answers with the 404 page
API_NOT_FOUND_PATH = "/api/.not-found"  # the same under /api/, whose errors are JSON
SLOW_REQUEST = 1.0  # seconds: a successful GET slower than this is logged at info level
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


def use(ctx: RequestContext) -> Callable[[], None]:
    """Make ``ctx`` current until the returned function is called (page_cache renders a page
    with marker values this way)."""
    token = _context.set(ctx)
    return lambda: _context.reset(token)


def cookie_header(scope: Mapping[str, Any]) -> str:
    """The request's cookies as one header; HTTP/2 may split them over several fields
    (RFC 9113 §8.2.3)."""
    return "; ".join(
        value.decode("latin-1") for name, value in scope.get("headers") or () if name == b"cookie"
    )


def cookie_value(header: str, name: str) -> str | None:
    """One cookie's value from a Cookie header (RFC 6265 §5.4: ``name=value`` pairs joined by
    ``; ``). Only our own short, unquoted values are read here, so no full parser is needed."""
    prefix = name + "="
    if prefix not in header:
        return None
    for part in header.split(";"):
        part = part.strip()
        if part.startswith(prefix):
            return part[len(prefix) :]
    return None


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
        # Everything but the CSP nonce is the same for every response: built once.
        self._headers = {
            https: SecurityHeaders(self.settings, https=https) for https in (False, True)
        }

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _CONTROL.search(scope["path"]):
            missing = API_NOT_FOUND_PATH if scope["path"].startswith("/api/") else NOT_FOUND_PATH
            scope = {**scope, "path": missing, "raw_path": missing.encode()}
        method = scope["method"]  # as asked, for the access log
        if method == "HEAD":
            scope = {**scope, "method": "GET"}
            send = _without_body(send)

        cookie = accept_language = incoming = b""
        for name, value in scope.get("headers") or ():
            if name == b"cookie":
                # HTTP/2 may split cookies over several fields (RFC 9113 §8.2.3).
                cookie = cookie + b"; " + value if cookie else value
            elif name == b"accept-language":
                accept_language = value
            elif name == b"x-request-id":
                incoming = value
        request_id = incoming.decode("latin-1")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = os.urandom(16).hex()
        cookies = cookie.decode("latin-1")
        locale = i18n.negotiate(
            cookie_value(cookies, i18n.LANG_COOKIE), accept_language.decode("latin-1")
        )
        proxies = self.settings.trusted_proxies
        if proxies > 0:
            headers = dict(scope.get("headers") or [])
            https = _is_https(scope, headers, proxies)
            address = client_ip(scope, headers, proxies)
        else:
            https = scope.get("scheme") == "https"
            peer = scope.get("client")
            address = str(peer[0]) if peer else "unknown"
        ctx = RequestContext(
            request_id=request_id,
            nonce=secrets.token_urlsafe(18),
            locale=locale,
            elder=cookie_value(cookies, ELDER_COOKIE) == "1",
            https=https,
            client_ip=address,
        )
        extra_headers = [
            *self._headers[https].with_nonce(ctx.nonce),
            (b"x-request-id", request_id.encode()),
            (b"content-language", locale.encode()),
        ]
        status = 500
        started = time.perf_counter()

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                own = message.get("headers") or []
                if own:
                    # ASGI response header names are lower-case by the spec.
                    present = {name for name, _ in own}
                    message["headers"] = [
                        *own,
                        *(pair for pair in extra_headers if pair[0] not in present),
                    ]
                else:
                    message["headers"] = extra_headers
            await send(message)

        context_token = _context.set(ctx)
        locale_token = i18n.current_locale.set(locale)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            path = scope.get("path", "")
            if path not in ("/healthz", "/readyz") and not path.startswith("/static/"):
                duration = time.perf_counter() - started
                # Successful page views are the bulk of traffic and the TLS proxy logs them
                # already: they are debug lines unless slow. Writes, errors and slow requests
                # are always logged.
                quiet = method in ("GET", "HEAD") and status < 400 and duration < SLOW_REQUEST
                (log.debug if quiet else log.info)(
                    "http_request",
                    method=method,
                    path=path,
                    status=status,
                    duration_ms=round(duration * 1000, 1),
                )
            i18n.current_locale.reset(locale_token)
            _context.reset(context_token)


def _without_body(send: Any) -> Any:
    async def send_headers_only(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


def add_request_id(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: every line written while serving a request carries its id."""
    ctx = _context.get()
    if ctx is not None:
        event.setdefault("request_id", ctx.request_id)
    return event
