"""Officer actions on what an applicant still owes after acceptance: a material left missing
(容缺) or for later (延期), and a pledge (告知承诺) that replaced one.

``extend`` grants more time; ``enforce`` acts on the pledge or the missing material — the
obligation is marked enforced and, when the case's licence was issued on the strength of it,
the licence is revoked (告知承诺 rules: a pledge found untrue leads to the withdrawal of the
permit, 行政许可法 第六十九条). Both run in the case's ``write_transaction`` with a check of
the case's ``version`` (a stale form changes nothing) and append the audit entry last.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.accounts.tables import Account
from app.applications import audit, service
from app.applications.service import ApplicationError, stale
from app.applications.tables import (
    Application,
    AuditEntry,
    Case,
    MaterialEntry,
    Obligation,
    Provision,
)
from app.core.i18n import _
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.licences.tables import Licence

log = get_logger("applications")

MAX_EXTENSION_DAYS = 90  # a new due date is at most this many days after today


def enforceable(entry: MaterialEntry) -> bool:
    """An owed material, or a signed pledge not yet acted on."""
    if entry.obligation == Obligation.OWED:
        return True
    return entry.provision == Provision.PLEDGE and entry.obligation == Obligation.NONE


async def _case_and_entry(
    officer: Account, case_id: int, entry_id: int, version: int
) -> tuple[Case, MaterialEntry]:
    case = await service.case_for_officer(officer, case_id)
    if case is None:
        raise ApplicationError("no_case", _("That case is not in your department's inbox."))
    if case.version != version:
        raise stale()
    entry = (
        await MaterialEntry.objects()
        .where(MaterialEntry.id == entry_id, MaterialEntry.application == case.application)
        .output(load_json=True)
        .first()
    )
    if entry is None or not set(entry.items) & set(case.items):
        raise ApplicationError("no_entry", _("That material is not part of this case."))
    return case, entry


async def _bump(case: Case, version: int) -> None:
    changed = (
        await Case.update({Case.version: version + 1, Case.updated_at: datetime.now(UTC)})
        .where(Case.id == case.id, Case.version == version)
        .returning(Case.id)
    )
    if not changed:
        raise stale()
    # The application's version keys its public tracking page: the timeline grows.
    await Application.update({Application.version: Application.version + 1}).where(
        Application.id == case.application
    )


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ApplicationError("reason_required", _("Please give a reason."))
    return reason[:2000]


async def extend(
    officer: Account,
    case_id: int,
    entry_id: int,
    new_due: date,
    *,
    version: int,
    reason: str = "",
    on: date | None = None,
) -> None:
    """Grant more time for an owed material: a later due date, at most 90 days from today."""
    on = on or service.today()
    reason = _reason(reason)
    async with write_transaction(f"case:{case_id}"):
        case, entry = await _case_and_entry(officer, case_id, entry_id, version)
        if entry.obligation != Obligation.OWED:
            raise ApplicationError(
                "not_owed", _("More time can be granted only for a material still owed.")
            )
        if entry.due_on is not None and new_due <= entry.due_on:
            raise ApplicationError(
                "not_later", _("The new due date must be later than the current one.")
            )
        if new_due <= on or new_due > on + timedelta(days=MAX_EXTENSION_DAYS):
            raise ApplicationError(
                "too_far",
                _(
                    "The new due date must be after today and at most %(days)s days from today.",
                    days=MAX_EXTENSION_DAYS,
                ),
            )
        await _bump(case, version)
        await MaterialEntry.update(
            {MaterialEntry.due_on: new_due, MaterialEntry.reminded_on: None}
        ).where(MaterialEntry.id == entry.id)
        await service._recount_owed(int(case.application))
        await audit.append(
            subject_type="application",
            subject_id=case.application,
            actor_id=int(officer.id),
            action="obligation_extend",
            reason=reason,
            payload={
                "case": int(case.id),
                "material": entry.code,
                "from": entry.due_on.isoformat() if entry.due_on else None,
                "to": new_due.isoformat(),
            },
        )
    log.info("obligation_extend_success", case_id=case_id, officer_id=officer.id)


async def issued_licence(case: Case) -> int | None:
    """The licence issued for this case, from the payload of its ``case_issue`` audit entry."""
    rows = (
        await AuditEntry.select(AuditEntry.payload)
        .where(
            AuditEntry.subject_type == "application",
            AuditEntry.subject_id == str(case.application),
            AuditEntry.action == "case_issue",
        )
        .order_by(AuditEntry.seq)
        .output(load_json=True)
    )
    for row in rows:
        payload: dict[str, Any] = row["payload"] or {}
        if payload.get("case") == case.id and payload.get("licence"):
            return int(payload["licence"])
    return None


async def enforce(
    officer: Account, case_id: int, entry_id: int, *, version: int, reason: str
) -> int | None:
    """Act on a pledge or a missing material; returns the id of a licence it revoked."""
    reason = _reason(reason)
    revoked: int | None = None
    async with write_transaction(f"case:{case_id}"):
        case, entry = await _case_and_entry(officer, case_id, entry_id, version)
        if not enforceable(entry):
            raise ApplicationError(
                "not_enforceable",
                _("Only a material still owed or a pledge can be acted on."),
            )
        await _bump(case, version)
        await MaterialEntry.update({MaterialEntry.obligation: Obligation.ENFORCED}).where(
            MaterialEntry.id == entry.id
        )
        await service._recount_owed(int(case.application))
        licence_id = await issued_licence(case)
        if licence_id is not None:
            done = (
                await Licence.update({Licence.revoked_at: datetime.now(UTC)})
                .where(Licence.id == licence_id, Licence.revoked_at.is_null())
                .returning(Licence.id)
            )
            revoked = licence_id if done else None
        await audit.append(
            subject_type="application",
            subject_id=case.application,
            actor_id=int(officer.id),
            action="obligation_enforce",
            reason=reason,
            payload={"case": int(case.id), "material": entry.code, "licence_revoked": revoked},
        )
    log.info("obligation_enforce_success", case_id=case_id, officer_id=officer.id)
    return revoked
