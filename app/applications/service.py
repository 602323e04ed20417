"""Rules of applications: starting one from a guide's checklist, providing its materials,
submitting it, and every transition of its cases (docs/applications.md).

Every change of a case's state goes through ``_move``, which asks ``machine.transition`` first,
writes with a conditional update on the case's ``version`` (a stale form or a second officer
acting at the same moment changes nothing and is told so), appends the audit trail and derives
the application's state, all in one ``write_transaction``. Notifications are written in the
same transaction (the outbox) and their ids returned so the caller can ``send_soon`` after
commit.

Ownership is part of every query: an application is found only for its applicant, a case only
for an officer of its department; anything else is "not found", never "forbidden".
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from app.accounts.tables import Account
from app.applications import audit
from app.applications.machine import (
    ACTION_LABELS,
    DECIDED,
    STATE_LABELS,
    Actor,
    overall,
    transition,
)
from app.applications.tables import (
    Application,
    AttachedFile,
    AuditEntry,
    Case,
    MaterialEntry,
    Mode,
    Obligation,
    Provision,
    State,
)
from app.applications.workdays import Clock
from app.catalogue.guide import Answers, Guide, checklist
from app.catalogue.schemas import ChecklistEntry, Mark, ServiceItemDetail
from app.catalogue.tables import Department
from app.core.holidays import CalendarUnknown
from app.core.i18n import N_, _, translations
from app.core.logging import get_logger
from app.core.transactions import write_transaction
from app.files import service as files
from app.files.tables import StoredFile
from app.licences.services import MAX_ID, seal_number
from app.licences.services import today as shanghai_today
from app.licences.tables import Licence, LicenceType, Representative
from app.notifications.services import notify
from app.signing.service import prepare, signature_of
from app.signing.tables import DocumentKind

log = get_logger("applications")

# Look-alikes left out: 0/O, 1/I/L. 31 symbols, 8 of them: about 8.5 × 10^11 codes a year.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_RE = re.compile(rf"^\d{{4}}[{ALPHABET}]{{8}}$")
DRAFT_KEEP_DAYS = 90  # a draft is kept at least this long, longer for long deferral limits
TOLERATED_DAYS = 30  # a material missing under 容缺 is due within this many days of acceptance
DUE_SOON_WORKDAYS = 2

today = shanghai_today


class ApplicationError(Exception):
    """A request the rules refuse; ``message`` is a localised sentence for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


def stale() -> ApplicationError:
    return ApplicationError(
        "stale",
        _(
            "This case changed while you were looking at it (someone else may have acted). "
            "Nothing was changed; here is its current state."
        ),
    )


# ---------------------------------------------------------------- tracking codes


