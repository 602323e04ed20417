from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.core.health import HEARTBEAT_KEY, record_heartbeat
from app.core.redis import free_port
from tests.conftest import PageClient


async def test_healthz_answers_while_the_process_lives(client: PageClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_database_redis_and_a_worker_are_ok(
    client: PageClient, redis: Any
) -> None:
    await record_heartbeat(redis, "test-worker")
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "worker"}
    assert all(check["ok"] for check in body["checks"].values())


async def test_readyz_names_a_stale_worker_heartbeat_and_logs_why(
    client: PageClient, redis: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    await redis.delete(HEARTBEAT_KEY)
    await redis.zadd(HEARTBEAT_KEY, {"old-worker": time.time() - 120})
    response = await client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["worker"]["ok"] is False
    assert checks["database"]["ok"] and checks["redis"]["ok"]
    # The reason is for operators, in the log; the public answer names only the check.
    assert set(checks["worker"]) == {"ok", "ms"}
    logged = capfd.readouterr().err
    assert "readiness_check_failure" in logged and "120s old" in logged
    await redis.delete(HEARTBEAT_KEY)


async def test_readyz_shows_no_internal_error_text(
    app_with_redis: Callable[[str], Any],
) -> None:
    port = free_port()
    app = app_with_redis(f"redis://127.0.0.1:{port}/0")
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as dead:
        response = await dead.get("/readyz")
    assert response.status_code == 503
    assert "127.0.0.1" not in response.text and str(port) not in response.text
    assert all(set(check) <= {"ok", "ms", "age_s"} for check in response.json()["checks"].values())


async def test_readyz_is_503_within_two_seconds_when_redis_is_gone(
    app_with_redis: Callable[[str], Any],
) -> None:
    # An address where nothing listens: the Redis check and the worker check fail, fast.
    app = app_with_redis(f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as dead:
        started = time.perf_counter()
        response = await dead.get("/readyz")
        elapsed = time.perf_counter() - started
        home = await dead.get("/")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert checks["worker"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert elapsed < 2.0, f"readyz took {elapsed:.2f}s"
    # Anonymous pages need no session, so they still work without Redis.
    assert home.status_code == 200


async def test_a_session_cookie_while_redis_is_gone_gets_a_503_page(
    app_with_redis: Callable[[str], Any],
) -> None:
    app = app_with_redis(f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(app=app, base_url="http://tongban.local") as dead:
        dead.cookies.set("tongban_session", "a" * 64)
        response = await dead.get("/")
    assert response.status_code == 503
    assert "服务暂时不可用" in response.text


async def test_readyz_answers_in_time_when_redis_accepts_but_never_replies(
    app_with_redis: Callable[[str], Any],
) -> None:
    import socket

    # A listening socket that never answers: connections succeed, PING hangs.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(16)
    app = app_with_redis(f"redis://127.0.0.1:{hung.getsockname()[1]}/0")
    try:
        async with AsyncTestClient(app=app, base_url="http://tongban.local") as stuck:
            started = time.perf_counter()
            response = await stuck.get("/readyz")
            elapsed = time.perf_counter() - started
    finally:
        hung.close()
    assert response.status_code == 503
    assert response.json()["checks"]["redis"]["ok"] is False
    assert elapsed < 2.0, f"readyz took {elapsed:.2f}s"
