"""Rules of remote identity verification (docs/identity.md).

A citizen starts a verification and gets a liveness challenge drawn by the server (a 4-digit
number to hold up written on paper, or a direction to turn the head). They send a selfie and
an identity document — a photo of the card, or the ID card record of their licence library.
Each image is checked by the worker (``tasks.check_image_job``, ``checks.analyse``); only a
part that failed has to be sent again. Once both parts pass, the face-match provider is asked
(``matching``) and the verification waits for an officer, who approves (the account reaches
L2, L3 with a passkey) or rejects with a reason. An officer may also verify a person at a
counter. Every decision is written to the audit trail (app/applications/audit.py).

Images submitted are counted per account (``Attempt``): at most ``identity_attempts`` within
``identity_window_hours``. A verification left unfinished expires after
``identity_session_minutes``. Images are deleted ``identity_image_days`` after the decision
(``purge_images``). Someone else's verification is not found.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.connections import ArqRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.accounts.id_number import normalise_id_number, seal, unseal
from app.accounts.services import has_passkey
from app.accounts.tables import Account
from app.applications import audit
from app.config import get_settings
from app.core.display import LOCAL_ZONE
from app.core.i18n import N_, _
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.files import service as files
from app.files.storage import Storage, storage_from_settings
from app.files.tables import StoredFile
from app.identity.tables import (
    DECIDED,
    OPEN,
    Attempt,
    DocumentSource,
    Method,
    Verification,
    VerificationState,
)
from app.licences.services import licences_of
from app.notifications.services import notify
from app.signing.service import has_signed
from app.signing.tables import DocumentKind

log = get_logger("identity")

CHECK_JOB = "check_identity_image"
SELFIE, DOCUMENT = "selfie", "document"
PARTS = (SELFIE, DOCUMENT)
TURNS = {"left": N_("Turn your head to the left"), "right": N_("Turn your head to the right")}
LICENCE_CHECK = {
    "code": "licence",
    "ok": True,
    "message": N_("The ID card record of your licence library is used."),
}


class IdentityError(Exception):
    """A request the rules refuse; ``message`` is a localised sentence for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def now() -> datetime:
    return datetime.now(UTC)


def draw_challenge() -> tuple[str, str]:
    """(kind, value): a 4-digit number to write on paper and hold up, or a head turn."""
    if secrets.randbelow(2):
        return "number", f"{secrets.randbelow(10_000):04d}"
    return "turn", secrets.choice(sorted(TURNS))


def challenge_text(verification: Verification) -> str:
    """What the person is asked to do in the selfie, in the page's language."""
    if verification.challenge_kind == "number":
        return _(
            "Write the number %(number)s on a piece of paper and hold it up next to your face.",
            number=verification.challenge,
        )
    return _(TURNS.get(verification.challenge, TURNS["left"]))


# ---------------------------------------------------------------- reading


async def verification_of(account_id: int, verification_id: int) -> Verification | None:
    """The person's own verification (expired on the way if overdue); anyone else's is not
    found."""
    found = (
        await Verification.objects()
        .where(Verification.id == verification_id, Verification.account == account_id)
        .output(load_json=True)
        .first()
    )
    return None if found is None else await _expire_if_due(found)


async def latest_of(account_id: int) -> Verification | None:
    found = (
        await Verification.objects()
        .where(Verification.account == account_id)
        .order_by(Verification.id, ascending=False)
        .output(load_json=True)
        .first()
    )
    return None if found is None else await _expire_if_due(found)


async def _expire_if_due(verification: Verification) -> Verification:
    if verification.state in OPEN and verification.expires_at <= now():
        await Verification.update(
            {
                Verification.state: VerificationState.EXPIRED,
                Verification.version: Verification.version + 1,
                Verification.updated_at: now(),
            }
        ).where(Verification.id == verification.id, Verification.state.is_in(list(OPEN)))
        verification.state = VerificationState.EXPIRED
    return verification