def new_code(year: int) -> str:
    return f"{year:04d}" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def display_code(code: str) -> str:
    """2026ABCD2345 → 2026-ABCD-2345, easier to read out and type."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def parse_code(text: str) -> str | None:
    """A tracking code as typed (any case, with spaces or dashes), or None if it cannot be
    one. Look-alike characters are read as what they look like."""
    cleaned = re.sub(r"[\s\-_]", "", text[:40]).upper().translate(str.maketrans("OIL", "011"))
    return cleaned if CODE_RE.match(cleaned) else None


# ---------------------------------------------------------------- starting an application


def _groups(items: Sequence[ServiceItemDetail]) -> dict[str, list[ServiceItemDetail]]:
    groups: dict[str, list[ServiceItemDetail]] = {}
    for item in items:
        groups.setdefault(item.department, []).append(item)
    return groups


def _items_asking(guide: Guide, code: str) -> list[str]:
    return [item.code for item in guide.items if any(m.code == code for m in item.materials)]


def _entry_row(
    application_id: int,
    entry: ChecklistEntry,
    items: list[str],
    position: int,
    held: dict[str, int],
) -> MaterialEntry:
    material = entry.material
    provision = Provision.NONE
    licence = None
    if entry.mark is Mark.HELD:
        provision, licence = Provision.LICENCE, held.get(material.licence_type)
    elif entry.mark is Mark.ORIGINAL:
        provision = Provision.ORIGINAL
    return MaterialEntry(
        application=application_id,
        code=material.code,
        items=items,
        position=position,
        name_zh=material.name_zh,
        name_en=material.name_en,
        kind=material.kind,
        licence_type=material.licence_type,
        tolerable=entry.tolerable,
        pledgeable=entry.pledge_allowed,
        deferrable=entry.later_within_days is not None,
        later_days=entry.later_within_days or 0,
        provision=provision,
        licence=licence,
    )


async def start(
    account: Account,
    guide: Guide,
    answers: Answers,
    held: dict[str, int],
    *,
    on: date | None = None,
) -> Application:
    """A new draft for ``guide``'s item or bundle: one case per department, one material
    entry per checklist line (shared bundle materials once). ``held`` maps the licence types
    the applicant's library holds (and may be used: the data-use authorisation is signed) to
    a licence id."""
    on = on or today()
    sheet = checklist(guide, answers, frozenset(held))
    keep_days = max([DRAFT_KEEP_DAYS, *(i.acceptance.deferral_max_days for i in guide.items)])
    title = guide.bundle or guide.items[0]
    departments = {
        row["code"]: row["id"]
        for row in await Department.select(Department.id, Department.code).where(
            Department.code.is_in([item.department for item in guide.items])
        )
    }
    async with write_transaction("applications"):
        application = Application(
            code=await _unused_code(on.year),
            applicant=account.id,
            item_code="" if guide.bundle else guide.items[0].code,
            bundle_code=guide.bundle.code if guide.bundle else "",
            title_zh=title.name_zh,
            title_en=title.name_en,
            answers={key: sorted(values) for key, values in answers.items()},
            state=State.DRAFT,
            keep_until=on + timedelta(days=keep_days),
        )
        await application.save()
        for department, items in _groups(guide.items).items():
            await Case(
                application=application.id,
                department=departments[department],
                items=[item.code for item in items],
                title_zh="、".join(item.name_zh for item in items)[:150],
                title_en="; ".join(item.name_en for item in items)[:250],
                state=State.DRAFT,
                approval_levels=max(item.approval_levels for item in items),
                promised_days=max(item.promised_days for item in items),
                legal_days=max(item.legal_days for item in items),
            ).save()
        rows = [
            _entry_row(
                int(application.id), entry, _items_asking(guide, entry.material.code), n, held
            )
            for n, entry in enumerate(sheet.shared)
        ]
        for section in sheet.sections:
            rows.extend(
                _entry_row(int(application.id), entry, [section.item.code], len(rows), held)
                for entry in section.entries
            )
        if rows:
            await MaterialEntry.insert(*rows)
        await audit.append(
            subject_type="application",
            subject_id=application.id,
            actor_id=int(account.id),
            action="application_create",
            to_state=State.DRAFT,
            payload={"code": application.code, "item": guide.code},
        )
    log.info("application_create_success", application_id=application.id)
    return application


async def _unused_code(year: int) -> str:
    while True:
        code = new_code(year)
        if not await Application.exists().where(Application.code == code):
            return code


# ---------------------------------------------------------------- reading


async def application_of(account_id: int, application_id: int) -> Application | None:
    """The applicant's own application; anyone else's is not found."""
    if not 0 < application_id <= MAX_ID:
        return None
    return (
        await Application.objects()
        .where(Application.id == application_id, Application.applicant == account_id)
        .output(load_json=True)
        .first()
    )


async def application_by_code(code: str) -> Application | None:
    return (
        await Application.objects().where(Application.code == code).output(load_json=True).first()
    )


async def cases_of(application_id: int) -> list[Case]:
    return (
        await Case.objects()
        .where(Case.application == application_id)
        .order_by(Case.id)
        .output(load_json=True)
    )


async def entries_of(application_id: int) -> list[MaterialEntry]:
    return (
        await MaterialEntry.objects()
        .where(MaterialEntry.application == application_id)
        .order_by(MaterialEntry.position)
        .output(load_json=True)
    )


async def files_of(application_id: int) -> dict[int, list[dict[str, Any]]]:
    """Files per material entry id, in upload order, with their check results."""
    rows = (
        await AttachedFile.select(
            AttachedFile.entry,
            AttachedFile.file.id.as_alias("file_id"),
            AttachedFile.file.original_name.as_alias("name"),
            AttachedFile.file.content_type.as_alias("content_type"),
            AttachedFile.file.size.as_alias("size"),
            AttachedFile.file.check_status.as_alias("check_status"),
            AttachedFile.file.check_result.as_alias("check_result"),
        )
        .where(AttachedFile.application == application_id)
        .order_by(AttachedFile.position)
        .order_by(AttachedFile.id)
        .output(load_json=True)
    )
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(int(row["entry"]), []).append(row)
    return grouped


async def case_for_officer(officer: Account, case_id: int) -> Case | None:
    """A case of the officer's own department; any other is not found."""
    if officer.department is None or not 0 < case_id <= MAX_ID:
        return None
    return (
        await Case.objects()
        .where(Case.id == case_id, Case.department == officer.department)
        .output(load_json=True)
        .first()
    )


