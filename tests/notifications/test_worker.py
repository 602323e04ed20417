"""Real workers on real Redis servers: nothing is lost in an outage, nothing is sent twice."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from arq.connections import ArqRedis, create_pool

from app.catalogue.tables import Department
from app.core.redis import EmbeddedRedis, arq_settings, make_client
from app.notifications import notify, send_soon
from app.notifications.tables import DevMessage, Notification, Status
from app.piccolo_conf import DB
from tests.notifications.conftest import PHONE, dev_bodies, load, new_sms_code, run_worker
from workers.settings import WorkerSettings


def test_the_worker_registers_the_sender_and_the_sweeper_every_15_seconds() -> None:
    names = {
        getattr(job, "name", getattr(job, "__qualname__", "")) for job in WorkerSettings.functions
    }
    assert "send_notification" in names
    [sweeper] = [job for job in WorkerSettings.cron_jobs if job.name == "cron:sweep_outbox"]
    assert sweeper.second == {0, 15, 30, 45}
    assert sweeper.run_at_startup is True


async def test_a_redis_outage_delays_notifications_and_loses_none(tmp_path: Path) -> None:
    down = EmbeddedRedis(tmp_path / "first", persist=False)
    down.start()
    client = make_client(down.url)
    down.stop()  # Redis goes away just before the user's request

    code = f"outage-{uuid.uuid4().hex[:8]}"
    async with DB.transaction():
        await Department(code=code, name_zh="测试局", name_en="Test Bureau").save()
        ids = [
            await notify("sms_code", PHONE, {"code": "314159", "minutes": 5}),
            await notify("passkey_added", PHONE, {}, locale="en"),
        ]
    await send_soon(ids, client)  # must not raise: the outage only delays
    await client.aclose()

    assert await Department.exists().where(Department.code == code)
    for notification_id in ids:
        row = await load(notification_id)
        assert (row["status"], row["attempts"]) == (Status.PENDING, 0)

    back = EmbeddedRedis(tmp_path / "second", persist=False)  # a new server, an empty queue
    url = back.start()
    try:
        await run_worker(url)  # the sweeper finds the rows and the sender sends them
        await run_worker(url)  # a second sweep must not send them again
        pool = await create_pool(arq_settings(url))
        sweeps = [r for r in await pool.all_job_results() if r.function == "cron:sweep_outbox"]
        await pool.aclose()
    finally:
        back.stop()

    # One sweep per worker start, and one more if a run met a 15-second mark.
    assert len(sweeps) >= 2 and all(sweep.success for sweep in sweeps)
    assert sweeps[0].result["enqueued"] >= len(ids)

    for notification_id in ids:
        row = await load(notification_id)
        assert (row["status"], row["attempts"]) == (Status.SENT, 1)
        assert len(await dev_bodies(notification_id)) == 1
    assert (await load(ids[0]))["params"] == {"code": "***", "minutes": 5}


async def test_a_tongban_worker_sends_without_logging_the_number_or_the_text(
    tmp_path: Path, queue: ArqRedis, private_redis_url: str
) -> None:
    notification_id = await new_sms_code(code="271828")
    await send_soon([notification_id], queue)
    env = {
        **os.environ,
        "TONGBAN_REDIS_URL": private_redis_url,
        "TONGBAN_LOG_LEVEL": "debug",
        "TONGBAN_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.cli",
            "worker",
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while (await load(notification_id))["status"] != Status.SENT:
                assert worker.returncode is None, log_path.read_text()
                assert time.monotonic() < deadline, "the worker did not send in 30 s"
                await asyncio.sleep(0.1)
        finally:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), 15)

    output = log_path.read_text()
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    sent = [e for e in events if e.get("notification_id") == notification_id]
    assert {"sms_send_success", "notification_send_success"} <= {e["event"] for e in sent}
    [body] = await dev_bodies(notification_id)
    assert PHONE not in output
    assert PHONE.removeprefix("+86") not in output
    assert "271828" not in output
    assert body not in output
    assert await DevMessage.count().where(DevMessage.notification_id == notification_id) == 1
    assert (
        await Notification.select(Notification.attempts)
        .where(Notification.id == notification_id)
        .first()
    ) == {"attempts": 1}
