"""Helpers for the notification tests: factories, a private Redis, a real worker, a gateway."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from arq.connections import ArqRedis, create_pool
from arq.worker import Worker

from app.core.redis import EmbeddedRedis, arq_settings
from app.notifications import notify
from app.notifications.services import utcnow
from app.notifications.tables import DevMessage, Notification
from workers.settings import WorkerSettings

PHONE = "+8613800000001"
GATEWAY_SECRET = "gateway-shared-secret-for-tests-0123456789"


async def new_sms_code(
    code: str = "246810", minutes: int = 5, phone: str = PHONE, locale: str = "zh-Hans"
) -> int:
    return await notify("sms_code", phone, {"code": code, "minutes": minutes}, locale=locale)


async def load(notification_id: int) -> dict[str, Any]:
    row = await Notification.select().where(Notification.id == notification_id).first()
    assert row is not None, f"notification {notification_id} does not exist"
    if isinstance(row["params"], str):
        row["params"] = json.loads(row["params"])
    return row


async def dev_bodies(notification_id: int) -> list[str]:
    rows = await DevMessage.select(DevMessage.body).where(
        DevMessage.notification_id == notification_id
    )
    return [row["body"] for row in rows]


async def make_due(notification_id: int) -> None:
    """What waiting out the backoff would do, without waiting."""
    await Notification.update(
        {Notification.next_attempt_at: utcnow() - timedelta(seconds=1)}
    ).where(Notification.id == notification_id)


async def run_worker(redis_url: str) -> None:
    """A real arq worker with the production registrations, until its queue is empty.

    The sweeper runs at worker start (run_at_startup), so this is sweep + sends."""
    worker = Worker(
        functions=WorkerSettings.functions,
        # Fresh copies: a CronJob remembers its next run, and each worker here starts anew.
        # Their results are kept, so a test can read what each sweep did.
        cron_jobs=[
            dataclasses.replace(job, next_run=None, keep_result_s=600)
            for job in WorkerSettings.cron_jobs
        ],
        redis_settings=arq_settings(redis_url),
        burst=True,
        poll_delay=0.1,
        handle_signals=False,
        job_timeout=WorkerSettings.job_timeout,
        keep_result=WorkerSettings.keep_result,
    )
    try:
        await worker.main()
    finally:
        with warnings.catch_warnings():
            # arq 0.28 closes its pool with redis' deprecated close(); not ours to fix.
            warnings.simplefilter("ignore", DeprecationWarning)
            await worker.close()


@pytest.fixture(scope="module")
def private_redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of our own, so a burst worker sees only the jobs these tests enqueue."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def queue(private_redis_url: str) -> AsyncIterator[ArqRedis]:
    pool = await create_pool(arq_settings(private_redis_url))
    await pool.flushdb()
    yield pool
    await pool.aclose()


@dataclass
class Gateway:
    """A real HTTP SMS gateway on 127.0.0.1 that checks signatures like a real one would.

    ``answer`` is what it does with the next requests: an HTTP status, or "hang"."""

    secret: str
    url: str = ""
    answer: int | str = 200
    received: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            expected = (
                "sha256=" + hmac.new(gateway.secret.encode(), body, hashlib.sha256).hexdigest()
            )
            signed = hmac.compare_digest(self.headers.get("X-Tongban-Signature", ""), expected)
            gateway.received.append(
                {
                    "json": json.loads(body),
                    "signed": signed,
                    "timestamp": self.headers.get("X-Tongban-Timestamp", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                }
            )
            if gateway.answer == "hang":
                gateway.release.wait(10)
                return
            status = gateway.answer if signed else 401
            assert isinstance(status, int)
            reply: dict[str, Any] = {"error": "rejected"}
            if status == 200:
                reply = {"message_id": f"gw-{json.loads(body)['id']}"}
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(secret=GATEWAY_SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/sms"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)