async def officer_may_read_file(account: Any, stored: StoredFile) -> bool:
    """An officer may fetch a file attached to an application with a case of their
    department, once it is submitted (a draft is the applicant's alone)."""
    if getattr(account, "role", None) != "officer" or account.department is None:
        return False
    application_ids = [
        row["application"]
        for row in await AttachedFile.select(AttachedFile.application).where(
            AttachedFile.file == stored.id
        )
    ]
    if not application_ids:
        return False
    return await Case.exists().where(
        Case.application.is_in(application_ids),
        Case.department == account.department,
        Case.state != State.DRAFT,
    )


# ---------------------------------------------------------------- the applicant's materials


EDITABLE = frozenset({State.DRAFT, State.CORRECTION})


def _editable(application: Application) -> None:
    if application.state not in EDITABLE:
        raise ApplicationError(
            "not_editable",
            _("The materials can be changed only in a draft or when a correction is asked for."),
        )


def provisions_for(entry: MaterialEntry) -> list[Provision]:
    """The ways this material may be provided, given what the item allows."""
    if entry.kind == "licence" and entry.licence is not None:
        choices = [Provision.LICENCE]
    elif entry.kind == "original":
        choices = [Provision.ORIGINAL]
    else:
        choices = [Provision.UPLOAD]
    if entry.kind == "licence" and entry.licence is None:
        choices = [Provision.UPLOAD]
    if entry.pledgeable:
        choices.append(Provision.PLEDGE)
    if entry.deferrable:
        choices.append(Provision.LATER)
    if entry.tolerable:
        choices.append(Provision.MISSING)
    return choices


async def choose(
    account: Account,
    application: Application,
    entry_id: int,
    provision: str,
    *,
    pledge_title: str = "",
    pledge_body: str = "",
    on: date | None = None,
) -> MaterialEntry:
    """Choose how one material is provided. A pledge gets a document to sign (the caller
    sends the applicant to /sign/{pledge_document})."""
    _editable(application)
    on = on or today()
    entry = (
        await MaterialEntry.objects()
        .where(MaterialEntry.id == entry_id, MaterialEntry.application == application.id)
        .first()
    )
    if entry is None:
        raise ApplicationError("no_entry", _("That material is not part of this application."))
    try:
        wanted = Provision(provision)
    except ValueError:
        wanted = None
    if wanted is None or wanted not in provisions_for(entry):
        raise ApplicationError(
            "provision_refused", _("This material cannot be provided that way for this service.")
        )
    values: dict[Any, Any] = {MaterialEntry.provision: wanted, MaterialEntry.due_on: None}
    if wanted is Provision.LATER:
        values[MaterialEntry.due_on] = on + timedelta(days=entry.later_days)
    elif wanted is Provision.MISSING:
        values[MaterialEntry.due_on] = on + timedelta(days=entry.later_days or TOLERATED_DAYS)
    elif wanted is Provision.PLEDGE and entry.pledge_document is None:
        document = await prepare(
            account,
            DocumentKind.PLEDGE,
            pledge_title[:200],
            pledge_body,
            references=[
                {"type": "application", "id": application.code},
                {"type": "material", "id": entry.code},
            ],
        )
        values[MaterialEntry.pledge_document] = document.id
    await MaterialEntry.update(values).where(MaterialEntry.id == entry.id)
    await _touch(application)
    return await MaterialEntry.objects().where(MaterialEntry.id == entry.id).first()  # type: ignore[return-value]


async def _touch(application: Application) -> None:
    await Application.update(
        {
            Application.version: Application.version + 1,
            Application.updated_at: datetime.now(UTC),
        }
    ).where(Application.id == application.id)


async def attach(application: Application, entry_id: int, stored: StoredFile) -> None:
    """Add an uploaded page to a material (which then counts as uploaded)."""
    entry = (
        await MaterialEntry.objects()
        .where(MaterialEntry.id == entry_id, MaterialEntry.application == application.id)
        .first()
    )
    if entry is None:
        raise ApplicationError("no_entry", _("That material is not part of this application."))
    owed = entry.obligation == Obligation.OWED
    if not owed:
        _editable(application)
    if Provision.UPLOAD not in provisions_for(entry) and not owed:
        raise ApplicationError(
            "provision_refused", _("This material cannot be provided that way for this service.")
        )
    count = await AttachedFile.count().where(AttachedFile.entry == entry.id)
    await AttachedFile(
        application=application.id, entry=entry.id, file=stored.id, position=count
    ).save()
    values: dict[Any, Any] = {MaterialEntry.provision: Provision.UPLOAD}
    if owed:
        values[MaterialEntry.obligation] = Obligation.SUPPLIED
    await MaterialEntry.update(values).where(MaterialEntry.id == entry.id)
    if owed:
        await _obligation_supplied(application, entry)
    await _touch(application)


