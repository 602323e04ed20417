"""Sign-in by SMS one-time code.

Rules (limits in settings, reasoning in docs/security.md): 6-digit codes, kept only as an HMAC,
valid 5 minutes, at most 5 guesses per code, a new code at most every 60 s, at most 5 codes per
phone per hour and 10 per day, and a cap per IP. Only the newest code of a phone counts.
Answers are the same whether or not an account exists for the number.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.querystring import QueryString
from redis.asyncio import Redis

from app.accounts.phone import normalise_phone
from app.accounts.tables import SmsChallenge
from app.config import get_settings
from app.core.crypto import keyed_hash
from app.core.display import as_utc
from app.core.i18n import _
from app.core.logging import get_logger
from app.notifications.services import notify, send_soon

log = get_logger("accounts.sms")
_CODE = re.compile(r"^\d{6}$")


class SignInError(Exception):
    """A refusal to show the user, already localised; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


def utcnow() -> datetime:
    return datetime.now(UTC)


def parse_phone(raw: str) -> str:
    phone = normalise_phone(raw)
    if phone is None:
        raise SignInError(
            _("Please enter a valid mainland mobile number, for example 138 0000 0000."),
            field="phone",
        )
    return phone


async def _count(*where: object) -> int:
    return await SmsChallenge.count().where(*where)  # type: ignore[arg-type]


async def _check_limits(phone: str, ip_hash: str, now: datetime) -> None:
    settings = get_settings()
    newest = (
        await SmsChallenge.select(SmsChallenge.created_at)
        .where(SmsChallenge.phone == phone)
        .order_by(SmsChallenge.created_at, ascending=False)
        .first()
    )
    if newest:
        wait = settings.sms_resend_after - (now - as_utc(newest["created_at"])).total_seconds()
        if wait > 0:
            raise SignInError(
                _(
                    "A code was sent a moment ago. You can ask for another in %(seconds)s seconds.",
                    seconds=int(wait) + 1,
                ),
                status=429,
            )
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    if (
        await _count(SmsChallenge.phone == phone, SmsChallenge.created_at > hour)
        >= settings.sms_per_phone_hour
    ):
        raise SignInError(
            _("Too many codes for this number in the last hour. Please try again later."),
            status=429,
        )
    if (
        await _count(SmsChallenge.phone == phone, SmsChallenge.created_at > day)
        >= settings.sms_per_phone_day
    ):
        raise SignInError(
            _("Too many codes for this number today. Please try again tomorrow."), status=429
        )
    if (
        await _count(SmsChallenge.ip_hash == ip_hash, SmsChallenge.created_at > hour)
        >= settings.sms_per_ip_hour
    ):
        raise SignInError(
            _("Too many codes from this network. Please try again later."), status=429
        )


@asynccontextmanager
async def _one_at_a_time(phone: str, ip_hash: str) -> AsyncIterator[None]:
    """A transaction in which no other code request for this phone or this address runs, so
    the limits are checked against every code already given (no overshoot by parallel calls).

    PostgreSQL: transaction-scoped advisory locks, always taken phone first, then address, so
    two requests can never wait on each other in a cycle. SQLite: BEGIN IMMEDIATE takes the
    database's write lock at once, which serialises every writer.
    """
    from app.piccolo_conf import DB

    if isinstance(DB, SQLiteEngine):
        async with DB.transaction(transaction_type=TransactionType.immediate):
            yield
        return
    async with DB.transaction():
        for key in (f"sms-phone:{phone}", f"sms-ip:{ip_hash}"):
            await DB.run_querystring(QueryString("SELECT pg_advisory_xact_lock(hashtext({}))", key))
        yield


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str
    notification_id: int


async def request_code(raw_phone: str, ip: str, locale: str, redis: Redis) -> CodeSent:
    """Create a code for the phone and queue its SMS in the same transaction."""
    phone = parse_phone(raw_phone)
    ip_hash = keyed_hash("accounts.ip", ip)
    settings = get_settings()
    code = f"{secrets.randbelow(1_000_000):06d}"
    async with _one_at_a_time(phone, ip_hash):
        now = utcnow()
        await _check_limits(phone, ip_hash, now)
        await SmsChallenge.insert(
            SmsChallenge(
                phone=phone,
                code_hash=keyed_hash("accounts.sms_code", phone, code),
                ip_hash=ip_hash,
                created_at=now,
                expires_at=now + timedelta(seconds=settings.sms_code_ttl),
            )
        )
        notification_id = await notify(
            "sms_code", phone, {"code": code, "minutes": settings.sms_code_ttl // 60}, locale=locale
        )
    await send_soon([notification_id], redis)
    log.info("sms_code_request_success", notification_id=notification_id)
    return CodeSent(phone=phone, notification_id=notification_id)


async def verify_code(raw_phone: str, raw_code: str) -> str:
    """Return the phone when the code is right; each call counts as one guess."""
    phone = parse_phone(raw_phone)
    code = (raw_code or "").strip()
    if not _CODE.match(code):
        raise SignInError(_("Enter the 6-digit code from the text message."), field="code")
    settings = get_settings()
    expired = _("This code is wrong or has expired. Please ask for a new one.")
    challenge = (
        await SmsChallenge.select()
        .where(SmsChallenge.phone == phone)
        .order_by(SmsChallenge.created_at, ascending=False)
        .first()
    )
    now = utcnow()
    if (
        challenge is None
        or challenge["used_at"] is not None
        or as_utc(challenge["expires_at"]) <= now
    ):
        raise SignInError(expired, field="code")
    # Count the guess atomically, so parallel guesses cannot exceed the limit.
    counted = (
        await SmsChallenge.update({SmsChallenge.attempts: SmsChallenge.attempts + 1})
        .where(
            SmsChallenge.id == challenge["id"],
            SmsChallenge.attempts < settings.sms_code_max_attempts,
            SmsChallenge.used_at.is_null(),
        )
        .returning(SmsChallenge.attempts)
    )
    if not counted:
        raise SignInError(
            _("Too many wrong codes. Please ask for a new one."), status=429, field="code"
        )
    if not hmac.compare_digest(
        keyed_hash("accounts.sms_code", phone, code), challenge["code_hash"]
    ):
        left = settings.sms_code_max_attempts - counted[0]["attempts"]
        log.info("sms_code_verify_failure", challenge_id=challenge["id"], left=left)
        if left <= 0:
            raise SignInError(
                _("Too many wrong codes. Please ask for a new one."), status=429, field="code"
            )
        raise SignInError(
            _("That code is not right. %(left)s tries left.", left=left), field="code"
        )
    used = (
        await SmsChallenge.update({SmsChallenge.used_at: now})
        .where(SmsChallenge.id == challenge["id"], SmsChallenge.used_at.is_null())
        .returning(SmsChallenge.id)
    )
    if not used:  # another request used it a moment ago: a replay
        raise SignInError(expired, field="code")
    log.info("sms_code_verify_success", challenge_id=challenge["id"])
    return phone
