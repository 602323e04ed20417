"""Issue 3, done-when: with the real Redis stopped, every notification caused by a committed
change is still recorded in the outbox, and each is sent exactly once after the same Redis
comes back — including a job that was already queued when Redis went down."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from app.core.redis import EmbeddedRedis, make_client
from app.notifications.tables import DevMessage, Notification, Status
from tests.accounts.test_sms_signin import fresh_phone
from tests.conftest import csrf_from
from tests.notifications.conftest import run_worker


async def _ask_for_code(client: AsyncTestClient, typed: str) -> int:  # type: ignore[type-arg]
    token = csrf_from(await client.get("/signin"))
    response = await client.post("/signin/code", data={"phone": typed, "_csrf_token": token})
    assert response.status_code == 200, response.text
    row = (
        await Notification.select(Notification.id)
        .where(Notification.recipient == "+86" + typed)
        .first()
    )
    assert row is not None
    return int(row["id"])


async def test_codes_asked_for_while_redis_is_down_are_sent_once_when_it_is_back(
    tmp_path: Path, app_with_redis: Callable[[str], Any]
) -> None:
    redis = EmbeddedRedis(tmp_path / "redis", persist=True)  # appendonly: the queue survives
    url = redis.start()
    try:
        async with AsyncTestClient(
            app=app_with_redis(url), base_url="http://tongban.local"
        ) as client:
            # Before the outage: a code whose send job is queued, but no worker has run yet.
            queued = await _ask_for_code(client, fresh_phone()[0])

            redis.stop()  # Redis goes down (SIGTERM: it writes its append-only file first)

            # During the outage: sign-in codes are still asked for and committed.
            during = [await _ask_for_code(client, fresh_phone()[0]) for _ in range(2)]
            for notification_id in [queued, *during]:
                row = (
                    await Notification.select(Notification.status)
                    .where(Notification.id == notification_id)
                    .first()
                )
                assert row == {"status": Status.PENDING}

        redis.start(port=redis.port)  # the same server, data and URL
        probe = make_client(url)
        try:  # the job queued before the outage is back, so the sweeper meets a duplicate
            assert await probe.exists(f"arq:job:notify:{queued}:0") == 1
        finally:
            await probe.aclose()
        await run_worker(url)  # sweeper at start + sender: sends the queued job and the rest
        await run_worker(url)  # another sweep must not send anything twice
    finally:
        redis.stop()

    for notification_id in [queued, *during]:
        row = (
            await Notification.select(Notification.status, Notification.attempts)
            .where(Notification.id == notification_id)
            .first()
        )
        assert row == {"status": Status.SENT, "attempts": 1}
        assert await DevMessage.count().where(DevMessage.notification_id == notification_id) == 1
