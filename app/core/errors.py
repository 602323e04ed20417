"""Localised error responses that are right for the three kinds of client we serve.

A browser gets a full page; an htmx request gets a fragment retargeted to the page's message
region (``#messages``), so the user sees what went wrong instead of nothing; a JSON client
(``Accept: application/json`` without HTML) gets ``{"status", "detail"}``. Everything under
``/api/`` is JSON whatever the client accepts, in the shape the OpenAPI schema documents:
``{"status_code", "detail"}``, readable from any origin like the API itself.
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import unquote, urlencode

import redis.exceptions
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, PermissionDeniedException
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE

from app.core.i18n import _
from app.core.logging import get_logger

log = get_logger("errors")


def _messages(status: int) -> tuple[str, str]:
    """(title, explanation) for a status, in the current language."""
    table = {
        400: (
            _("Something in the request was wrong"),
            _("Please check what you entered and try again."),
        ),
        401: (_("Please sign in"), _("You need to sign in to see this page.")),
        403: (_("Not allowed"), _("You do not have permission to do this.")),
        404: (_("Page not found"), _("The page you asked for does not exist or has moved.")),
        405: (_("Not allowed"), _("This page cannot be used that way.")),
        413: (_("Too large"), _("What you sent is larger than we accept.")),
        429: (_("Too many requests"), _("Please wait a moment and try again.")),
        503: (
            _("Service temporarily unavailable"),
            _("Part of the service is down. Please try again in a few minutes."),
        ),
    }
    default = (
        _("Something went wrong"),
        _("We could not finish your request. Please try again later."),
    )
    return table.get(status, default if status >= 500 else table[400])


API_PREFIX = b"/api/"


def _is_api(request: Request[Any, Any, Any]) -> bool:
    # raw_path: a mounted app (the admin's /admin/api/) sees only its own part in "path".
    raw: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return raw.startswith(API_PREFIX)


def api_error_response(status: int, detail: str) -> Response[Any]:
    """An error of the JSON API (``app/catalogue/api.py`` documents the shape)."""
    return Response(
        {"status_code": status, "detail": detail},
        status_code=status,
        media_type=MediaType.JSON,
        headers={"Access-Control-Allow-Origin": "*"},
    )


def error_response(
    request: Request[Any, Any, Any], status: int, detail: str | None = None
) -> Response[Any]:
    title, explanation = _messages(status)
    message = detail or explanation
    if _is_api(request):
        return api_error_response(status, message)
    accept = request.headers.get("accept", "")
    sent_json = request.headers.get("content-type", "").startswith("application/json")
    wants_json = sent_json or ("application/json" in accept and "text/html" not in accept)
    if wants_json:
        return Response(
            {"status": status, "detail": message}, status_code=status, media_type=MediaType.JSON
        )
    context = {"status": status, "title": title, "message": message}
    if request.headers.get("hx-request") == "true":
        return Template(
            template_name="errors/_error.html",
            context=context,
            status_code=status,
            headers={"HX-Retarget": "#messages", "HX-Reswap": "innerHTML"},
        )
    return Template(template_name="errors/error.html", context=context, status_code=status)


class BadInput(HTTPException):
    """A 400 whose detail is already a localised sentence meant for the user."""

    status_code = 400


def _detail(exc: HTTPException) -> str | None:
    if isinstance(exc, BadInput) or getattr(exc, "localised", False):
        return str(exc.detail)
    if isinstance(exc, PermissionDeniedException) and "CSRF" in str(exc.detail):
        return _("This form has expired. Reload the page and try again.")
    return None


def _requested_path(request: Request[Any, Any, Any]) -> str:
    """The path as the browser asked for it: a mounted app (``/admin``) sees only the part
    below its mount in ``scope["path"]``; ``raw_path`` keeps the whole of it."""
    if getattr(request.scope.get("route_handler"), "is_mount", False):
        raw = request.scope.get("raw_path") or b""
        if raw:
            return unquote(raw.decode("latin-1"))
    return request.url.path


def _sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any] | None:
    """Browsers asking for a page that needs a signed-in user go to the sign-in page."""
    accept = request.headers.get("accept", "")
    if request.method != "GET" or ("text/html" not in accept and "*/*" not in accept):
        return None
    target = "/signin?" + urlencode({"next": _requested_path(request)})
    if request.headers.get("hx-request") == "true":
        return Response(None, status_code=204, headers={"HX-Redirect": target})
    return Redirect(target, status_code=303)


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    if isinstance(exc, NotAuthorizedException):
        status = 401
        redirect = _sign_in_redirect(request)
        if redirect is not None:
            return redirect
    if status >= 500:
        log.error("request_failed_http", status=status, path=request.url.path)
    return error_response(request, status, _detail(exc))


def unavailable_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.error("request_failed_dependency", error=type(exc).__name__, path=request.url.path)
    return error_response(request, HTTP_503_SERVICE_UNAVAILABLE)


def database_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """SQLite refusing a writer its lock within the busy timeout (several processes writing
    at once, in the embedded setup) is a moment's congestion, not a fault: nothing was
    written, and the person is told to try again. Any other database error is a fault."""
    if "locked" in str(exc) or "busy" in str(exc):
        log.warning("request_failed_busy", path=request.url.path)
        return error_response(
            request,
            HTTP_503_SERVICE_UNAVAILABLE,
            _("The service is busy right now. Nothing was changed: please try again in a moment."),
        )
    return internal_error_handler(request, exc)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("request_failed_unhandled", path=request.url.path)
    return error_response(request, HTTP_500_INTERNAL_SERVER_ERROR)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    HTTPException: http_exception_handler,
    redis.exceptions.ConnectionError: unavailable_handler,
    redis.exceptions.TimeoutError: unavailable_handler,
    ConnectionRefusedError: unavailable_handler,
    sqlite3.OperationalError: database_error_handler,
    Exception: internal_error_handler,
}
