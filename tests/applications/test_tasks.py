"""The daily jobs (app/applications/tasks.py) on pinned dates around National Day 2026:
accepted on Friday 25 September 2026 (Mid-Autumn Festival), 1–7 October off, Saturday
10 October worked. A 5-working-day promise is then due Friday 9 October."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.accounts.tables import Account
from app.applications import service, tasks
from app.applications.audit import verify_chain
from app.applications.tables import (
    Application,
    AuditEntry,
    Case,
    MaterialEntry,
    Obligation,
    Provision,
    State,
)
from app.core import holidays
from app.notifications.tables import Notification
from tests.applications.people import account, fill, fresh, guide_of, officer

ACCEPTED_ON = date(2026, 9, 25)
PROMISED_DUE = date(2026, 10, 9)  # 5 working days: 28, 29, 30 September, 8, 9 October
OWED_DUE = date(2026, 10, 25)  # a tolerated material: 30 days after acceptance
CATERING = {"discharger": frozenset({"catering"})}
# An item of each department used here, each promising 5 or 10 working days.
ITEMS = {
    "water": "drainage-permit",
    "health": "birth-certificate-reissue",
    "human-resources": "unemployment-benefit",
}


async def accepted(
    department: str = "water", *, tolerate: bool = False, on: date = ACCEPTED_ON
) -> tuple[Account, Account, Case]:
    """An application to ``department`` (by default a drainage permit of the water
    department, 5 working days promised), accepted on ``on``; with ``tolerate`` the permit's
    grease-trap description is left missing (容缺) and owed."""
    applicant = await account()
    clerk = await officer(department)
    guide = await guide_of(ITEMS[department])
    answers = CATERING if department == "water" else {}
    application = await service.start(applicant, guide, answers, {})
    mode = "complete"
    if tolerate:
        entry = next(
            e for e in await service.entries_of(int(application.id)) if e.code == "grease_trap"
        )
        await service.choose(applicant, application, int(entry.id), Provision.MISSING)
        mode = "tolerated"
    application = await fill(applicant, await fresh(application))
    await service.submit(
        applicant, application, version=application.version, assurance=2, items=guide.items
    )
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "prereview", version=case.version)
    case = (await service.cases_of(int(application.id)))[0]
    await service.act(clerk, int(case.id), "accept", version=case.version, mode=mode, on=on)
    return applicant, clerk, (await service.cases_of(int(application.id)))[0]


async def reread(case: Case) -> Case:
    found = await Case.objects().where(Case.id == case.id).first()
    assert found is not None
    return found


async def digests_to(person: Account) -> list[dict[str, Any]]:
    return list(
        await Notification.select(Notification.params)
        .where(Notification.kind == "deadlines_digest", Notification.user_id == person.id)
        .order_by(Notification.id)
        .output(load_json=True)
    )


async def forget_digests(redis: Any, *days: date) -> None:
    for day in days:
        keys = [key async for key in redis.scan_iter(f"tongban:deadlines_digest:{day}:*")]
        if keys:
            await redis.delete(*keys)


async def test_a_case_is_due_soon_across_the_holiday_and_overdue_after_its_due_day(
    redis: Any,
) -> None:
    _applicant, _clerk, case = await accepted()
    assert case.promised_due == PROMISED_DUE
    ctx = {"redis": redis}
    expected = {
        date(2026, 9, 29): (False, False),  # 3 working days left
        date(2026, 9, 30): (True, False),  # 2 left, and a week of holidays before them
        date(2026, 10, 5): (True, False),  # inside the holidays: still 2 left
        date(2026, 10, 9): (True, False),  # the due day itself
        date(2026, 10, 10): (False, True),  # a make-up Saturday: overdue
    }
    for day, (soon, overdue) in expected.items():
        await tasks.daily_deadlines(ctx, today=day)
        now = await reread(case)
        assert (now.due_soon, now.overdue) == (soon, overdue), day
        assert now.promised_due == PROMISED_DUE
        assert now.legal_due == date(2026, 10, 29)
        assert now.version == case.version  # flags are not a transition: open forms stay valid


async def test_a_decided_case_has_its_flags_cleared(redis: Any) -> None:
    _applicant, clerk, case = await accepted()
    ctx = {"redis": redis}
    await tasks.daily_deadlines(ctx, today=date(2026, 10, 12))
    assert (await reread(case)).overdue
    await service.act(clerk, int(case.id), "review", version=case.version)
    case = await reread(case)
    await service.act(clerk, int(case.id), "approve", version=case.version)
    assert (await reread(case)).state == State.ISSUED
    await tasks.daily_deadlines(ctx, today=date(2026, 10, 13))
    now = await reread(case)
    assert (now.due_soon, now.overdue) == (False, False)


async def test_the_digest_goes_to_each_officer_once_a_day_with_the_counts(redis: Any) -> None:
    days = (date(2026, 10, 20), date(2026, 10, 21))  # due 16 October: overdue
    await forget_digests(redis, *days)
    _applicant, clerk, case = await accepted("health", on=date(2026, 9, 28))
    colleague = await officer("health")
    ctx = {"redis": redis}

    await tasks.daily_deadlines(ctx, today=days[0])
    department = int(case.department)
    soon = await Case.count().where(
        Case.department == department,
        Case.state.is_in(list(tasks.RUNNING)),
        Case.due_soon == True,  # noqa: E712
    )
    late = await Case.count().where(
        Case.department == department,
        Case.state.is_in(list(tasks.RUNNING)),
        Case.overdue == True,  # noqa: E712
    )
    assert late >= 1
    for person in (clerk, colleague):
        assert [row["params"] for row in await digests_to(person)] == [
            {"soon": soon, "overdue": late}
        ]

    await tasks.daily_deadlines(ctx, today=days[0])  # the same day again: no second SMS
    assert len(await digests_to(clerk)) == 1
    await tasks.daily_deadlines(ctx, today=days[1])  # the next day: a new digest
    assert len(await digests_to(colleague)) == 2


async def test_the_digest_is_in_the_officers_language(redis: Any) -> None:
    day = date(2026, 10, 14)
    await forget_digests(redis, day)
    await accepted("human-resources")
    clerk = await officer("human-resources")
    await Account.update({Account.locale: "en"}).where(Account.id == clerk.id)
    await tasks.daily_deadlines({"redis": redis}, today=day)
    row = (
        await Notification.select(Notification.locale)
        .where(Notification.kind == "deadlines_digest", Notification.user_id == clerk.id)
        .first()
    )
    assert row == {"locale": "en"}


async def test_a_due_date_beyond_the_known_calendar_is_marked_and_the_job_goes_on(
    redis: Any,
) -> None:
    # Accepted on 29 December of the last year the calendar knows: 5 working days reach into
    # the next, which it does not.
    last = holidays.last_known_year()
    _applicant, _clerk, late_case = await accepted(on=date(last, 12, 29))
    assert late_case.calendar_unknown and late_case.promised_due is None
    _applicant, _clerk, known_case = await accepted()
    await Case.update({Case.calendar_unknown: False}).where(Case.id == late_case.id)

    await tasks.daily_deadlines({"redis": redis}, today=date(last, 12, 30))

    late_now, known_now = await reread(late_case), await reread(known_case)
    assert late_now.calendar_unknown
    assert (late_now.due_soon, late_now.overdue) == (False, False)
    assert known_now.overdue  # the other cases were still seen to


async def owed_entry(case: Case) -> MaterialEntry:
    found = (
        await MaterialEntry.objects()
        .where(MaterialEntry.application == case.application, MaterialEntry.code == "grease_trap")
        .first()
    )
    assert found is not None
    return found


async def reminders_to(person: Account) -> list[dict[str, Any]]:
    return list(
        await Notification.select(Notification.params, Notification.locale)
        .where(Notification.kind == "obligation_due", Notification.user_id == person.id)
        .order_by(Notification.id)
        .output(load_json=True)
    )


async def test_an_owed_material_is_reminded_three_days_before_and_on_the_due_day(
    redis: Any,
) -> None:
    applicant, _clerk, case = await accepted(tolerate=True)
    entry = await owed_entry(case)
    assert (entry.obligation, entry.due_on) == (Obligation.OWED, OWED_DUE)
    application = await Application.objects().where(Application.id == case.application).first()
    assert application is not None
    ctx = {"redis": redis}

    await tasks.obligation_reminders(ctx, today=date(2026, 10, 21))  # 4 days before
    assert await reminders_to(applicant) == []
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 22))  # 3 days before
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 22))  # run twice: one SMS
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 23))
    reminders = await reminders_to(applicant)
    assert reminders == [
        {
            "params": {
                "code": service.display_code(application.code),
                "material": entry.name_zh,
                "due": "2026-10-25",
            },
            "locale": "zh-Hans",
        }
    ]
    await tasks.obligation_reminders(ctx, today=OWED_DUE)
    await tasks.obligation_reminders(ctx, today=OWED_DUE)
    assert len(await reminders_to(applicant)) == 2
    assert (await owed_entry(case)).reminded_on == OWED_DUE
    assert not (await reread(case)).obligation_overdue


async def test_a_material_past_due_flags_its_case_and_is_audited_once(redis: Any) -> None:
    applicant, _clerk, case = await accepted(tolerate=True)
    ctx = {"redis": redis}
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 26))
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 27))

    now = await reread(case)
    assert now.obligation_overdue and now.owed == 1
    entries = (
        await AuditEntry.select(AuditEntry.payload, AuditEntry.actor_id)
        .where(
            AuditEntry.subject_id == str(case.application),
            AuditEntry.action == "obligation_overdue",
        )
        .output(load_json=True)
    )
    assert entries == [
        {"payload": {"material": "grease_trap", "due": "2026-10-25"}, "actor_id": None}
    ]
    assert await reminders_to(applicant) == []  # past due: no reminder, the flag instead
    events = await service.timeline(int(case.application))
    assert events[-1].label == "An owed material is overdue"
    assert (await verify_chain()).ok


async def test_a_supplied_material_is_neither_reminded_nor_flagged(redis: Any) -> None:
    applicant, _clerk, case = await accepted(tolerate=True)
    await MaterialEntry.update({MaterialEntry.obligation: Obligation.SUPPLIED}).where(
        MaterialEntry.id == (await owed_entry(case)).id
    )
    ctx = {"redis": redis}
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 22))
    await tasks.obligation_reminders(ctx, today=date(2026, 10, 26))
    assert await reminders_to(applicant) == []
    assert not (await reread(case)).obligation_overdue


def test_the_worker_runs_both_jobs_daily_at_seven_in_beijing() -> None:
    from workers.settings import WorkerSettings

    jobs = {job.name: dataclasses.replace(job) for job in WorkerSettings.cron_jobs}
    # 04:00 in Beijing, 20:00 UTC the day before: the next runs are 23:00 and 23:05 UTC.
    now = datetime(2026, 11, 24, 20, 0, tzinfo=UTC).astimezone(WorkerSettings.timezone)
    for name, minute in (("cron:daily_deadlines", 0), ("cron:obligation_reminders", 5)):
        jobs[name].calculate_next(now)
        next_run = jobs[name].next_run
        assert next_run is not None
        # arq starts crons a fraction of a second late on purpose (its microsecond argument).
        assert next_run.replace(microsecond=0) == datetime(2026, 11, 24, 23, minute, tzinfo=UTC)


async def test_drafts_kept_past_their_day_are_purged_with_their_files(
    settings: Any, tmp_path: Any
) -> None:
    from app.applications.tables import Application, AttachedFile, AuditEntry
    from app.files.storage import LocalStorage
    from app.files.tables import StoredFile
    from tests.applications import people

    storage = LocalStorage(tmp_path)
    applicant = await people.account()
    old = await service.start(applicant, await people.guide_of("seal-engraving"), {}, {})
    kept = await service.start(applicant, await people.guide_of("seal-engraving"), {}, {})
    later = old.keep_until + timedelta(days=30)
    await Application.update({Application.keep_until: later}).where(Application.id == kept.id)
    page = await people.stored_file(applicant)
    await storage.put(page.storage_key, _chunks(b"a page"))
    entry = next(
        e for e in await service.entries_of(int(old.id)) if "upload" in service.provisions_for(e)
    )
    await service.attach(await people.fresh(old), int(entry.id), page)
    assert await storage.exists(page.storage_key)

    result = await tasks.purge_expired_drafts(
        {"file_storage": storage}, today=old.keep_until + timedelta(days=1)
    )
    assert result["drafts"] >= 1 and result["files"] >= 1
    assert not await Application.exists().where(Application.id == old.id)
    assert not await StoredFile.exists().where(StoredFile.id == page.id)
    assert not await AttachedFile.exists().where(AttachedFile.application == old.id)
    assert not await storage.exists(page.storage_key)
    assert await AuditEntry.exists().where(
        AuditEntry.subject_id == str(old.id),
        AuditEntry.action == "application_discard",
        AuditEntry.reason == "draft_expired",
    )
    # A draft still within its time stays, up to and including its last day.
    assert await Application.exists().where(Application.id == kept.id)
    await tasks.purge_expired_drafts({"file_storage": storage}, today=later)
    assert await Application.exists().where(Application.id == kept.id)


async def _chunks(data: bytes) -> Any:
    yield data
