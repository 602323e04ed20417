"""The PWA shell: home page, offline page, service worker and web app manifest."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from litestar import Request, get
from litestar.response import Response

from app.catalogue.search import search_index
from app.catalogue.services import list_departments
from app.config import FRONTEND
from app.core.page_cache import page_cache

STATIC = FRONTEND / "static"


@lru_cache(maxsize=1)
def service_worker_source() -> str:
    """``sw.js`` with its cache version and precache list filled in.

    The version is a digest of every static file and template, so any change to the shell
    installs a new worker, which replaces the old precache (see frontend/static/sw.js).
    """
    digest = hashlib.sha256()
    precache = ["/offline", "/manifest.webmanifest"]
    for root in (STATIC, FRONTEND / "templates"):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(FRONTEND)).encode())
            digest.update(path.read_bytes())
            if root is STATIC and path.name not in ("sw.js", "manifest.webmanifest"):
                precache.append("/static/" + path.relative_to(STATIC).as_posix())
    source = (STATIC / "sw.js").read_text(encoding="utf-8")
    return source.replace("__VERSION__", digest.hexdigest()[:12]).replace(
        "__PRECACHE__", json.dumps(sorted(precache))
    )


@get("/sw.js", include_in_schema=False)
async def service_worker() -> Response[str]:
    return Response(
        service_worker_source(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
    )


@get("/manifest.webmanifest", include_in_schema=False)
async def manifest() -> Response[bytes]:
    return Response(
        (STATIC / "manifest.webmanifest").read_bytes(),
        media_type="application/manifest+json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@get("/", name="home")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    redis = request.app.state.redis
    departments = await list_departments(redis)
    total = len((await search_index(redis)).items)
    # The departments tuple is a new object after every change: it keys the cached page.
    return await page_cache(request).page(
        request, "home.html", {"departments": departments, "total": total}, key=(departments, total)
    )


@get("/offline", name="offline")
async def offline(request: Request[Any, Any, Any]) -> Response[Any]:
    return await page_cache(request).page(request, "offline.html", {})