async def _obligation_supplied(application: Application, entry: MaterialEntry) -> None:
    async with write_transaction(f"application:{application.id}"):
        await _recount_owed(int(application.id))
        await audit.append(
            subject_type="application",
            subject_id=application.id,
            actor_id=int(application.applicant),
            action="obligation_supply",
            payload={"material": entry.code},
        )


async def originals_received(
    application_id: int, codes: Sequence[str], actor_id: int | None, *, reference: str
) -> None:
    """Paper originals of these materials arrived at the service centre (by courier,
    ``reference`` its waybill): an owed one is supplied, the cases' counts follow and the
    application's timeline says so. Call inside write_transaction; appends the audit last."""
    entries = await MaterialEntry.objects().where(
        MaterialEntry.application == application_id, MaterialEntry.code.is_in(list(codes) or [""])
    )
    owed = [e for e in entries if e.obligation == Obligation.OWED]
    for entry in owed:
        await MaterialEntry.update({MaterialEntry.obligation: Obligation.SUPPLIED}).where(
            MaterialEntry.id == entry.id
        )
    if owed:
        await _recount_owed(application_id)
    await Application.update({Application.version: Application.version + 1}).where(
        Application.id == application_id
    )
    await audit.append(
        subject_type="application",
        subject_id=application_id,
        actor_id=actor_id,
        action="original_receive",
        payload={
            "materials": sorted(e.code for e in entries),
            "supplied": sorted(e.code for e in owed),
            "shipment": reference,
        },
    )


async def _recount_owed(application_id: int, on: date | None = None) -> None:
    """Each case's count of owed materials (those of its items) and overdue flag on ``on``
    (today unless a job counts for another day)."""
    entries = (
        await MaterialEntry.select(
            MaterialEntry.items, MaterialEntry.obligation, MaterialEntry.due_on
        )
        .where(MaterialEntry.application == application_id)
        .output(load_json=True)
    )
    day = on or today()
    for case in (
        await Case.select(Case.id, Case.items)
        .where(Case.application == application_id)
        .output(load_json=True)
    ):
        mine = [
            e
            for e in entries
            if e["obligation"] == Obligation.OWED and set(e["items"]) & set(case["items"])
        ]
        await Case.update(
            {
                Case.owed: len(mine),
                Case.obligation_overdue: any(e["due_on"] and e["due_on"] < day for e in mine),
            }
        ).where(Case.id == case["id"])


async def detach(application: Application, file_id: int) -> None:
    _editable(application)
    await AttachedFile.delete().where(
        AttachedFile.application == application.id, AttachedFile.file == file_id
    )
    await StoredFile.delete().where(
        StoredFile.id == file_id, StoredFile.owner == application.applicant
    )
    await _touch(application)


async def fill_from_library(
    application: Application, entries: list[MaterialEntry], held: dict[str, int]
) -> None:
    """Materials the licence library can supply now (the authorisation was signed after the
    draft was started, or a licence was issued since) are taken from it (免于提交)."""
    if application.state not in EDITABLE:
        return
    for entry in entries:
        licence = held.get(entry.licence_type)
        if entry.kind != "licence" or entry.licence is not None or licence is None:
            continue
        if entry.provision not in (Provision.NONE, Provision.UPLOAD):
            continue
        if await AttachedFile.exists().where(AttachedFile.entry == entry.id):
            continue
        await MaterialEntry.update(
            {MaterialEntry.licence: licence, MaterialEntry.provision: Provision.LICENCE}
        ).where(MaterialEntry.id == entry.id)
        entry.licence, entry.provision = licence, Provision.LICENCE


@dataclass(frozen=True, slots=True)
class Problem:
    entry_id: int
    message: str


async def problems(
    application: Application,
    entries: list[MaterialEntry],
    counts: dict[int, int] | None = None,
) -> list[Problem]:
    """What still stops the applicant from submitting, per material. ``counts`` (pages per
    entry id) saves a query when the caller has the files already."""
    if counts is None:
        counts = {}
        for row in await AttachedFile.select(AttachedFile.entry).where(
            AttachedFile.application == application.id
        ):
            counts[row["entry"]] = counts.get(row["entry"], 0) + 1
    found = []
    for entry in entries:
        if entry.provision == Provision.NONE:
            found.append(Problem(entry.id, _("Upload it, or choose another way to provide it.")))
        elif entry.provision == Provision.UPLOAD and not counts.get(entry.id):
            found.append(Problem(entry.id, _("Upload at least one page.")))
        elif entry.provision == Provision.PLEDGE and not entry.pledge_signature:
            found.append(Problem(entry.id, _("Sign the pledge with your passkey.")))
    return found