async def attempts_left(account_id: int) -> int:
    settings = get_settings()
    since = now() - timedelta(hours=settings.identity_window_hours)
    used = await Attempt.count().where(Attempt.account == account_id, Attempt.created_at > since)
    return max(settings.identity_attempts - used, 0)


async def next_attempt_at(account_id: int) -> datetime | None:
    """When the oldest attempt in the window stops counting (None if attempts are left)."""
    settings = get_settings()
    if await attempts_left(account_id) > 0:
        return None
    since = now() - timedelta(hours=settings.identity_window_hours)
    oldest = (
        await Attempt.select(Attempt.created_at)
        .where(Attempt.account == account_id, Attempt.created_at > since)
        .order_by(Attempt.created_at)
        .first()
    )
    if oldest is None:
        return None
    moment: datetime = oldest["created_at"]
    return moment + timedelta(hours=settings.identity_window_hours)


def _no_attempts(until: datetime | None) -> IdentityError:
    return IdentityError(
        "attempts",
        _(
            "You have used every try for now. You can try again after %(time)s (Beijing time), "
            "or have your identity checked at any service centre counter.",
            time=until.astimezone(LOCAL_ZONE).strftime("%H:%M") if until else "",
        ),
    )


# ---------------------------------------------------------------- the citizen's steps


async def start(account: Account, next_path: str = "") -> Verification:
    """The open verification of the account, or a new one with a new challenge."""
    if account.identity_verified_at is not None:
        raise IdentityError("verified", _("Your identity is verified already."))
    latest = await latest_of(int(account.id))
    if latest is not None and (latest.state in OPEN or latest.state == VerificationState.IN_REVIEW):
        if next_path and latest.next_path != next_path:
            await Verification.update({Verification.next_path: next_path[:200]}).where(
                Verification.id == latest.id
            )
            latest.next_path = next_path[:200]
        return latest
    if await attempts_left(int(account.id)) == 0:
        raise _no_attempts(await next_attempt_at(int(account.id)))
    kind, value = draw_challenge()
    verification = Verification(
        account=account.id,
        method=Method.REMOTE,
        state=VerificationState.CAPTURING,
        challenge_kind=kind,
        challenge=value,
        next_path=next_path[:200],
        expires_at=now() + timedelta(minutes=get_settings().identity_session_minutes),
    )
    await verification.save()
    log.info("identity_start_success", verification_id=verification.id, account_id=account.id)
    return verification


def _open(verification: Verification) -> None:
    if verification.state == VerificationState.EXPIRED:
        raise IdentityError(
            "expired", _("This verification expired. Start again: it takes a minute.")
        )
    if verification.state not in OPEN:
        raise IdentityError("closed", _("This verification takes no more images."))


def _report(verification: Verification, part: str) -> dict[str, Any] | None:
    report: dict[str, Any] | None = getattr(verification, f"{part}_report")
    return report


def part_passed(verification: Verification, part: str) -> bool:
    report = _report(verification, part)
    return bool(report and report.get("ok"))


@dataclass(frozen=True, slots=True)
class Submitted:
    replaced_key: str | None  # the storage key of the image this one replaces: delete it


async def submit_image(
    account: Account, verification: Verification, part: str, stored: StoredFile
) -> Submitted:
    """Take ``stored`` (already received by the files service) as the selfie or the document
    photo; the caller enqueues the check with ``check_soon`` after this returns."""
    if part not in PARTS:
        raise IdentityError("part", _("That is not a part of the verification."))
    _open(verification)
    if part_passed(verification, part):
        raise IdentityError("passed", _("This part passed its checks already."))
    replaced: str | None = None
    async with write_transaction(f"identity:{account.id}"):
        if await attempts_left(int(account.id)) == 0:
            raise _no_attempts(await next_attempt_at(int(account.id)))
        previous = getattr(verification, part)
        if previous is not None:
            row = (
                await StoredFile.select(StoredFile.storage_key)
                .where(StoredFile.id == previous)
                .first()
            )
            replaced = row["storage_key"] if row else None
        values: dict[Any, Any] = {
            getattr(Verification, part): stored.id,
            getattr(Verification, f"{part}_report"): None,
            Verification.state: VerificationState.CHECKING,
            Verification.version: Verification.version + 1,
            Verification.updated_at: now(),
        }
        if part == DOCUMENT:
            values[Verification.document_source] = DocumentSource.PHOTO
            values[Verification.licence] = None
        await Verification.update(values).where(Verification.id == verification.id)
        await Attempt(account=account.id, verification=verification.id, part=part).save()
        if previous is not None:
            await StoredFile.delete().where(StoredFile.id == previous)
    log.info("identity_image_success", verification_id=verification.id, part=part)
    return Submitted(replaced)


