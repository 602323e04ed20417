"""Liveness and readiness.

``/healthz`` answers while the process lives. ``/readyz`` checks what a request needs — the
database, Redis, and at least one worker whose heartbeat is fresh — each under its own
deadline, so the whole answer comes within 2 s even when Redis has gone away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, get
from litestar.response import Response
from piccolo.querystring import QueryString
from redis.asyncio import Redis

from app.config import get_settings
from app.core.logging import get_logger
from app.core.security import NO_STORE

log = get_logger("health")
HEARTBEAT_KEY = "tongban:workers:heartbeat"
CHECK_TIMEOUT = 1.0


async def record_heartbeat(redis: Redis, worker_id: str) -> None:
    now = time.time()
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(HEARTBEAT_KEY, {worker_id: now})
        # Forget workers that have been silent for an hour.
        pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - 3600)
        await pipe.execute()


async def check_database() -> dict[str, Any]:
    from app.piccolo_conf import DB

    await DB.run_querystring(QueryString("SELECT 1"))
    return {}


async def check_redis(redis: Redis) -> dict[str, Any]:
    await redis.ping()
    return {}


async def check_worker(redis: Redis) -> dict[str, Any]:
    newest = await redis.zrange(HEARTBEAT_KEY, -1, -1, withscores=True)
    if not newest:
        raise RuntimeError("no worker heartbeat")
    age = time.time() - float(newest[0][1])
    limit = get_settings().worker_heartbeat_max_age
    if age > limit:
        raise RuntimeError(f"newest heartbeat is {age:.0f}s old (limit {limit}s)")
    return {"age_s": round(age, 1)}


async def _run(name: str, check: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """One check's public result: its state and timing. Why it failed goes to the log only:
    error texts carry connection addresses and versions that anyone could read at /readyz."""
    started = time.perf_counter()
    try:
        extra = await asyncio.wait_for(check(), CHECK_TIMEOUT)
        result: dict[str, Any] = {"ok": True, **extra}
    except TimeoutError:
        log.warning("readiness_check_failure", check=name, error="timed out")
        result = {"ok": False}
    except Exception as exc:  # a readiness probe reports every failure, whatever its kind
        log.warning(
            "readiness_check_failure", check=name, error=(str(exc) or type(exc).__name__)[:300]
        )
        result = {"ok": False}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


async def readiness(redis: Redis) -> tuple[bool, dict[str, Any]]:
    names = ("database", "redis", "worker")
    results = await asyncio.gather(
        _run("database", check_database),
        _run("redis", lambda: check_redis(redis)),
        _run("worker", lambda: check_worker(redis)),
    )
    checks = dict(zip(names, results, strict=True))
    return all(item["ok"] for item in results), checks


@get("/healthz", include_in_schema=False, cache_control=None)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    ok, checks = await readiness(request.app.state.redis)
    return Response(
        {"status": "ok" if ok else "fail", "checks": checks},
        status_code=200 if ok else 503,
        headers=NO_STORE,
    )