async def pledge_signed(application: Application, document_id: int) -> bool:
    """Record the signature of a pledge document once the signing ceremony finished."""
    signature = await signature_of(document_id)
    if signature is None:
        return False
    await MaterialEntry.update({MaterialEntry.pledge_signature: signature}).where(
        MaterialEntry.application == application.id,
        MaterialEntry.pledge_document == document_id,
    )
    return True


async def sync_pledges(application: Application, entries: list[MaterialEntry]) -> None:
    for entry in entries:
        if (
            entry.pledge_document is not None
            and not entry.pledge_signature
            and await pledge_signed(application, int(entry.pledge_document))
        ):
            entry.pledge_signature = await signature_of(int(entry.pledge_document)) or ""


# ---------------------------------------------------------------- moving cases


@dataclass
class Moved:
    """What a transition did, for the caller: the new state and the notifications to send
    once the transaction has committed."""

    application: Application
    notifications: list[int] = field(default_factory=list)


def _local(text_id: str, locale: str) -> str:
    return translations(locale).gettext(text_id)


def _clock_of(case: Case) -> Clock | None:
    if case.clock is None:
        return None
    raw = case.clock if isinstance(case.clock, str) else msgspec.json.encode(case.clock)
    return msgspec.json.decode(raw, type=Clock)


def _dues(clock: Clock, case: Case) -> dict[Any, Any]:
    """Due dates for a clock: promised and legal budgets share its pauses. Each is None when
    it falls beyond the known calendar (a known promised date is kept when only the later
    legal one is unknown)."""
    values: dict[Any, Any] = {Case.calendar_unknown: False}
    legal = Clock(clock.started_on, max(case.legal_days, 1), clock.pauses)
    for column, counted in ((Case.promised_due, clock), (Case.legal_due, legal)):
        try:
            values[column] = counted.due_date()
        except CalendarUnknown:
            values[column], values[Case.calendar_unknown] = None, True
    return values


async def _move(
    case: Case,
    action: str,
    actor: Account | None,
    role: Actor,
    *,
    version: int | None,
    reason: str = "",
    values: dict[Any, Any] | None = None,
    payload: dict[str, Any] | None = None,
) -> State:
    """The one writer of a case's state. Call inside write_transaction."""
    found = transition(
        action, case.state, role, accepted=case.accepted_on is not None, reason=reason
    )
    expected = case.version if version is None else version
    changes: dict[Any, Any] = {
        Case.state: found.target,
        Case.version: expected + 1,
        Case.updated_at: datetime.now(UTC),
        **(values or {}),
    }
    updated = (
        await Case.update(changes)
        .where(Case.id == case.id, Case.version == expected)
        .returning(Case.id)
    )
    if not updated:
        raise stale()
    await audit.append(
        subject_type="application",
        subject_id=case.application,
        actor_id=None if actor is None else int(actor.id),
        action=f"case_{action}",
        from_state=str(case.state),
        to_state=found.target,
        reason=reason,
        payload={"case": int(case.id), **(payload or {})},
    )
    case.state, case.version = found.target, expected + 1
    return found.target


async def _derive(application_id: int) -> Application:
    states = [
        row["state"]
        for row in await Case.select(Case.state).where(Case.application == application_id)
    ]
    await Application.update(
        {
            Application.state: overall(states),
            Application.version: Application.version + 1,
            Application.updated_at: datetime.now(UTC),
        }
    ).where(Application.id == application_id)
    found = (
        await Application.objects()
        .where(Application.id == application_id)
        .output(load_json=True)
        .first()
    )
    assert found is not None
    return found


async def _tell(application: Application, state: State) -> int | None:
    """An SMS to the applicant about a change they care about, in their language."""
    applicant = await Account.objects().where(Account.id == application.applicant).first()
    if applicant is None:
        return None
    return await notify(
        "application_status",
        applicant.phone,
        {
            "code": display_code(application.code),
            "status": _local(STATE_LABELS[state], applicant.locale),
        },
        locale=applicant.locale,
        user_id=int(applicant.id),
    )


