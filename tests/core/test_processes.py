"""Real processes: the arq worker, two web servers sharing sessions, and ``tongban run``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
from arq import create_pool
from arq.constants import default_queue_name

from app.core.health import HEARTBEAT_KEY
from app.core.redis import arq_settings, free_port
from tests.conftest import REDIS_URL, PageClient, ServerProcess, validate_response


async def test_a_real_worker_takes_jobs_and_reports_its_heartbeat(
    live_worker: subprocess.Popen[bytes], client: PageClient, redis: Any
) -> None:
    await redis.delete(HEARTBEAT_KEY)
    # Jobs earlier tests queued with no worker running (image checks, messages) would come
    # first: this test is about the worker taking a job, not about that backlog.
    await redis.delete(default_queue_name)
    pool = await create_pool(arq_settings(REDIS_URL))
    try:
        job = await pool.enqueue_job("echo", "你好")
        assert job is not None
        result = await job.result(timeout=20)
    finally:
        await pool.aclose()
    assert result["payload"] == "你好"
    assert result["worker"].endswith(f":{live_worker.pid}")
    assert await redis.zscore(HEARTBEAT_KEY, result["worker"]) is not None
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


def _get(http: httpx.Client, url: str) -> httpx.Response:
    response = http.get(url)
    validate_response(response)
    return response


def test_two_serve_processes_share_one_session() -> None:
    first, second = ServerProcess().start(), ServerProcess().start()
    try:
        with httpx.Client(timeout=10) as http:
            page = _get(http, f"{first.url}/")
            token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
            # Process one stores a message in the session (the cookie jar keeps the id) ...
            stored = http.post(
                f"{first.url}/preferences/elderly",
                data={"elder": "1", "_csrf_token": token},
                follow_redirects=False,
            )
            assert stored.status_code == 303
            assert "tongban_session" in stored.cookies
            # ... and process two reads it: the message is shown there, once.
            shown = _get(http, f"{second.url}/")
            assert "长者模式已开启" in shown.text
            assert "长者模式已开启" not in _get(http, f"{first.url}/").text
    finally:
        first.stop()
        second.stop()


def _wait_ready(url: str, want: int, timeout: float = 40) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{url}/readyz", timeout=3)
            body = response.json()
            if response.status_code == want:
                return body
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"/readyz never answered {want}; last: {body}")


def test_tongban_run_starts_everything_and_leaves_nothing_behind(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "TONGBAN_VAR_DIR": str(tmp_path / "var"),
        "TONGBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "TONGBAN_PORT": str(port),
        "TONGBAN_PUBLIC_URL": f"http://localhost:{port}",
    }
    env.pop("TONGBAN_REDIS_URL")  # embedded Redis, as on a fresh laptop
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run"], env=env, stdin=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        body = _wait_ready(url, 200)
        assert all(check["ok"] for check in body["checks"].values())
        home = httpx.get(f"{url}/", timeout=5)
        assert home.status_code == 200 and "通办" in home.text

        children = psutil.Process(supervisor.pid).children(recursive=True)
        assert len(children) >= 3  # redis, worker, web (and granian's own workers)
        redis_child = next(p for p in children if "redis-server" in " ".join(p.cmdline()))
        redis_child.kill()
        failing = _wait_ready(url, 503)
        assert failing["checks"]["redis"]["ok"] is False
        assert failing["status"] == "fail"

        supervisor.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert supervisor.wait(30) == 0
        _gone, alive = psutil.wait_procs(children, timeout=10)
        assert alive == [], f"left behind: {[p.pid for p in alive]}"
        assert not (tmp_path / "var" / "redis" / "url").exists()
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_tongban_run_in_production_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TONGBAN_ENV": "prod",
        "TONGBAN_PUBLIC_URL": "https://tongban.example",
        "TONGBAN_VAR_DIR": str(tmp_path),
    }
    env.pop("TONGBAN_SECRET_KEY")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], env=env, capture_output=True, timeout=30
    )
    assert result.returncode != 0
    assert b"TONGBAN_SECRET_KEY is required" in result.stderr
    assert not (tmp_path / "secret_key").exists()  # production never invents a key
