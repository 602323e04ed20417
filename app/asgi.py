"""The ASGI application: ``app.asgi:app`` for granian, ``create_app()`` for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.static_files import create_static_files_router
from litestar.stores.redis import RedisStore

from app.accounts import controllers as accounts_controllers
from app.config import FRONTEND, Settings, get_settings
from app.core import health, pages, preferences
from app.core.context import RequestContextMiddleware
from app.core.database import close_pool, open_pool
from app.core.errors import EXCEPTION_HANDLERS
from app.core.logging import configure_logging
from app.core.redis import make_client, resolve_redis_url
from app.core.sessions import SESSION_MAX_AGE, SessionConfig
from app.core.templates import template_config
from app.notifications import controllers as notifications_controllers

SESSION_COOKIE = "tongban_session"
CSRF_COOKIE = "tongban_csrf"
# Paths that never read or write the session: probes and the static shell.
# /offline is precached by the service worker, so it must not carry anyone's flash messages.
NO_SESSION = ["/healthz", "/readyz", "/static", "/sw.js", "/manifest.webmanifest", "/offline"]


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
        key=SESSION_COOKIE,
        store="sessions",
        max_age=SESSION_MAX_AGE,
        secure=settings.is_https,
        httponly=True,
        samesite="lax",
        exclude=NO_SESSION,
    )
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        cookie_secure=settings.is_https,
        cookie_samesite="lax",
        header_name="x-csrftoken",
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
            create_static_files_router(path="/static", directories=[FRONTEND / "static"]),
        ],
        lifespan=[lifespan],
        middleware=[session.middleware],
        stores={"sessions": RedisStore(redis=redis, namespace="tongban:session")},
        csrf_config=csrf,
        template_config=template_config(),
        plugins=[HTMXPlugin()],
        request_class=HTMXRequest,
        exception_handlers=EXCEPTION_HANDLERS,
        state=State({"redis": redis, "settings": settings}),
        request_max_body_size=10 * 1024 * 1024,
        openapi_config=None,
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