async def submit(
    account: Account,
    application: Application,
    *,
    version: int,
    assurance: int,
    items: Sequence[ServiceItemDetail],
    on: date | None = None,
) -> Moved:
    """Submit a draft (or a correction): every case moves on, one code for all of them."""
    needed = max((item.min_assurance for item in items), default=1)
    if assurance < needed:
        raise ApplicationError(
            "assurance",
            _(
                "This service needs identity assurance level %(level)s; yours is %(mine)s. "
                "Verify your identity from your account page, then come back to this draft.",
                level=needed,
                mine=assurance,
            ),
        )
    entries = await entries_of(int(application.id))
    await sync_pledges(application, entries)
    if await problems(application, entries):
        raise ApplicationError(
            "incomplete", _("Some materials are still missing; they are marked below.")
        )
    on = on or today()
    async with write_transaction(f"application:{application.id}"):
        current = (
            await Application.select(Application.version, Application.state)
            .where(Application.id == application.id)
            .first()
        )
        if current is None or current["version"] != version:
            raise stale()
        moved_any = False
        for case in await cases_of(int(application.id)):
            if case.state == State.DRAFT:
                await _move(case, "submit", account, Actor.APPLICANT, version=None)
                moved_any = True
            elif case.state == State.CORRECTION:
                values: dict[Any, Any] = {}
                clock = _clock_of(case)
                if clock is not None and clock.is_paused:
                    resumed = clock.resume(on)
                    values = {
                        Case.clock: msgspec.json.encode(resumed).decode(),
                        **_dues(resumed, case),
                    }
                await _move(case, "resubmit", account, Actor.APPLICANT, version=None, values=values)
                moved_any = True
        if not moved_any:
            raise ApplicationError("nothing_to_submit", _("There is nothing to submit."))
        if application.submitted_at is None:
            await Application.update({Application.submitted_at: datetime.now(UTC)}).where(
                Application.id == application.id
            )
        updated = await _derive(int(application.id))
        sent = await _tell(updated, State(updated.state))
    log.info("application_submit_success", application_id=application.id)
    return Moved(updated, [sent] if sent else [])


async def withdraw(
    account: Account, application: Application, *, version: int, reason: str
) -> Moved:
    async with write_transaction(f"application:{application.id}"):
        current = (
            await Application.select(Application.version)
            .where(Application.id == application.id)
            .first()
        )
        if current is None or current["version"] != version:
            raise stale()
        moved_any = False
        for case in await cases_of(int(application.id)):
            if case.state in DECIDED or case.state in (State.WITHDRAWN, State.DRAFT):
                continue
            await _move(case, "withdraw", account, Actor.APPLICANT, version=None, reason=reason)
            moved_any = True
        if not moved_any:
            raise ApplicationError(
                "not_withdrawable",
                _("Only an application waiting for a decision can be withdrawn."),
            )
        updated = await _derive(int(application.id))
    return Moved(updated)


async def discard(application: Application, *, reason: str = "") -> None:
    """Delete a draft the applicant no longer wants, or one kept past ``keep_until``
    (``reason`` "draft_expired", by the daily purge): nothing was submitted."""
    if application.state != State.DRAFT:
        raise ApplicationError("not_draft", _("Only a draft can be deleted."))
    file_ids = [
        row["file"]
        for row in await AttachedFile.select(AttachedFile.file).where(
            AttachedFile.application == application.id
        )
    ]
    async with write_transaction(f"application:{application.id}"):
        await Application.delete().where(Application.id == application.id)
        if file_ids:
            await StoredFile.delete().where(StoredFile.id.is_in(file_ids))
        await audit.append(
            subject_type="application",
            subject_id=application.id,
            actor_id=int(application.applicant),
            action="application_discard",
            from_state=State.DRAFT,
            reason=reason,
        )


# ---------------------------------------------------------------- officers


def possible_modes(entries: Iterable[MaterialEntry]) -> list[Mode]:
    """The acceptance modes the materials allow: complete when nothing is owed or pledged,
    otherwise the mode of each way a material was left out."""
    provisions = {entry.provision for entry in entries}
    modes = []
    if not provisions & {Provision.MISSING, Provision.LATER, Provision.PLEDGE}:
        modes.append(Mode.COMPLETE)
    if Provision.MISSING in provisions:
        modes.append(Mode.TOLERATED)
    if Provision.PLEDGE in provisions:
        modes.append(Mode.PLEDGE)
    if Provision.LATER in provisions:
        modes.append(Mode.DEFERRED)
    return modes