async def id_card_record(account_id: int) -> int | None:
    """The account's own current ID card in the licence library, once the data-use
    authorisation is signed; None otherwise."""
    if not await has_signed(account_id, DocumentKind.AUTHORISATION):
        return None
    for licence in await licences_of(account_id):
        if licence.type_code == "id_card" and licence.company_id is None and licence.current():
            return licence.id
    return None


async def use_licence(account: Account, verification: Verification) -> None:
    """The ID card record of the licence library stands for the document photo."""
    _open(verification)
    licence = await id_card_record(int(account.id))
    if licence is None:
        raise IdentityError(
            "no_record",
            _(
                "Your licence library holds no ID card we may use. Sign the data-use "
                "authorisation on your account page, or send a photo of your ID card."
            ),
        )
    async with write_transaction(f"identity:{account.id}"):
        await Verification.update(
            {
                Verification.document_source: DocumentSource.LICENCE,
                Verification.licence: licence,
                Verification.document: None,
                Verification.document_report: {"ok": True, "checks": [LICENCE_CHECK]},
                Verification.version: Verification.version + 1,
                Verification.updated_at: now(),
            }
        ).where(Verification.id == verification.id)
        state = await advance(int(verification.id))
    if state == VerificationState.IN_REVIEW:
        await ask_provider(int(verification.id))


async def check_soon(verification_id: int, part: str, redis: Redis) -> None:
    """Enqueue the worker's check of one part; a Redis failure is logged, and the citizen's
    page offers to send the image again."""
    queue = redis if isinstance(redis, ArqRedis) else ArqRedis(redis.connection_pool)
    try:
        await queue.enqueue_job(
            CHECK_JOB,
            verification_id,
            part,
            _job_id=f"{CHECK_JOB}:{verification_id}:{part}:{secrets.token_hex(4)}",
        )
    except (RedisError, OSError) as exc:
        log.warning("identity_check_enqueue_failure", error=type(exc).__name__)


# ---------------------------------------------------------------- the worker's results


async def record_report(verification_id: int, part: str, report: dict[str, Any]) -> None:
    """Store one part's check report (called by the worker) and move the verification on."""
    async with write_transaction(f"identity-v:{verification_id}"):
        current = await Verification.objects().where(Verification.id == verification_id).first()
        if current is None or current.state not in OPEN:
            return  # expired or decided meanwhile: the report no longer matters
        await Verification.update(
            {
                getattr(Verification, f"{part}_report"): report,
                Verification.version: Verification.version + 1,
                Verification.updated_at: now(),
            }
        ).where(Verification.id == verification_id)
        state = await advance(verification_id)
    if state == VerificationState.IN_REVIEW:
        await ask_provider(verification_id)


