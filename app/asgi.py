"""The ASGI application: ``app.asgi:app`` for granian, ``create_app()`` for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.htmx import HTMXPlugin
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore

from app.accounts import controllers as accounts_controllers
from app.admin import mount as admin_mount
from app.applications import citizen as applications_citizen
from app.applications import feedback as applications_feedback
from app.applications import officer as applications_officer
from app.applications import tracking as applications_tracking
from app.appointments import routes as appointments_routes
from app.catalogue import api as catalogue_api
from app.catalogue import controllers as catalogue_controllers
from app.config import FRONTEND, Settings, get_settings
from app.core import health, pages, preferences
from app.core.context import RequestContextMiddleware
from app.core.csrf import CSRFMiddleware
from app.core.database import close_pool, open_pool
from app.core.errors import EXCEPTION_HANDLERS
from app.core.logging import configure_logging
from app.core.page_cache import PageCache
from app.core.redis import make_client, resolve_redis_url
from app.core.requests import AppRequest
from app.core.sessions import SESSION_MAX_AGE, SessionConfig
from app.core.static import StaticFileSystem
from app.core.templates import template_config
from app.courier import routes as courier_routes
from app.files import controllers as files_controllers
from app.identity import controllers as identity_controllers
from app.identity import officer as identity_officer
from app.licences import controllers as licences_controllers
from app.notifications import controllers as notifications_controllers
from app.signing import controllers as signing_controllers

SESSION_COOKIE = "tongban_session"
# Under HTTPS the cookie carries the __Host- prefix (RFC 6265bis): only this exact host, over
# TLS, with Path=/ may set it, so no sibling subdomain can plant a session id.
SECURE_SESSION_COOKIE = "__Host-tongban_session"
# Bodies are small unless a route says otherwise (uploads set their own limit): a large
# url-encoded body costs seconds to parse, and no form or JSON call of ours comes near this.
MAX_BODY = 64 * 1024
# Paths that never read or write the session: probes and the static shell.
# /offline is precached by the service worker, so it must not carry anyone's flash messages.
NO_SESSION = [
    "/healthz",
    "/readyz",
    "/static",
    "/sw.js",
    "/manifest.webmanifest",
    "/offline",
    # Anchored: Litestar matches these anywhere in a mounted app's path, and /admin/api/ (the
    # admin's JSON API, app/admin/mount.py) needs the session.
    "^/api/",
    "^/schema",
]
# Paths that take no form and need no CSRF cookie.
NO_CSRF = (
    "/healthz",
    "/readyz",
    "/static/",
    "/sw.js",
    "/manifest.webmanifest",
    "/api/",
    "/schema",
)


def create_litestar(settings: Settings) -> Litestar:
    redis = make_client(resolve_redis_url(settings))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await open_pool()
        try:
            yield
        finally:
            await close_pool()
            await redis.aclose()

    session = SessionConfig(
        key=SECURE_SESSION_COOKIE if settings.is_https else SESSION_COOKIE,
        store="sessions",
        max_age=SESSION_MAX_AGE,
        secure=settings.is_https,
        httponly=True,
        samesite="lax",
        exclude=NO_SESSION,
    )
    return Litestar(
        route_handlers=[
            health.healthz,
            health.readyz,
            pages.home,
            pages.offline,
            pages.service_worker,
            pages.manifest,
            preferences.set_language,
            preferences.set_elderly,
            *accounts_controllers.ROUTES,
            *notifications_controllers.ROUTES,
            *licences_controllers.ROUTES,
            *catalogue_controllers.ROUTES,
            *catalogue_api.ROUTES,
            *admin_mount.ROUTES,
            *signing_controllers.ROUTES,
            *files_controllers.ROUTES,
            *applications_citizen.ROUTES,
            *applications_officer.ROUTES,
            *applications_tracking.ROUTES,
            *applications_feedback.ROUTES,
            *identity_controllers.ROUTES,
            *identity_officer.ROUTES,
            *courier_routes.ROUTES,
            *appointments_routes.ROUTES,
            create_static_files_router(
                path="/static", directories=[FRONTEND / "static"], file_system=StaticFileSystem()
            ),
        ],
        lifespan=[lifespan],
        middleware=[
            DefineMiddleware(
                CSRFMiddleware,
                secret=settings.secret_key,
                https=settings.is_https,
                exclude=NO_CSRF,
            ),
            session.middleware,
        ],
        stores={"sessions": RedisStore(redis=redis, namespace="tongban:session")},
        template_config=template_config(),
        plugins=[HTMXPlugin()],
        request_class=AppRequest,
        exception_handlers=EXCEPTION_HANDLERS,
        state=State(
            {"redis": redis, "settings": settings, "page_cache": PageCache(settings.page_cache)}
        ),
        request_max_body_size=MAX_BODY,
        openapi_config=catalogue_api.openapi_config(),
        include_in_schema=False,  # only the JSON API is documented: its router opts back in
        debug=False,
    )


def create_app(settings: Settings | None = None) -> Any:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return RequestContextMiddleware(create_litestar(settings), settings)


def __getattr__(name: str) -> Any:
    # ``app.asgi:app`` is built on first access so that importing this module (tests, CLI)
    # does not connect anything.
    if name == "app":
        application = create_app()
        globals()["app"] = application
        return application
    raise AttributeError(name)