async def act(
    officer: Account,
    case_id: int,
    action: str,
    *,
    version: int,
    reason: str = "",
    mode: str = "",
    materials: Sequence[str] = (),
    on: date | None = None,
) -> Moved:
    """An officer's decision on a case of their department. Refused with a clear message
    when not allowed; a stale ``version`` (another officer acted first) changes nothing."""
    on = on or today()
    reason = reason.strip()
    notifications: list[int] = []
    async with write_transaction(f"case:{case_id}"):
        case = await case_for_officer(officer, case_id)
        if case is None:
            raise ApplicationError("no_case", _("That case is not in your department's inbox."))
        if case.version != version:
            raise stale()
        application = (
            await Application.objects()
            .where(Application.id == case.application)
            .output(load_json=True)
            .first()
        )
        assert application is not None
        values: dict[Any, Any] = {}
        payload: dict[str, Any] = {}
        if action == "approve_level":
            action = "approve"  # which level an approval passes is the service's to decide
        if action == "approve" and case.approvals + 1 < case.approval_levels:
            action = "approve_level"
        if action in ("approve", "approve_level"):
            if case.approvals >= 1 and await _approved_before(case, officer):
                raise ApplicationError(
                    "same_officer",
                    _("Each review level needs a different officer; you approved a level already."),
                )
            values[Case.approvals] = case.approvals + 1
            payload["level"] = case.approvals + 1
        if action == "accept":
            entries = await entries_of(int(application.id))
            try:
                chosen = Mode(mode)
            except ValueError:
                chosen = None
            allowed = possible_modes(entries)
            if chosen is None or chosen not in allowed:
                raise ApplicationError(
                    "mode_refused",
                    _(
                        "The materials allow these acceptance modes only: %(modes)s.",
                        modes="、".join(_(MODE_LABELS[m]) for m in allowed),
                    ),
                )
            clock = Clock(on, max(case.promised_days, 1))
            values.update(
                {
                    Case.mode: chosen,
                    Case.accepted_on: on,
                    Case.clock: msgspec.json.encode(clock).decode(),
                    **_dues(clock, case),
                }
            )
            payload["mode"] = chosen.value
        if action == "return":
            payload["materials"] = [str(m)[:60] for m in materials][:50]
            values[Case.approvals] = 0  # review levels start again on corrected materials
            running = _clock_of(case)
            if running is not None and not running.is_paused:
                paused = running.pause(on)
                values.update(
                    {
                        Case.clock: msgspec.json.encode(paused).decode(),
                        Case.promised_due: None,
                        Case.legal_due: None,
                    }
                )
        if action in ("approve", "reject"):
            values.update({Case.decided_at: datetime.now(UTC), Case.decision_reason: reason})
        target = await _move(
            case,
            action,
            officer,
            Actor.OFFICER,
            version=version,
            reason=reason,
            values=values,
            payload=payload,
        )
        if action == "accept":
            await _owe(application, case, on)
        if target is State.APPROVED:
            licence_id = await _issue(application, case, on)
            await _move(
                case, "issue", None, Actor.SYSTEM, version=None, payload={"licence": licence_id}
            )
            target = State.ISSUED
        updated = await _derive(int(application.id))
        if action in ("return", "accept", "approve", "reject"):
            sent = await _tell(updated, target)
            if sent:
                notifications.append(sent)
    log.info("case_act_success", case_id=case_id, action=action, officer_id=officer.id)
    return Moved(updated, notifications)


async def _approved_before(case: Case, officer: Account) -> bool:
    """Whether the officer passed a review level of this case since it was last returned for
    correction (the levels start again on corrected materials)."""
    rows = (
        await AuditEntry.select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.payload)
        .where(
            AuditEntry.subject_type == "application",
            AuditEntry.subject_id == str(case.application),
            AuditEntry.action.is_in(["case_approve_level", "case_return"]),
        )
        .order_by(AuditEntry.seq)
        .output(load_json=True)
    )
    approved = False
    for row in rows:
        if (row["payload"] or {}).get("case") != case.id:
            continue
        if row["action"] == "case_return":
            approved = False
        elif row["actor_id"] == officer.id:
            approved = True
    return approved


MODE_LABELS = {
    Mode.COMPLETE: N_("Complete materials"),
    Mode.TOLERATED: N_("Tolerated missing material"),
    Mode.PLEDGE: N_("Pledge-based"),
    Mode.DEFERRED: N_("Deferred materials"),
}


async def _owe(application: Application, case: Case, on: date) -> None:
    """At acceptance, materials left for later or missing become obligations with due
    dates counted from the acceptance."""
    for entry in await entries_of(int(application.id)):
        if not set(entry.items) & set(case.items):
            continue
        if (
            entry.provision in (Provision.LATER, Provision.MISSING)
            and entry.obligation == Obligation.NONE
        ):
            days = (
                entry.later_days
                if entry.provision == Provision.LATER
                else (entry.later_days or TOLERATED_DAYS)
            )
            await MaterialEntry.update(
                {
                    MaterialEntry.obligation: Obligation.OWED,
                    MaterialEntry.due_on: on + timedelta(days=days),
                }
            ).where(MaterialEntry.id == entry.id)
    await _recount_owed(int(application.id), on)


LICENCE_PREFIX = {"food_business_licence": "JY", "business_licence": "91", "residence_permit": "JZ"}