async def advance(verification_id: int) -> VerificationState:
    """In review once both parts passed; capturing while a part is missing or failed;
    checking while a part waits for the worker."""
    verification = (
        await Verification.objects()
        .where(Verification.id == verification_id)
        .output(load_json=True)
        .first()
    )
    assert verification is not None
    reports = {part: _report(verification, part) for part in PARTS}
    pending = any(
        getattr(verification, part) is not None and reports[part] is None for part in PARTS
    )
    values: dict[Any, Any] = {}
    if all(report and report.get("ok") for report in reports.values()):
        state = VerificationState.IN_REVIEW
    elif pending:
        state = VerificationState.CHECKING
    else:
        state = VerificationState.CAPTURING
    if state != verification.state:
        values.update({Verification.state: state, Verification.version: Verification.version + 1})
    if values:
        await Verification.update(values).where(Verification.id == verification_id)
    return state


async def ask_provider(verification_id: int) -> None:
    """Ask the face-match provider about a verification that reached review, after the
    transaction that moved it (a real provider is a network call). The clean images are read
    from storage only for a provider that looks at them; the demo one defers to the officer."""
    from app.identity.matching import provider

    matcher = provider()
    selfie = document = None
    if matcher.needs_images:
        verification = (
            await Verification.objects().where(Verification.id == verification_id).first()
        )
        if verification is None:
            return
        selfie = await _image(verification.selfie)
        document = await _image(verification.document)
    result = await matcher.compare(selfie, document)
    await Verification.update({Verification.match: result.as_json()}).where(
        Verification.id == verification_id, Verification.state == VerificationState.IN_REVIEW
    )


async def _image(file_id: int | None) -> bytes | None:
    if file_id is None:
        return None
    stored = await StoredFile.select(StoredFile.storage_key).where(StoredFile.id == file_id).first()
    if stored is None:
        return None
    data = bytearray()
    async for chunk in storage_from_settings(get_settings()).open(stored["storage_key"]):
        data.extend(chunk)
    return bytes(data)


# ---------------------------------------------------------------- officers


@dataclass(frozen=True, slots=True)
class Decided:
    verification: Verification
    notification: int | None


async def decide(
    officer: Account, verification_id: int, *, approve: bool, reason: str, version: int
) -> Decided:
    """Approve (the account reaches L2) or reject a verification in review. A reason is
    required to reject; a stale ``version`` (someone decided first) changes nothing."""
    reason = reason.strip()
    if not approve and not reason:
        raise IdentityError("reason", _("Please give a reason."))
    async with write_transaction(f"identity-v:{verification_id}"):
        verification = (
            await Verification.objects().where(Verification.id == verification_id).first()
        )
        if verification is None:
            raise IdentityError("missing", _("There is no such verification."))
        if verification.version != version:
            raise IdentityError(
                "stale",
                _(
                    "This verification changed while you were looking at it (a colleague may "
                    "have decided). Nothing was changed; here is its current state."
                ),
            )
        if verification.state != VerificationState.IN_REVIEW:
            raise IdentityError("not_in_review", _("Only a verification in review can be decided."))
        target = VerificationState.APPROVED if approve else VerificationState.REJECTED
        moment = now()
        updated = (
            await Verification.update(
                {
                    Verification.state: target,
                    Verification.reviewer: officer.id,
                    Verification.reason: reason[:500],
                    Verification.decided_at: moment,
                    Verification.version: version + 1,
                    Verification.updated_at: moment,
                }
            )
            .where(Verification.id == verification_id, Verification.version == version)
            .returning(Verification.id)
        )
        if not updated:
            raise IdentityError("stale", _("Someone else decided first. Nothing was changed."))
        person = await Account.objects().where(Account.id == verification.account).first()
        assert person is not None
        notification = await _conclude(person, verification_id, target, officer, reason, moment)
    verification.state = target
    log.info("identity_decide_success", verification_id=verification_id, state=target)
    return Decided(verification, notification)


