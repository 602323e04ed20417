"""The outbox on a real database and a real Redis: written with the change, sent once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from arq.connections import ArqRedis

from app.catalogue.tables import Department
from app.core.redis import make_client
from app.notifications import notify, send_soon
from app.notifications.providers import ConsoleProvider, Receipt, Sms
from app.notifications.services import CLAIM_LEASE, MAX_ATTEMPTS, deliver, job_id, sweep, utcnow
from app.notifications.tables import Notification, Status
from app.notifications.tasks import send_notification
from app.piccolo_conf import DB
from tests.notifications.conftest import PHONE, dev_bodies, load, new_sms_code, run_worker


class Boom(Exception):
    pass


def _department() -> Department:
    code = f"test-{uuid.uuid4().hex[:12]}"
    return Department(code=code, name_zh="测试局", name_en="Test Bureau")


async def test_notify_writes_a_pending_row_with_the_change() -> None:
    department = _department()
    async with DB.transaction():
        await department.save()
        notification_id = await notify(
            "sms_code", PHONE, {"code": "135790", "minutes": 5}, locale="en", user_id=7
        )
    row = await load(notification_id)
    assert row["status"] == Status.PENDING
    assert (row["kind"], row["channel"], row["recipient"]) == ("sms_code", "sms", PHONE)
    assert (row["locale"], row["user_id"], row["attempts"]) == ("en", 7, 0)
    assert row["params"] == {"code": "135790", "minutes": 5}
    assert row["sent_at"] is None and row["last_error"] is None
    assert await Department.exists().where(Department.code == department.code)


async def test_a_rolled_back_change_leaves_no_notification() -> None:
    department = _department()
    created: list[int] = []
    with pytest.raises(Boom):
        async with DB.transaction():
            await department.save()
            created.append(await new_sms_code())
            raise Boom
    assert created  # the row had been written inside the transaction…
    assert not await Notification.exists().where(Notification.id == created[0])  # …and is gone
    assert not await Department.exists().where(Department.code == department.code)


@pytest.mark.parametrize(
    ("kind", "recipient", "params", "locale", "error"),
    [
        ("no_such_kind", PHONE, {}, "zh-Hans", "unknown notification kind"),
        ("sms_code", "13800000001", {"code": "1", "minutes": 5}, "zh-Hans", "E.164"),
        ("sms_code", PHONE, {"code": "1"}, "zh-Hans", "takes params"),
        ("sms_code", PHONE, {"code": "1", "minutes": 5, "name": "x"}, "zh-Hans", "takes params"),
        ("sms_code", PHONE, {"code": "1", "minutes": 5}, "fr", "unknown locale"),
    ],
)
async def test_notify_refuses_what_could_never_be_sent(
    kind: str, recipient: str, params: dict[str, Any], locale: str, error: str
) -> None:
    before = await Notification.count()
    with pytest.raises(ValueError, match=error):
        await notify(kind, recipient, params, locale=locale)
    assert await Notification.count() == before


async def test_the_console_provider_sends_and_the_code_is_scrubbed() -> None:
    notification_id = await new_sms_code(code="864200", locale="en")
    assert await send_notification({"sms_provider": ConsoleProvider()}, notification_id) is None
    row = await load(notification_id)
    assert row["status"] == Status.SENT
    assert row["attempts"] == 1
    assert row["sent_at"] is not None
    assert row["provider_message_id"].startswith("console-")
    assert row["params"] == {"code": "***", "minutes": 5}
    assert await dev_bodies(notification_id) == [
        "[Tongban] Your code is 864200, valid for 5 minutes. Do not share it."
    ]


async def test_a_sent_notification_is_not_sent_again() -> None:
    notification_id = await new_sms_code()
    assert await deliver(notification_id, ConsoleProvider()) == Status.SENT
    assert await deliver(notification_id, ConsoleProvider()) is None
    assert len(await dev_bodies(notification_id)) == 1
    assert (await load(notification_id))["attempts"] == 1


async def test_of_two_workers_claiming_at_once_only_one_sends() -> None:
    notification_id = await new_sms_code()
    outcomes = await asyncio.gather(
        *(deliver(notification_id, ConsoleProvider()) for _ in range(5))
    )
    assert sorted(outcomes, key=str) == [None, None, None, None, Status.SENT]
    assert len(await dev_bodies(notification_id)) == 1


async def test_a_row_that_is_not_due_is_left_alone() -> None:
    notification_id = await new_sms_code()
    await Notification.update(
        {Notification.next_attempt_at: utcnow() + timedelta(minutes=1)}
    ).where(Notification.id == notification_id)
    assert await deliver(notification_id, ConsoleProvider()) is None
    row = await load(notification_id)
    assert (row["status"], row["attempts"]) == (Status.PENDING, 0)


@pytest.mark.parametrize(
    ("kind", "params", "error", "kept"),
    [
        ("retired_kind", {"token": "abc"}, "unknown kind 'retired_kind'", {"token": "***"}),
        ("sms_code", {"code": "112233"}, "missing param 'minutes'", {"code": "***"}),
    ],
)
async def test_a_row_that_cannot_be_rendered_fails_once_with_a_clear_error(
    kind: str, params: dict[str, Any], error: str, kept: dict[str, Any]
) -> None:
    # Rows a caller could not write through notify(): e.g. left by an older release.
    row = Notification(kind=kind, recipient=PHONE, params=params, next_attempt_at=utcnow())
    await row.save()
    assert await deliver(row.id, ConsoleProvider()) == Status.FAILED
    stored = await load(row.id)
    assert stored["status"] == Status.FAILED
    assert error in stored["last_error"]
    assert stored["params"] == kept
    assert await dev_bodies(row.id) == []
    assert await deliver(row.id, ConsoleProvider()) is None  # no loop: it stays failed


async def test_send_soon_enqueues_one_job_per_notification_once(queue: ArqRedis) -> None:
    ids = [await new_sms_code(), await new_sms_code()]
    await send_soon(ids, queue)
    await send_soon(ids, queue)  # a second call for the same rows adds nothing
    queued = {job.job_id for job in await queue.queued_jobs()}
    assert queued == {job_id(ids[0], 0), job_id(ids[1], 0)}


async def test_send_soon_takes_the_app_s_plain_redis_client(
    queue: ArqRedis, private_redis_url: str
) -> None:
    notification_id = await new_sms_code()
    plain = make_client(private_redis_url)
    try:
        await send_soon([notification_id], plain)
    finally:
        await plain.aclose()
    assert [job.job_id for job in await queue.queued_jobs()] == [job_id(notification_id, 0)]


async def test_a_real_worker_sends_what_send_soon_enqueued(
    queue: ArqRedis, private_redis_url: str
) -> None:
    async with DB.transaction():
        await _department().save()
        notification_id = await new_sms_code(code="555000")
    await send_soon([notification_id], queue)
    await run_worker(private_redis_url)
    row = await load(notification_id)
    assert (row["status"], row["attempts"]) == (Status.SENT, 1)
    assert await dev_bodies(notification_id) == [
        "【通办】验证码 555000，5 分钟内有效。请勿告诉他人。"
    ]


async def test_the_sweeper_hands_back_a_row_whose_worker_died(queue: ArqRedis) -> None:
    notification_id = await new_sms_code()
    await Notification.update(
        {
            Notification.status: Status.SENDING,
            Notification.attempts: 1,
            Notification.next_attempt_at: utcnow() - timedelta(seconds=1),  # claim ran out
        }
    ).where(Notification.id == notification_id)
    # Earlier tests leave many due rows behind (no worker runs here); a sweep enqueues one
    # batch of them, so this row must not wait behind them.
    await Notification.update({Notification.next_attempt_at: utcnow() + timedelta(hours=1)}).where(
        Notification.status == Status.PENDING
    )
    result = await sweep(queue)
    assert result.released >= 1
    row = await load(notification_id)
    assert (row["status"], row["attempts"]) == (Status.PENDING, 1)
    assert row["last_error"] == "worker did not finish"
    assert job_id(notification_id, 1) in {job.job_id for job in await queue.queued_jobs()}
    assert await deliver(notification_id, ConsoleProvider()) == Status.SENT
    assert (await load(notification_id))["attempts"] == 2


async def test_the_sweeper_leaves_a_row_whose_claim_is_still_valid(queue: ArqRedis) -> None:
    notification_id = await new_sms_code()
    await Notification.update(
        {
            Notification.status: Status.SENDING,
            Notification.attempts: 1,
            Notification.next_attempt_at: utcnow() + CLAIM_LEASE,
        }
    ).where(Notification.id == notification_id)
    await sweep(queue)
    assert (await load(notification_id))["status"] == Status.SENDING
    assert not any(
        job.job_id.startswith(f"notify:{notification_id}:") for job in await queue.queued_jobs()
    )


async def test_the_sweeper_gives_up_on_a_row_that_keeps_killing_workers(queue: ArqRedis) -> None:
    notification_id = await new_sms_code()
    await Notification.update(
        {
            Notification.status: Status.SENDING,
            Notification.attempts: MAX_ATTEMPTS,
            Notification.next_attempt_at: utcnow() - timedelta(seconds=1),
        }
    ).where(Notification.id == notification_id)
    result = await sweep(queue)
    assert result.given_up >= 1
    row = await load(notification_id)
    assert row["status"] == Status.FAILED
    assert f"gave up after {MAX_ATTEMPTS} attempts" in row["last_error"]
    assert row["params"]["code"] == "***"


class BrokenProvider(ConsoleProvider):
    """A provider with a bug: it raises something no provider should."""

    async def send(self, sms: Sms) -> Receipt:
        raise RuntimeError(f"cannot send {sms.body} to {sms.to}")


async def test_a_provider_bug_is_retried_later_without_quoting_the_message() -> None:
    notification_id = await new_sms_code()
    assert await deliver(notification_id, BrokenProvider()) == Status.PENDING
    row = await load(notification_id)
    assert (row["status"], row["attempts"]) == (Status.PENDING, 1)
    assert row["last_error"] == "unexpected RuntimeError"


class StallingProvider(ConsoleProvider):
    """Sends, but so slowly that the claim runs out and another worker takes the row."""

    async def send(self, sms: Sms) -> Receipt:
        await Notification.update(
            {Notification.attempts: Notification.attempts + 1}  # the other worker's claim
        ).where(Notification.id == sms.notification_id)
        return await super().send(sms)


async def test_a_worker_whose_claim_was_taken_over_leaves_the_row_alone() -> None:
    notification_id = await new_sms_code()
    assert await deliver(notification_id, StallingProvider()) is None
    row = await load(notification_id)
    assert (row["status"], row["attempts"]) == (Status.SENDING, 2)  # the other worker's now
    assert row["sent_at"] is None