async def _issue(application: Application, case: Case, on: date) -> int:
    """Issue the licence of an approved case into the applicant's licence library (to the
    company they represent, if exactly one; else to them). Runs in the approval's
    transaction: the case can be approved once, so a licence is issued once."""
    from app.catalogue.services import read_item

    applicant = await Account.objects().where(Account.id == application.applicant).first()
    assert applicant is not None
    department = (
        await Department.select(Department.name_zh).where(Department.id == case.department).first()
    )
    issued = 0
    for code in case.items:
        item = await read_item(code)
        type_code = item.result_licence if item and item.result_licence else "approval_decision"
        licence_type = (
            await LicenceType.select(LicenceType.id, LicenceType.holder_kind)
            .where(LicenceType.code == type_code)
            .first()
        )
        if licence_type is None:
            continue
        companies = [
            row["company"]
            for row in await Representative.select(Representative.company).where(
                Representative.account == applicant.id
            )
        ]
        company = (
            companies[0]
            if licence_type["holder_kind"] == "company" and len(companies) == 1
            else None
        )
        number = LICENCE_PREFIX.get(type_code, "SP") + f"{on.year}{secrets.randbelow(10**10):010d}"
        licence = Licence(
            licence_type=licence_type["id"],
            holder_account=None if company else applicant.id,
            holder_company=company,
            holder_name=applicant.name or display_code(application.code),
            number_encrypted=seal_number(number),
            issuer=department["name_zh"] if department else "",
            valid_from=on,
            valid_until=on.replace(year=on.year + 5)
            if not (on.month == 2 and on.day == 29)
            else date(on.year + 5, 2, 28),
            data={
                "application": display_code(application.code),
                "item": item.name_zh if item else code,
            },
        )
        await licence.save()
        issued = int(licence.id)
    return issued


# ---------------------------------------------------------------- lists and timelines


@dataclass(frozen=True, slots=True)
class Event:
    """One step of an application's timeline, from its audit trail."""

    at: datetime
    action: str  # e.g. case_accept
    label: str  # msgid; translate with _() where shown
    from_state: str
    to_state: str
    reason: str  # the actor's words: shown to the applicant and officers, never publicly
    case_id: int | None
    by_officer: bool
    materials: tuple[str, ...] = ()  # codes an officer asked to correct (a return)


EVENT_LABELS = {
    "application_create": N_("Draft started"),
    "obligation_supply": N_("Owed material supplied"),
    "obligation_extend": N_("More time granted for an owed material"),
    "obligation_enforce": N_("Officer acted on the pledge"),
    "obligation_overdue": N_("An owed material is overdue"),
    "original_receive": N_("Originals received at the service centre"),
    **{f"case_{action}": label for action, label in ACTION_LABELS.items()},
}


async def timeline(application_id: int, applicant: int | None = None) -> list[Event]:
    """The application's events in order (the audit trail is its single source).
    ``applicant`` (the owner's account id), when the caller knows it, saves a query."""
    rows = (
        await AuditEntry.select(
            AuditEntry.at,
            AuditEntry.action,
            AuditEntry.from_state,
            AuditEntry.to_state,
            AuditEntry.reason,
            AuditEntry.payload,
            AuditEntry.actor_id,
        )
        .where(
            AuditEntry.subject_type == "application",
            AuditEntry.subject_id == str(application_id),
        )
        .order_by(AuditEntry.seq)
        .output(load_json=True)
    )
    owner = applicant
    if owner is None:
        row = (
            await Application.select(Application.applicant)
            .where(Application.id == application_id)
            .first()
        )
        owner = row["applicant"] if row else None
    return [
        Event(
            at=row["at"],
            action=row["action"],
            label=EVENT_LABELS.get(row["action"], row["action"]),
            from_state=row["from_state"],
            to_state=row["to_state"],
            reason=row["reason"],
            case_id=(row["payload"] or {}).get("case"),
            by_officer=row["actor_id"] is not None and row["actor_id"] != owner,
            materials=tuple((row["payload"] or {}).get("materials", ())),
        )
        for row in rows
    ]


async def applications_of(
    account_id: int, *, before: int | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """A citizen's applications, newest first, by keyset (``before`` = the last id seen)."""
    query = Application.select(
        Application.id,
        Application.code,
        Application.title_zh,
        Application.title_en,
        Application.state,
        Application.created_at,
        Application.updated_at,
        Application.keep_until,
    ).where(Application.applicant == account_id)
    if before is not None:
        query = query.where(Application.id < before)
    return await query.order_by(Application.id, ascending=False).limit(limit)


files.READERS.append(officer_may_read_file)