async def _conclude(
    person: Account,
    verification_id: int,
    target: VerificationState,
    officer: Account,
    reason: str,
    moment: datetime,
) -> int:
    """Raise the account on approval, tell the person, audit. Inside the caller's
    write_transaction; the audit entry comes last."""
    if target == VerificationState.APPROVED:
        await Account.update({Account.identity_verified_at: moment}).where(Account.id == person.id)
        level = 3 if await has_passkey(person.id) else 2
        sent = await notify(
            "identity_verified",
            person.phone,
            {"level": str(level)},
            locale=person.locale,
            user_id=int(person.id),
        )
    else:
        sent = await notify(
            "identity_rejected", person.phone, {}, locale=person.locale, user_id=int(person.id)
        )
    await audit.append(
        subject_type="identity",
        subject_id=verification_id,
        actor_id=int(officer.id),
        action=f"identity_{'approve' if target == VerificationState.APPROVED else 'reject'}",
        to_state=target,
        reason=reason,
        payload={"account": int(person.id)},
        at=moment,
    )
    return sent


async def verify_at_counter(
    officer: Account, person: Account, id_number: str, reason: str
) -> Decided:
    """An officer saw the person and their identity card at a counter: recorded as a
    verification of its own, approved, with the officer's reason."""
    reason = reason.strip()
    if not reason:
        raise IdentityError("reason", _("Please give a reason."))
    number = normalise_id_number(id_number)
    if number is None:
        raise IdentityError(
            "id_number", _("That is not a valid resident identity card number. Check it.")
        )
    known = unseal(person.id_number_encrypted)
    if known is not None and known != number:
        raise IdentityError(
            "id_mismatch",
            _("The card's number differs from the one this account gave. Nothing was changed."),
        )
    if person.identity_verified_at is not None:
        raise IdentityError("verified", _("This person's identity is verified already."))
    moment = now()
    async with write_transaction(f"identity:{person.id}"):
        if known is None:
            await Account.update({Account.id_number_encrypted: seal(number)}).where(
                Account.id == person.id
            )
        verification = Verification(
            account=person.id,
            method=Method.COUNTER,
            state=VerificationState.APPROVED,
            expires_at=moment,
            reviewer=officer.id,
            reason=reason[:500],
            decided_at=moment,
        )
        await verification.save()
        notification = await _conclude(
            person, int(verification.id), VerificationState.APPROVED, officer, reason, moment
        )
    return Decided(verification, notification)


# ---------------------------------------------------------------- privacy


async def purge_images(storage: Storage, at: datetime | None = None) -> int:
    """Delete the images of verifications decided or expired more than
    ``identity_image_days`` ago (rows and stored objects); the decision stays."""
    moment = at or now()
    cutoff = moment - timedelta(days=get_settings().identity_image_days)
    rows = await Verification.select(
        Verification.id, Verification.selfie, Verification.document
    ).where(
        Verification.images_purged_at.is_null(),
        Verification.state.is_in([*DECIDED, VerificationState.EXPIRED]),
        Verification.updated_at < cutoff,
    )
    purged = 0
    for row in rows:
        ids = [file for file in (row["selfie"], row["document"]) if file is not None]
        keys = (
            [
                found["storage_key"]
                for found in await StoredFile.select(StoredFile.storage_key).where(
                    StoredFile.id.is_in(ids)
                )
            ]
            if ids
            else []
        )
        async with write_transaction(f"identity-v:{row['id']}"):
            await Verification.update(
                {
                    Verification.selfie: None,
                    Verification.document: None,
                    Verification.images_purged_at: moment,
                }
            ).where(Verification.id == row["id"])
            if ids:
                await StoredFile.delete().where(StoredFile.id.is_in(ids))
        for key in keys:
            await storage.delete(key)
        purged += 1
    if purged:
        log.info("identity_purge_success", verifications=purged)
    return purged


async def reviewer_may_read(account: Any, stored: StoredFile) -> bool:
    """Verification officers may fetch the images of a verification in review or decided."""
    if getattr(account, "role", None) != "officer":
        return False
    return await Verification.exists().where(
        (Verification.selfie == stored.id) | (Verification.document == stored.id),
        Verification.state.is_in(
            [VerificationState.IN_REVIEW, VerificationState.APPROVED, VerificationState.REJECTED]
        ),
    )


files.READERS.append(reviewer_may_read)
