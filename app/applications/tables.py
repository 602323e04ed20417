"""Tables of applications (办件): the application a citizen files, its cases (one per
department), its materials with their files, pledges and obligations, feedback and complaints,
and the append-only audit trail every transition is written to (docs/applications.md).

States and transitions are declared in app/applications/machine.py; every write to a state goes
through app/applications/service.py.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NoReturn

from piccolo.columns import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    OnDelete,
    Serial,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import Account
from app.catalogue.tables import Department
from app.files.tables import StoredFile
from app.licences.tables import Licence


class AppendOnly(Exception):
    """Audit entries are evidence: never changed, never deleted."""


class AuditEntry(Table, tablename="applications_audit_entry"):
    """One recorded event in the single hash chain of the audit trail (docs/applications.md).

    ``hash`` is the SHA-256 of the entry's canonical form, which includes ``prev_hash``, the
    hash of the entry before it; ``seq`` numbers the chain without gaps from 1.
    """

    id = Serial(primary_key=True)

    seq = Integer(unique=True, help_text="Position in the chain, 1, 2, 3, … without gaps.")
    subject_type = Varchar(length=40, help_text='What the entry is about, e.g. "application".')
    subject_id = Varchar(length=64, index=True, help_text="Its id, as text.")
    # Not a foreign key: the trail must outlive an account and never block its removal.
    actor_id = Integer(
        null=True, default=None, help_text="Account that acted; NULL for the system."
    )
    action = Varchar(length=80, help_text="<thing>_<action>, e.g. application_accept.")
    from_state = Varchar(length=40, default="")
    to_state = Varchar(length=40, default="")
    reason = Text(default="", help_text="Why, in the actor's words or the rule's name.")
    at = Timestamptz(help_text="When, UTC, to the microsecond.")
    payload = JSON(default={}, help_text="Further facts, canonical JSON (no floats).")
    prev_hash = Varchar(length=64, help_text="hash of the previous entry; 64 zeros for the first.")
    hash = Varchar(length=64, unique=True, help_text="SHA-256 of the canonical entry, hex.")

    @classmethod
    def update(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("audit entries are never changed")

    @classmethod
    def delete(cls, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnly("audit entries are never deleted")


class State(StrEnum):
    """Where a case stands; an application's state is derived from its cases'."""

    DRAFT = "draft"  # 草稿
    SUBMITTED = "submitted"  # 已提交
    PRE_REVIEW = "pre_review"  # 预审中
    CORRECTION = "correction"  # 待补正
    RESUBMITTED = "resubmitted"  # 已补正
    ACCEPTED = "accepted"  # 已受理
    IN_REVIEW = "in_review"  # 审查中
    APPROVED = "approved"  # 准予
    REJECTED = "rejected"  # 不予
    WITHDRAWN = "withdrawn"  # 已撤回
    ISSUED = "issued"  # 已发证


class Mode(StrEnum):
    """How a case was accepted (受理方式)."""

    COMPLETE = "complete"  # 材料齐全
    TOLERATED = "tolerated"  # 容缺受理
    PLEDGE = "pledge"  # 告知承诺
    DEFERRED = "deferred"  # 延期补交


class Provision(StrEnum):
    """How the applicant provides one material."""

    NONE = ""  # not decided yet
    UPLOAD = "upload"  # files uploaded
    LICENCE = "licence"  # taken from the licence library (免于提交)
    ORIGINAL = "original"  # paper original at the counter or by courier
    PLEDGE = "pledge"  # replaced by a signed pledge (告知承诺)
    LATER = "later"  # follows within the item's deferral limit (延期)
    MISSING = "missing"  # missing at acceptance, tolerated (容缺)


class Obligation(StrEnum):
    NONE = ""
    OWED = "owed"  # due by due_on
    SUPPLIED = "supplied"
    ENFORCED = "enforced"  # the officer acted on the pledge or the missing material


class Application(Table, tablename="applications_application"):
    """What a citizen applies for: one item, or a bundle (一件事) of several, under one code."""

    id = Serial(primary_key=True)

    code = Varchar(length=12, unique=True, help_text="Tracking code (一码通): year + 8 characters.")
    applicant = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    item_code = Varchar(
        length=60, default="", help_text="The item applied for; empty for a bundle."
    )
    bundle_code = Varchar(length=60, default="", help_text="The bundle applied for, if one.")
    title_zh = Varchar(length=150)
    title_en = Varchar(length=250)
    answers = JSON(default={}, help_text="The guide's answers, {question key: [option, …]}.")
    state = Varchar(length=20, choices=State, default=State.DRAFT, index=True)
    version = Integer(default=0, help_text="Raised by every change; stale forms are refused.")
    keep_until = Date(help_text="A draft is kept (resumable) until this day.")
    created_at = Timestamptz(default=TimestamptzNow())
    submitted_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class Case(Table, tablename="applications_case"):
    """The part of an application one department decides (办件), processed in parallel with
    the application's other cases. Its inbox index is (department, state, id)."""

    id = Serial(primary_key=True)

    application = ForeignKey(Application, on_delete=OnDelete.cascade, index=True)
    department = ForeignKey(Department, on_delete=OnDelete.restrict, index=True)
    items = JSON(default=[], help_text="Codes of the items this department decides.")
    title_zh = Varchar(length=150)
    title_en = Varchar(length=250)
    state = Varchar(length=20, choices=State, default=State.DRAFT)
    mode = Varchar(length=12, default="", help_text="Acceptance mode once accepted.")
    version = Integer(default=0, help_text="Raised by every transition; a stale action loses.")
    approval_levels = SmallInt(default=1)
    approvals = SmallInt(default=0, help_text="Approval levels passed so far.")
    promised_days = SmallInt(default=5)
    legal_days = SmallInt(default=20)
    accepted_on = Date(null=True, default=None)
    clock = JSON(
        null=True, default=None, help_text="Deadline clock (workdays.Clock) once accepted."
    )
    promised_due = Date(null=True, default=None, help_text="NULL while paused or unknown.")
    legal_due = Date(null=True, default=None)
    calendar_unknown = Boolean(default=False, help_text="Due dates beyond the known calendar.")
    owed = SmallInt(default=0, help_text="Obligations still owed by the applicant.")
    obligation_overdue = Boolean(default=False, help_text="An owed material is past due.")
    due_soon = Boolean(default=False, help_text="Promised due date within 2 working days.")
    overdue = Boolean(default=False, help_text="Promised due date passed without a decision.")
    decision_reason = Text(default="")
    decided_at = Timestamptz(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class MaterialEntry(Table, tablename="applications_material"):
    """One material of an application, handed in once even when several items ask for it."""

    id = Serial(primary_key=True)

    application = ForeignKey(Application, on_delete=OnDelete.cascade, index=True)
    code = Varchar(length=60)
    items = JSON(default=[], help_text="Codes of the items asking for it.")
    position = Integer(default=0)
    name_zh = Varchar(length=200)
    name_en = Varchar(length=300)
    kind = Varchar(length=10, help_text="upload, original or licence (catalogue MaterialKind).")
    licence_type = Varchar(length=40, default="")
    tolerable = Boolean(default=False)
    pledgeable = Boolean(default=False)
    deferrable = Boolean(default=False)
    later_days = SmallInt(default=0, help_text="Deferral limit in days, 0 = none.")
    provision = Varchar(length=10, choices=Provision, default=Provision.NONE)
    licence = ForeignKey(Licence, null=True, default=None, on_delete=OnDelete.set_null)
    pledge_document = Integer(
        null=True, default=None, help_text="signing_document id of the pledge to sign."
    )
    pledge_signature = Varchar(length=32, default="", help_text="Signature id once signed.")
    obligation = Varchar(length=10, choices=Obligation, default=Obligation.NONE)
    due_on = Date(null=True, default=None, help_text="When an owed material is due.")
    reminded_on = Date(null=True, default=None)


class AttachedFile(Table, tablename="applications_attached_file"):
    """A page (photo or PDF) of a material."""

    id = Serial(primary_key=True)

    application = ForeignKey(Application, on_delete=OnDelete.cascade, index=True)
    entry = ForeignKey(MaterialEntry, on_delete=OnDelete.cascade, index=True)
    file = ForeignKey(StoredFile, on_delete=OnDelete.cascade, unique=True)
    position = Integer(default=0)


class Rating(Table, tablename="applications_rating"):
    """好差评: the applicant's rating of one decided case."""

    id = Serial(primary_key=True)

    case = ForeignKey(Case, on_delete=OnDelete.cascade, unique=True)
    department = ForeignKey(Department, on_delete=OnDelete.restrict, index=True)
    score = SmallInt(help_text="1 (very poor) to 5 (very good).")
    reasons = JSON(default=[], help_text="Codes of the reasons chosen.")
    comment = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class ComplaintState(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"


class Complaint(Table, tablename="applications_complaint"):
    """找茬: a complaint or suggestion, routed to a department and answered within 5 working
    days."""

    id = Serial(primary_key=True)

    account = ForeignKey(Account, on_delete=OnDelete.cascade, index=True)
    department = ForeignKey(Department, on_delete=OnDelete.restrict, index=True)
    application = ForeignKey(
        Application, null=True, default=None, on_delete=OnDelete.set_null, index=True
    )
    category = Varchar(length=20)
    body = Text()
    state = Varchar(length=10, choices=ComplaintState, default=ComplaintState.OPEN)
    due_on = Date(null=True, default=None, help_text="Reply due; NULL if beyond the calendar.")
    reply = Text(default="")
    replied_by = Integer(null=True, default=None)
    replied_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
