"""Daily jobs of applications (registered as crons in workers/settings.py).

``daily_deadlines`` recomputes every running case's due dates from its clock and sets the
inbox flags ``due_soon`` (promised due date within 2 working days) and ``overdue``; each
department with such cases gets one SMS digest per officer per day. ``obligation_reminders``
reminds applicants of owed materials (容缺 / 延期补交) 3 days before and on the due day, and
flags the cases whose owed material is past due, with an audit entry.

Both take ``ctx`` first, as arq passes it (``ctx["redis"]`` is the worker's ArqRedis), and a
``today`` that tests pin; both are safe to run twice the same day. Notifications are written
in the transaction of the change they report and sent after it commits (the outbox).

What is safe to log: case, entry, application and department ids, counts.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

from app.accounts.tables import Account, Role
from app.applications import audit, service
from app.applications.tables import (
    Application,
    AttachedFile,
    AuditEntry,
    Case,
    MaterialEntry,
    Obligation,
    State,
)
from app.applications.workdays import working_days_between
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.notifications.services import notify, send_soon

log = get_logger("applications")

# A clock runs in these states; in correction it is paused, and a decided or withdrawn case
# has no deadline left to watch.
RUNNING = (State.ACCEPTED, State.IN_REVIEW, State.RESUBMITTED)
BATCH = 500
REMIND_BEFORE_DAYS = 3
DIGEST_KEY = "tongban:deadlines_digest:{day}:{department}"
DIGEST_KEY_TTL = 3 * 24 * 3600


def _flags(case: Case, day: date) -> dict[Any, Any]:
    """The due dates and flags of one running case on ``day``."""
    clock = service._clock_of(case)
    if clock is None:
        return {Case.due_soon: False, Case.overdue: False}
    values = service._dues(clock, case)  # marks calendar_unknown when a due date is unknowable
    promised = values[Case.promised_due]
    if promised is None:  # paused, or beyond the known calendar: not due before that year
        return {**values, Case.due_soon: False, Case.overdue: False}
    overdue = day > promised
    # Only days up to a known due date are counted: a CalendarUnknown cannot arise here.
    soon = not overdue and working_days_between(day, promised) <= service.DUE_SOON_WORKDAYS
    return {**values, Case.due_soon: soon, Case.overdue: overdue}


def _changed(case: Case, values: dict[Any, Any]) -> bool:
    return any(getattr(case, column._meta.name) != value for column, value in values.items())


async def daily_deadlines(ctx: dict[str, Any], today: date | None = None) -> dict[str, int]:
    """Cron (07:00 Asia/Shanghai): due dates and flags of every case, then the digests."""
    day = today or service.today()
    cleared = (
        await Case.update({Case.due_soon: False, Case.overdue: False})
        .where(
            Case.state.not_in(list(RUNNING)),
            (Case.due_soon == True) | (Case.overdue == True),  # noqa: E712
        )
        .returning(Case.id)
    )
    running = updated = 0
    after = 0
    while True:
        batch = (
            await Case.objects()
            .where(Case.state.is_in(list(RUNNING)), Case.clock.is_not_null(), Case.id > after)
            .order_by(Case.id)
            .limit(BATCH)
            .output(load_json=True)
        )
        if not batch:
            break
        after = int(batch[-1].id)
        running += len(batch)
        for case in batch:
            values = _flags(case, day)
            if not _changed(case, values):
                continue
            # Only if no transition happened since we read it: a return for correction, say,
            # pauses the clock and clears the due dates itself.
            done = (
                await Case.update(values)
                .where(Case.id == case.id, Case.version == case.version)
                .returning(Case.id)
            )
            updated += len(done)
    sent = await _digests(ctx, day)
    result = {
        "running": running,
        "updated": updated,
        "cleared": len(cleared),
        "digests": len(sent),
    }
    log.info("deadlines_daily_success", **result)
    return result


async def _counts(flag: Any) -> Counter[int]:
    rows = await Case.select(Case.department).where(Case.state.is_in(list(RUNNING)), flag == True)  # noqa: E712
    return Counter(int(row["department"]) for row in rows)


async def _digests(ctx: dict[str, Any], day: date) -> list[int]:
    """One SMS per officer of each department with cases due soon or overdue, once a day.
    Redis remembers which departments had theirs ``day`` (SET NX); if writing the messages
    fails, the mark is taken back so a second run may try again."""
    soon, overdue = await _counts(Case.due_soon), await _counts(Case.overdue)
    redis = ctx["redis"]
    ids: list[int] = []
    for department in sorted(set(soon) | set(overdue)):
        key = DIGEST_KEY.format(day=day.isoformat(), department=department)
        if not await redis.set(key, "1", nx=True, ex=DIGEST_KEY_TTL):
            continue
        officers = await Account.select(Account.id, Account.phone, Account.locale).where(
            Account.department == department,
            Account.role == Role.OFFICER,
            Account.is_active == True,  # noqa: E712
        )
        try:
            async with write_transaction(f"deadlines_digest:{department}"):
                written = [
                    await notify(
                        "deadlines_digest",
                        officer["phone"],
                        {"soon": soon[department], "overdue": overdue[department]},
                        locale=officer["locale"],
                        user_id=int(officer["id"]),
                    )
                    for officer in officers
                ]
        except BaseException:
            await redis.delete(key)
            raise
        ids.extend(written)
    if ids:
        await send_soon(ids, redis)
    return ids


# ---------------------------------------------------------------- owed materials


def _reminder_due(due_on: date, reminded_on: date | None, day: date) -> bool:
    """The first reminder within the last 3 days before ``due_on`` (on the 3rd day before,
    unless the job missed it), and one on the due day."""
    left = (due_on - day).days
    if not 0 <= left <= REMIND_BEFORE_DAYS:
        return False
    if reminded_on is None:
        return True
    return left == 0 and reminded_on < due_on


async def obligation_reminders(ctx: dict[str, Any], today: date | None = None) -> dict[str, int]:
    """Cron (07:05 Asia/Shanghai): reminders for owed materials, and flags once past due."""
    day = today or service.today()
    rows = (
        await MaterialEntry.select(
            MaterialEntry.id,
            MaterialEntry.application,
            MaterialEntry.code,
            MaterialEntry.name_zh,
            MaterialEntry.name_en,
            MaterialEntry.due_on,
            MaterialEntry.reminded_on,
            MaterialEntry.application.code.as_alias("application_code"),
            MaterialEntry.application.applicant.as_alias("applicant"),
            MaterialEntry.application._.applicant._.phone.as_alias("phone"),
            MaterialEntry.application._.applicant._.locale.as_alias("locale"),
        )
        .where(
            MaterialEntry.obligation == Obligation.OWED,
            MaterialEntry.due_on.is_not_null(),
            MaterialEntry.due_on <= day + timedelta(days=REMIND_BEFORE_DAYS),
        )
        .order_by(MaterialEntry.id)
    )
    ids: list[int] = []
    late: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["due_on"] < day:
            late.setdefault(int(row["application"]), []).append(row)
        elif _reminder_due(row["due_on"], row["reminded_on"], day):
            sent = await _remind(row, day)
            if sent is not None:
                ids.append(sent)
    flagged = 0
    for application_id, entries in late.items():
        flagged += await _overdue(application_id, entries, day)
    if ids:
        await send_soon(ids, ctx["redis"])
    log.info("obligation_daily_success", reminded=len(ids), overdue_entries=flagged)
    return {"reminded": len(ids), "overdue": flagged}


async def _remind(row: dict[str, Any], day: date) -> int | None:
    """One reminder, unless this entry had one ``day`` already (a second run, or a race)."""
    async with write_transaction(f"application:{row['application']}"):
        claimed = (
            await MaterialEntry.update({MaterialEntry.reminded_on: day})
            .where(
                MaterialEntry.id == row["id"],
                MaterialEntry.reminded_on.is_null() | (MaterialEntry.reminded_on < day),
            )
            .returning(MaterialEntry.id)
        )
        if not claimed:
            return None
        return await notify(
            "obligation_due",
            row["phone"],
            {
                "code": service.display_code(row["application_code"]),
                "material": row["name_zh"] if row["locale"] == "zh-Hans" else row["name_en"],
                "due": row["due_on"].isoformat(),
            },
            locale=row["locale"],
            user_id=int(row["applicant"]),
        )


async def _overdue(application_id: int, entries: list[dict[str, Any]], day: date) -> int:
    """Flag the application's cases and record each newly overdue material once in the
    audit trail (the trail itself says which were recorded already)."""
    async with write_transaction(f"application:{application_id}"):
        await service._recount_owed(application_id, on=day)
        recorded = {
            (row["payload"] or {}).get("material")
            for row in await AuditEntry.select(AuditEntry.payload)
            .where(
                AuditEntry.subject_type == "application",
                AuditEntry.subject_id == str(application_id),
                AuditEntry.action == "obligation_overdue",
            )
            .output(load_json=True)
        }
        new = [entry for entry in entries if entry["code"] not in recorded]
        state = ""
        if new:
            found = (
                await Application.select(Application.state)
                .where(Application.id == application_id)
                .first()
            )
            state = found["state"] if found else ""
        if new:  # the timeline grows: the public tracking page is keyed by the version
            await Application.update({Application.version: Application.version + 1}).where(
                Application.id == application_id
            )
        for entry in new:
            await audit.append(
                subject_type="application",
                subject_id=application_id,
                actor_id=None,
                action="obligation_overdue",
                from_state=state,
                to_state=state,
                reason="obligation_due_passed",
                payload={"material": entry["code"], "due": entry["due_on"].isoformat()},
            )
    return len(new)


async def purge_expired_drafts(ctx: dict[str, Any], today: date | None = None) -> dict[str, int]:
    """Drafts nobody submitted are kept until their ``keep_until`` (at least 90 days, or the
    longest deferral limit of their items), then deleted with their files, in storage too.
    Each deletion is audited (``service.discard``)."""
    from app.files.tasks import _storage

    day = today or service.today()
    storage = _storage(ctx)
    purged = files = 0
    while True:
        batch = (
            await Application.objects()
            .where(Application.state == State.DRAFT, Application.keep_until < day)
            .order_by(Application.id)
            .limit(100)
        )
        if not batch:
            break
        for application in batch:
            keys = [
                row["key"]
                for row in await AttachedFile.select(
                    AttachedFile.file.storage_key.as_alias("key")
                ).where(AttachedFile.application == application.id)
            ]
            await service.discard(application, reason="draft_expired")
            for key in keys:
                await storage.delete(key)
            purged, files = purged + 1, files + len(keys)
    if purged:
        log.info("applications_draft_purge_success", drafts=purged, files=files)
    return {"drafts": purged, "files": files}
