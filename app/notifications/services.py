"""The outbox: write a notification with the change that causes it, send it afterwards.

A caller writes its change and the notification in one transaction, then asks for a prompt
send::

    async with DB.transaction():
        await code.save()
        notification_id = await notify("sms_code", phone, {"code": code, "minutes": 5})
    await send_soon([notification_id], redis)

Both rows commit or neither does. ``send_soon`` only makes delivery quick: when Redis is down
the row stays pending and the sweeper (every 15 s, in each worker) enqueues it later. A worker
claims a row with one conditional UPDATE, so exactly one worker sends each attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from piccolo.columns.combination import Where
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.core.display import mask_phone
from app.core.i18n import LOCALES
from app.core.logging import get_logger
from app.notifications.providers import (
    PermanentSendError,
    SendError,
    Sms,
    SmsProvider,
    TemporarySendError,
)
from app.notifications.tables import Channel, DevMessage, Notification, Status
from app.notifications.templates import SCRUBBED, SECRET_PARAMS, TEMPLATES, param_names

log = get_logger("notifications")

SEND_JOB = "send_notification"  # the arq function name, registered in tasks.py
MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=10)
MAX_BACKOFF = timedelta(hours=1)
# A worker that claimed a row and has not finished within this time is presumed dead; the
# sweeper hands the row to another. Longer than the worker's job timeout (300 s).
CLAIM_LEASE = timedelta(minutes=5)
SWEEP_BATCH = 500
E164 = re.compile(r"\+[1-9][0-9]{6,14}")  # ITU-T E.164: at most 15 digits

# The outbox's state machine: event -> (from, to). Every status change is one conditional
# UPDATE from the from-state, so two workers can never both make the same move.
TRANSITIONS: dict[str, tuple[Status, Status]] = {
    "claim": (Status.PENDING, Status.SENDING),  # a worker takes it (attempts + 1)
    "deliver": (Status.SENDING, Status.SENT),  # the provider accepted it
    "retry": (Status.SENDING, Status.PENDING),  # temporary failure: wait, then again
    "give_up": (Status.SENDING, Status.FAILED),  # refused for good, or out of attempts
    "release": (Status.SENDING, Status.PENDING),  # sweeper: the worker's claim ran out
}


class RenderError(ValueError):
    """The row cannot become a message; the text is stored as ``last_error``."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th attempt failed: 10 s, 20 s, 40 s… ≤ 1 h."""
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def job_id(notification_id: int, attempts: int) -> str:
    """The arq job id for the attempt after ``attempts``.

    arq refuses a job id while a job or a kept result with that id exists. One id per attempt
    lets a retry be enqueued after an earlier attempt's job has finished, and stops the sweeper
    and ``send_soon`` from queueing the same attempt twice.
    """
    return f"notify:{notification_id}:{attempts}"


def render(kind: str, locale: str, params: dict[str, Any]) -> str:
    texts = TEMPLATES.get(kind)
    if texts is None:
        raise RenderError(f"unknown kind {kind!r}")
    text = texts.get(locale)
    if text is None:
        raise RenderError(f"kind {kind!r} has no text in {locale!r}")
    try:
        return text.format_map(params)
    except KeyError as exc:
        raise RenderError(f"kind {kind!r} is missing param {exc.args[0]!r}") from None


