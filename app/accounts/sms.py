"""Sign-in by SMS one-time code.

Rules (limits in settings, reasoning in docs/security.md): 6-digit codes, kept only as an HMAC,
valid 5 minutes, at most 5 guesses per code. A code can be redeemed only with the **ticket**
handed to the device that asked for it (in an HttpOnly cookie of that device), so nobody else can
guess at it, burn its attempts or replace it: an attacker who asks for codes for someone
else's number only ever guesses at their own codes.

Limits that someone else could spend are counted per requesting address, under a ceiling per
phone that holds whatever the number of addresses: codes (one per 60 s, 5 per hour, 10 per day
per phone and address; at most 20 per phone per day), wrong guesses (10 per phone and address
per hour; at most 30 per phone per day, which keeps guessing 6 digits hopeless), and every
guess per address (60 per hour). Answers are the same whether or not an account exists.
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis

from app.accounts.phone import normalise_phone
from app.accounts.tables import SmsChallenge
from app.config import get_settings
from app.core.crypto import keyed_hash
from app.core.display import as_utc
from app.core.i18n import _
from app.core.logging import get_logger
from app.core.ratelimit import add_hit, hits
from app.core.transactions import write_transaction
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


def _too_many(message: str) -> SignInError:
    return SignInError(message, status=429)


async def _check_limits(phone: str, ip_hash: str, now: datetime) -> None:
    settings = get_settings()
    mine = (SmsChallenge.phone == phone, SmsChallenge.ip_hash == ip_hash)
    newest = (
        await SmsChallenge.select(SmsChallenge.created_at)
        .where(*mine)
        .order_by(SmsChallenge.created_at, ascending=False)
        .first()
    )
    if newest:
        wait = settings.sms_resend_after - (now - as_utc(newest["created_at"])).total_seconds()
        if wait > 0:
            raise _too_many(
                _(
                    "A code was sent a moment ago. You can ask for another in %(seconds)s seconds.",
                    seconds=int(wait) + 1,
                )
            )
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)
    if await _count(*mine, SmsChallenge.created_at > hour) >= settings.sms_per_phone_hour:
        raise _too_many(
            _("Too many codes for this number in the last hour. Please try again later.")
        )
    if await _count(*mine, SmsChallenge.created_at > day) >= settings.sms_per_phone_day or (
        await _count(SmsChallenge.phone == phone, SmsChallenge.created_at > day)
        >= settings.sms_per_phone_day_ceiling
    ):
        raise _too_many(_("Too many codes for this number today. Please try again tomorrow."))
    if (
        await _count(SmsChallenge.ip_hash == ip_hash, SmsChallenge.created_at > hour)
        >= settings.sms_per_ip_hour
    ):
        raise _too_many(_("Too many codes from this network. Please try again later."))


@dataclass(frozen=True, slots=True)
class CodeSent:
    phone: str
    notification_id: int
    ticket: str  # give it to the device that asked, and only to it


async def request_code(raw_phone: str, ip: str, locale: str, redis: Redis) -> CodeSent:
    """Create a code for the phone and queue its SMS in the same transaction."""
    phone = parse_phone(raw_phone)
    ip_hash = keyed_hash("accounts.ip", ip)
    settings = get_settings()
    code = f"{secrets.randbelow(1_000_000):06d}"
    ticket = secrets.token_urlsafe(24)
    # No other code request for this phone or this address runs meanwhile, so the limits are
    # checked against every code already given (no overshoot by parallel calls).
    async with write_transaction(f"sms-phone:{phone}", f"sms-ip:{ip_hash}"):
        now = utcnow()
        await _check_limits(phone, ip_hash, now)
        await SmsChallenge.insert(
            SmsChallenge(
                phone=phone,
                code_hash=keyed_hash("accounts.sms_code", phone, code),
                ticket_hash=keyed_hash("accounts.sms_ticket", ticket),
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
    return CodeSent(phone=phone, notification_id=notification_id, ticket=ticket)


async def verify_code(raw_phone: str, raw_code: str, ticket: object, ip: str, redis: Redis) -> str:
    """Return the phone when the code is right; each call counts as one guess."""
    phone = parse_phone(raw_phone)
    code = (raw_code or "").strip()
    if not _CODE.match(code):
        raise SignInError(_("Enter the 6-digit code from the text message."), field="code")
    settings = get_settings()
    ip_hash = keyed_hash("accounts.ip", ip)
    if await add_hit(redis, "sms_verify_ip", ip_hash, 3600) > settings.sms_verify_per_ip_hour:
        raise SignInError(
            _("Too many attempts from this network. Please try again later."),
            status=429,
            field="code",
        )
    wrong_here, wrong_anywhere = f"{phone}:{ip_hash}", phone
    if (
        await hits(redis, "sms_wrong", wrong_here, 3600) >= settings.sms_wrong_per_phone_hour
        or await hits(redis, "sms_wrong_all", wrong_anywhere, 86400)
        >= settings.sms_wrong_per_phone_day_ceiling
    ):
        raise SignInError(
            _("Too many wrong codes for this number. Please try again later."),
            status=429,
            field="code",
        )
    expired = _("This code is wrong or has expired. Please ask for a new one.")
    if not isinstance(ticket, str) or not ticket:
        raise SignInError(expired, field="code")
    challenge = (
        await SmsChallenge.select()
        .where(
            SmsChallenge.phone == phone,
            SmsChallenge.ticket_hash == keyed_hash("accounts.sms_ticket", ticket),
        )
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
        await add_hit(redis, "sms_wrong", wrong_here, 3600)
        await add_hit(redis, "sms_wrong_all", wrong_anywhere, 86400)
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