def scrub(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Params without their secrets. Of a kind we do not know, nothing is kept."""
    secret = SECRET_PARAMS.get(kind, frozenset()) if kind in TEMPLATES else frozenset(params)
    return {name: SCRUBBED if name in secret else value for name, value in params.items()}


def _check(kind: str, recipient: str, params: dict[str, Any], locale: str) -> None:
    """Refuse a notification that could never be sent: a bug in the caller, found in its tests."""
    if kind not in TEMPLATES:
        raise ValueError(f"unknown notification kind {kind!r}")
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    if not E164.fullmatch(recipient):
        raise ValueError("recipient must be a phone number in E.164 form, e.g. +8613800000001")
    wanted, given = param_names(kind), set(params)
    if wanted != given:
        raise ValueError(f"kind {kind!r} takes params {sorted(wanted)}, got {sorted(given)}")


async def notify(
    kind: str,
    recipient: str,
    params: dict[str, Any],
    *,
    locale: str = "zh-Hans",
    user_id: int | None = None,
) -> int:
    """Write a pending notification and return its id.

    Call it inside the transaction of the change it reports (``async with DB.transaction()``),
    and ``send_soon`` after that transaction has committed.
    """
    _check(kind, recipient, params, locale)
    row = Notification(
        kind=kind,
        channel=Channel.SMS,
        recipient=recipient,
        user_id=user_id,
        locale=locale,
        params=params,
        status=Status.PENDING,
        next_attempt_at=utcnow(),
    )
    await row.save()
    return int(row.id)


async def send_soon(ids: Iterable[int], redis: Redis) -> None:
    """Enqueue one send job per new notification; a Redis failure only delays them.

    ``ids`` are ids ``notify`` has just returned (no attempt made yet), from a committed
    transaction. If Redis cannot take the jobs, the sweeper enqueues the rows within 15 s of
    Redis coming back.
    """
    ids = list(ids)
    queue = redis if isinstance(redis, ArqRedis) else ArqRedis(redis.connection_pool)
    for position, notification_id in enumerate(ids):
        try:
            await queue.enqueue_job(SEND_JOB, notification_id, _job_id=job_id(notification_id, 0))
        except (RedisError, OSError) as exc:
            log.warning(
                "notification_enqueue_failure",
                error=type(exc).__name__,
                delayed=len(ids) - position,
            )
            return


async def _move(
    event: str,
    notification_id: int,
    values: dict[Any, Any],
    *conditions: Where,
) -> dict[str, Any] | None:
    """Make one transition of one row if it is still in the from-state (and ``conditions``
    hold); return the row after the change, or None if another worker got there first."""
    from_status, to_status = TRANSITIONS[event]
    query = Notification.update({Notification.status: to_status, **values}).where(
        Notification.id == notification_id,
        Notification.status == from_status,
        *conditions,
    )
    rows = await query.returning(
        Notification.id,
        Notification.kind,
        Notification.recipient,
        Notification.locale,
        Notification.params,
        Notification.attempts,
    )
    if not rows:
        return None
    row: dict[str, Any] = rows[0]
    row["params"] = _loaded(row["params"])
    return row


def _loaded(params: str | dict[str, Any]) -> dict[str, Any]:
    # Piccolo hands JSON columns back as text unless asked otherwise.
    return json.loads(params) if isinstance(params, str) else params


async def _finish(event: str, row: dict[str, Any], values: dict[Any, Any]) -> dict[str, Any] | None:
    """End the attempt this worker claimed, unless the sweeper has handed it on meanwhile."""
    moved = await _move(event, row["id"], values, Notification.attempts == row["attempts"])
    if moved is None:
        # Only after a claim ran out (a worker stalled for CLAIM_LEASE): whoever holds the row
        # now decides. The message may go twice; the HTTP gateway drops repeats by id.
        log.warning("notification_claim_lost", notification_id=row["id"], transition=event)
    return moved


async def deliver(notification_id: int, provider: SmsProvider) -> Status | None:
    """Claim one due pending notification, send it, record the outcome.

    Returns the status it ends in, or None when there was nothing to claim (sent already,
    claimed by another worker, or not due yet) or the claim was lost meanwhile.
    """
    now = utcnow()
    row = await _move(
        "claim",
        notification_id,
        {
            Notification.attempts: Notification.attempts + 1,
            Notification.next_attempt_at: now + CLAIM_LEASE,
        },
        Notification.next_attempt_at <= now,
    )
    if row is None:
        log.debug("notification_claim_skipped", notification_id=notification_id)
        return None
    bound = log.bind(
        notification_id=notification_id,
        kind=row["kind"],
        attempt=row["attempts"],
        provider=provider.name,
    )
    try:
        body = render(row["kind"], row["locale"], row["params"])
        receipt = await provider.send(
            Sms(to=row["recipient"], body=body, notification_id=notification_id)
        )
    except (RenderError, PermanentSendError) as exc:
        return await _give_up(row, str(exc), bound)
    except Exception as exc:
        # Anything else is handled like an outage, a provider bug included: retried with
        # backoff, then given up, so one bad row can never keep the workers busy for ever.
        error = str(exc) if isinstance(exc, SendError) else f"unexpected {type(exc).__name__}"
        if not isinstance(exc, TemporarySendError):
            # No traceback: an unexpected exception's text may quote the number or the body.
            bound.error("notification_send_error", error=error)
        if row["attempts"] >= MAX_ATTEMPTS:
            return await _give_up(row, f"gave up after {row['attempts']} attempts: {error}", bound)
        return await _retry(row, error, bound)

    done = await _finish(
        "deliver",
        row,
        {
            Notification.sent_at: utcnow(),
            Notification.provider_message_id: receipt.provider_message_id,
            Notification.params: json.dumps(scrub(row["kind"], row["params"])),
            Notification.last_error: None,
        },
    )
    bound.info("notification_send_success", to=mask_phone(row["recipient"]))
    return Status.SENT if done else None


async def _retry(row: dict[str, Any], error: str, bound: Any) -> Status | None:
    delay = backoff(row["attempts"])
    done = await _finish(
        "retry",
        row,
        {Notification.next_attempt_at: utcnow() + delay, Notification.last_error: error[:200]},
    )
    bound.warning("notification_send_retry", error=error, retry_in_s=int(delay.total_seconds()))
    return Status.PENDING if done else None


async def _give_up(row: dict[str, Any], error: str, bound: Any) -> Status | None:
    done = await _finish(
        "give_up",
        row,
        {
            Notification.last_error: error[:200],
            Notification.params: json.dumps(scrub(row["kind"], row["params"])),
        },
    )
    bound.warning("notification_send_failure", error=error)
    return Status.FAILED if done else None


@dataclass(frozen=True, slots=True)
class SweepResult:
    released: int = 0
    given_up: int = 0
    enqueued: int = 0


async def sweep(queue: ArqRedis) -> SweepResult:
    """Hand back rows whose claim ran out, and enqueue every pending row that is due."""
    now = utcnow()
    released = given_up = 0
    stuck = await Notification.select(
        Notification.id,
        Notification.kind,
        Notification.params,
        Notification.attempts,
    ).where(Notification.status == Status.SENDING, Notification.next_attempt_at <= now)
    for row in stuck:
        row["params"] = _loaded(row["params"])
        bound = log.bind(notification_id=row["id"], kind=row["kind"], attempt=row["attempts"])
        if row["attempts"] >= MAX_ATTEMPTS:
            error = f"gave up after {row['attempts']} attempts: worker did not finish"
            given_up += await _give_up(row, error, bound) is not None
        elif await _finish(
            "release",
            row,
            {Notification.next_attempt_at: now, Notification.last_error: "worker did not finish"},
        ):
            bound.warning("notification_claim_expired")
            released += 1

    due = (
        await Notification.select(Notification.id, Notification.attempts)
        .where(Notification.status == Status.PENDING, Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at)
        .limit(SWEEP_BATCH)
    )
    enqueued = 0
    for row in due:
        job = await queue.enqueue_job(
            SEND_JOB, row["id"], _job_id=job_id(row["id"], row["attempts"])
        )
        enqueued += job is not None
    result = SweepResult(released=released, given_up=given_up, enqueued=enqueued)
    if released or given_up or enqueued:
        log.info("outbox_sweep_success", released=released, given_up=given_up, enqueued=enqueued)
    return result


@dataclass(frozen=True, slots=True)
class DevMessageView:
    to: str
    body: str
    created_at: datetime
    notification_id: int


async def recent_dev_messages(limit: int = 50, to: str | None = None) -> list[DevMessageView]:
    """What the console provider "sent", newest first (development only)."""
    query = DevMessage.select(
        DevMessage.to, DevMessage.body, DevMessage.created_at, DevMessage.notification_id
    ).order_by(DevMessage.created_at, DevMessage.id, ascending=False)
    if to:
        query = query.where(DevMessage.to == to)
    return [DevMessageView(**row) for row in await query.limit(limit)]
